"""The metrics endpoint: /metrics, /healthz, basic auth, TLS, loopback default."""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request

import bcrypt
import pytest
from prometheus_client import CollectorRegistry

import lpar_eventd
from lpar_eventd.httpd import MetricsServer, load_basic_auth
from lpar_eventd.metrics import Metrics
from lpar_eventd.simulator.tls import make_test_pki


def get(url: str, auth: tuple[str, str] | None = None, context=None):
    req = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def health():
    state = {"ok": True, "reason": "ok"}
    return state


def serve(health, **kw) -> MetricsServer:
    metrics = Metrics(CollectorRegistry())
    metrics.received["modify"].inc(3)
    return MetricsServer(metrics.registry, lambda: (health["ok"], health["reason"]),
                         port=0, **kw).start()


def test_metrics_and_health_on_loopback_by_default(health):
    server = serve(health)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        status, body = get(server.url + "/metrics")
        assert status == 200
        assert 'lpar_eventd_events_received_total{type="modify"} 3.0' in body
        assert get(server.url + "/healthz") == (200, "ok\n")
        health.update(ok=False, reason="NovaLink feed not read for 130 s (> 120 s)")
        assert get(server.url + "/healthz") == (503, "NovaLink feed not read for 130 s "
                                                     "(> 120 s)\n")
        assert get(server.url + "/nope")[0] == 404
    finally:
        server.stop()


def test_the_root_page_links_metrics_and_healthz_and_names_the_version(health):
    server = serve(health)
    try:
        status, body = get(server.url + "/")
        assert status == 200
        assert '<a href="metrics">' in body and '<a href="healthz">' in body
        assert lpar_eventd.__version__ in body
        assert "lpar_eventd_events_received_total" not in body
    finally:
        server.stop()


def test_build_info_carries_the_version(health):
    server = serve(health)
    try:
        body = get(server.url + "/metrics")[1]
        assert f'lpar_eventd_build_info{{version="{lpar_eventd.__version__}"}} 1.0' in body
    finally:
        server.stop()


def test_basic_auth_refuses_a_wrong_password(health, tmp_path):
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"# scrapers\nprom:{hashed}\n")
    server = serve(health, basic_auth=load_basic_auth(str(tmp_path / "htpasswd")))
    try:
        assert get(server.url + "/metrics")[0] == 401
        assert get(server.url + "/metrics", ("prom", "wrong"))[0] == 401
        assert get(server.url + "/metrics", ("eve", "right"))[0] == 401
        assert get(server.url + "/metrics", ("prom", "right"))[0] == 200
        assert get(server.url + "/healthz")[0] == 200  # probes need no secret
    finally:
        server.stop()


def test_tls_with_a_ca_the_client_trusts(health, tmp_path):
    pki = make_test_pki(tmp_path)
    server = serve(health, cert_file=str(pki.cert), key_file=str(pki.key))
    try:
        assert server.url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(pki.ca))
        assert get(server.url + "/metrics", context=trusted)[0] == 200
        with pytest.raises(urllib.error.URLError):
            get(server.url + "/metrics", context=ssl.create_default_context())
    finally:
        server.stop()
