"""Security: no secret in logs, metrics or /healthz; TLS verified by default;
the metrics endpoint on loopback with TLS and basic auth; the simulator's
control API loopback only; the security linters clean.
"""

from __future__ import annotations

import base64
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bcrypt
import pytest

from lpar_eventd.simulator.tls import make_test_pki

from .conftest import USER
from .daemon_proc import Daemon

ROOT = Path(__file__).resolve().parents[2]
LPARS = [f"5EC0{i:04X}-0000-4000-8000-000000000000" for i in range(20)]


def _get(url: str, auth: tuple[str, str] | None = None, cafile: Path | None = None,
         timeout: float = 5.0) -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback test URLs
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _metric(text: str, name: str) -> float | None:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _users_file(path: Path, user: str, password: str) -> Path:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"# test users\n{user}:{hashed}\n")
    return path


# -- secrets ------------------------------------------------------------------------
@pytest.mark.slow
def test_no_secret_in_logs_metrics_or_health(sim_config, tmp_path, nova_db_path) -> None:
    from lpar_eventd.simulator import Simulator

    nl_password = "NLPW-" + secrets.token_hex(8)
    metrics_password = "MPW-" + secrets.token_hex(8)
    rabbit_password = "RBPW-" + secrets.token_hex(8)
    sim_config.users = {USER: nl_password}
    sim = Simulator(sim_config).start()
    tokens: list[str] = []
    auth = sim._core.auth
    issue = auth._new_session

    def recording(user: str) -> str:  # every session token the simulator hands out
        token = issue(user)
        tokens.append(token)
        return token

    auth._new_session = recording
    for uuid in LPARS:
        sim.add_lpar(uuid, "not activated")
    users = _users_file(tmp_path / "users", "prom", metrics_password)
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path, extra=f"""
[DEFAULT]
debug = true
[novalink]
password = {nl_password}
[nova]
transport_url = rabbit://nova:{rabbit_password}@127.0.0.1:1/
[sink]
transport_url = rabbit://nova:{rabbit_password}@127.0.0.1:1/
[metrics]
basic_auth_file = {users}
""")
    scrapes: list[str] = []
    try:
        daemon.start()
        _wait(lambda: _safe_get(daemon.url + "/healthz") == 200, 30, "healthy")
        # a storm
        for state in ("running", "not activated", "running"):
            for uuid in LPARS:
                sim.set_state(uuid, state)
        scrapes.append(_get(daemon.url + "/metrics", ("prom", metrics_password))[1])
        # a wrong-password period: the token expires and the re-logon is refused
        sim.call(lambda: auth.users.update({USER: "changed-" + secrets.token_hex(4)}))
        sim.expire_tokens()
        _wait(lambda: (_metric(_get(daemon.url + "/metrics", ("prom", metrics_password))[1],
                               "lpar_eventd_source_errors_total") or 0) >= 2,
              30, "logon failures")
        scrapes.append(_get(daemon.url + "/healthz")[1])
        sim.call(lambda: auth.users.update({USER: nl_password}))
        _wait(lambda: len(tokens) >= 2 and _get(daemon.url + "/healthz")[0] == 200,
              60, "reconnected after the password came back")
        # a plain token expiry: pypowervm re-logs on by itself
        before = len(tokens)
        sim.expire_tokens()
        for uuid in LPARS[:5]:
            sim.set_state(uuid, "not activated")
        _wait(lambda: len(tokens) > before, 30, "re-logon after token expiry")
        scrapes.append(_get(daemon.url + "/metrics", ("prom", metrics_password))[1])
        scrapes.append(_get(daemon.url + "/healthz")[1])
        wrong = _get(daemon.url + "/metrics", ("prom", metrics_password + "x"))
        scrapes.append(wrong[1])
        assert wrong[0] == 401
    finally:
        daemon.stop()
        sim.stop()
    log = daemon.log_text()
    stderr = daemon.proc.stderr.read().decode() if daemon.proc.stderr else ""
    assert "DEBUG" in log and "HTTP 401" in log, "the run did not go through its phases"
    assert len(tokens) >= 3
    haystacks = {"log": log, "stderr": stderr, **{f"scrape{i}": s for i, s in
                                                   enumerate(scrapes)}}
    found = [(where, name) for where, text in haystacks.items()
             for name, secret in [("novalink password", nl_password),
                                  ("metrics password", metrics_password),
                                  ("rabbit password", rabbit_password),
                                  *[("session token", t) for t in tokens],
                                  *[("session token (prefix)", t[:24]) for t in tokens]]
             if secret in text]
    assert not found, found


# -- TLS to NovaLink ------------------------------------------------------------------
def _tls_daemon(tmp_path: Path, sim: Any, nova_db_path: Path, extra: str) -> Daemon:
    return Daemon(tmp_path, sim.https_port, nova_db_path, extra="[novalink]\n"
                  "protocol = https\nhost = 127.0.0.1\n" + extra)


@pytest.mark.slow
def test_tls_with_our_ca_connects(simulator, tls_files, tmp_path, nova_db_path) -> None:
    daemon = _tls_daemon(tmp_path, simulator, nova_db_path, f"ca_file = {tls_files.ca}\n")
    try:
        daemon.start().healthy(30)
        assert daemon.metrics()["lpar_eventd_source_up"] == 1
    finally:
        daemon.stop()
    assert "NOT verified" not in daemon.log_text()


@pytest.mark.slow
def test_tls_with_a_wrong_ca_is_refused(simulator, tmp_path, nova_db_path) -> None:
    other = make_test_pki(tmp_path / "other-pki")
    daemon = _tls_daemon(tmp_path, simulator, nova_db_path, f"ca_file = {other.ca}\n")
    try:
        daemon.start()
        _wait(lambda: _safe_metrics(daemon).get("lpar_eventd_source_errors_total", 0) >= 2,
              30, "refused TLS connections")
        assert _safe_metrics(daemon)["lpar_eventd_source_up"] == 0
        assert daemon.health() == 503
    finally:
        daemon.stop()
    assert simulator.counters().get("logons", {}) == {}
    assert "SSL" in daemon.log_text() or "certificate" in daemon.log_text()


@pytest.mark.slow
def test_tls_insecure_connects_and_warns(simulator, tmp_path, nova_db_path) -> None:
    daemon = _tls_daemon(tmp_path, simulator, nova_db_path, "insecure = true\n")
    try:
        daemon.start().healthy(30)
    finally:
        daemon.stop()
    assert "insecure = true: NovaLink's TLS certificate is NOT verified" in daemon.log_text()


def _safe_metrics(daemon: Daemon) -> dict[str, float]:
    try:
        return daemon.metrics()
    except OSError:
        return {}


# -- the metrics endpoint -------------------------------------------------------------
@pytest.mark.slow
def test_metrics_endpoint_loopback_tls_and_basic_auth(simulator, tls_files, tmp_path,
                                                      nova_db_path) -> None:
    import psutil

    users = _users_file(tmp_path / "users", "prom", "right-password")
    daemon = Daemon(tmp_path, simulator.http_port, nova_db_path, extra=f"""
cert_file = {tls_files.cert}
key_file = {tls_files.key}
basic_auth_file = {users}
""")
    # Bound where told (the default, every address, is for remote Prometheus;
    # tests stay on loopback): nothing else listens on the port.
    assert "bind_host = 127.0.0.1" in daemon.conf.read_text()
    url = f"https://127.0.0.1:{daemon.metrics_port}"
    try:
        daemon.start()
        _wait(lambda: _safe_get(url + "/healthz", cafile=tls_files.ca) == 200, 30, "TLS up")
        listening = [c.laddr for c in psutil.Process(daemon.proc.pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == daemon.metrics_port]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        assert _get(url + "/metrics", ("prom", "right-password"), tls_files.ca)[0] == 200
        assert _get(url + "/metrics", ("prom", "wrong-password"), tls_files.ca)[0] == 401
        assert _get(url + "/metrics", ("nobody", "right-password"), tls_files.ca)[0] == 401
        assert _get(url + "/metrics", None, tls_files.ca)[0] == 401
        with pytest.raises(OSError):  # plain HTTP on the TLS port: refused or reset
            urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port}/metrics",  # noqa: S310
                                   timeout=3).read()
    finally:
        daemon.stop()


def _safe_get(url: str, **kw: Any) -> int:
    try:
        return _get(url, **kw)[0]
    except OSError:
        return 0


# -- the simulator's control API ---------------------------------------------------------
@pytest.mark.parametrize("remote, allowed", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("10.0.0.1", False), ("192.168.1.20", False), ("0.0.0.0", False), ("::", False),
    ("::ffff:10.0.0.1", False), ("fe80::1", False), ("", False), (None, False),
    ("localhost", False), ("not-an-address", False),
])
def test_control_api_loopback_predicate(remote, allowed) -> None:
    from lpar_eventd.simulator import app
    assert app._loopback(SimpleNamespace(remote=remote)) is allowed


def test_control_api_middleware_refuses_a_remote_client() -> None:
    import asyncio

    from lpar_eventd.simulator import app
    from lpar_eventd.simulator.rest import NovaLinkError

    called = []

    async def handler(request: Any) -> str:
        called.append(request)
        return "ran"

    async def go(remote: str) -> Any:
        request = SimpleNamespace(path="/sim/faults", remote=remote, method="POST")
        return await app.authenticate(request, handler)

    with pytest.raises(NovaLinkError) as exc:
        asyncio.run(go("10.1.2.3"))
    assert exc.value.status == 403 and not called
    assert asyncio.run(go("127.0.0.1")) == "ran"


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.slow
def test_control_api_over_a_non_loopback_address_is_refused(sim_config) -> None:
    from lpar_eventd.simulator import Simulator

    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    sim_config.host = "0.0.0.0"  # noqa: S104 - on purpose: reach it from outside loopback
    sim_config.https_port = None
    with Simulator(sim_config) as sim:
        status, body = _get(f"http://{address}:{sim.http_port}/sim/status")
        assert status == 403 and "loopback only" in body
        assert _get(f"http://127.0.0.1:{sim.http_port}/sim/status")[0] == 200


# -- linters ---------------------------------------------------------------------------------
def test_ruff_security_rules_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e .[test])")
    proc = subprocess.run([ruff, "check", "lpar_eventd", "tests"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Medium findings that are false positives carry ``# nosec <id> - <reason>``
# at their line; nothing else is allowed.
BANDIT_ALLOWED: dict[tuple[str, str], str] = {}


@pytest.mark.slow
def test_bandit_medium_and_high_clean() -> None:
    import json

    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent))
    if bandit is None:
        pytest.skip("bandit is not installed (pip install -e .[test])")
    proc = subprocess.run([bandit, "-q", "-r", "lpar_eventd", "-ll", "-f", "json"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    report = json.loads(proc.stdout)
    assert not report["errors"], report["errors"]
    findings = [(r["filename"], r["test_id"], r["line_number"], r["issue_text"])
                for r in report["results"]]
    unexpected = [f for f in findings if (f[0], f[1]) not in BANDIT_ALLOWED]
    assert not unexpected, unexpected
