"""Injected faults, bad input and the control API: NovaLink-shaped, never a crash."""

from __future__ import annotations

import time

import pytest
import requests
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvmex
from pypowervm.wrappers import logical_partition as pvm_lpar

from lpar_eventd.scale.scenarios import build


def _adapter(simulator, pvm_session):
    simulator.load(build("reboot-wave", 2, 1))
    return pvm_adapter.Adapter(pvm_session())


def test_503_with_service_unavailable_body(simulator, pvm_session):
    adapter = _adapter(simulator, pvm_session)
    simulator.inject_fault(kind="error", status=503, count=1,
                           path="/rest/api/uom/LogicalPartition")
    with pytest.raises(pvmex.HttpError) as err:
        pvm_lpar.LPAR.get(adapter)
    assert err.value.her_wrap.status == 503
    assert "Service Unavailable" in err.value.her_wrap.message
    assert len(pvm_lpar.LPAR.get(adapter)) == 2  # one shot only
    assert simulator.counters()["faults_fired"] == {"error": 1}


def test_dropped_connection(simulator, pvm_session):
    adapter = _adapter(simulator, pvm_session)
    simulator.inject_fault(kind="drop", path="/rest/api/uom/LogicalPartition")
    with pytest.raises(pvmex.ConnectionError):
        pvm_lpar.LPAR.get(adapter)
    assert len(pvm_lpar.LPAR.get(adapter)) == 2


def test_slow_response(simulator, pvm_session):
    adapter = _adapter(simulator, pvm_session)
    simulator.inject_fault(kind="slow", delay=0.3, path="/rest/api/uom/LogicalPartition")
    started = time.monotonic()
    pvm_lpar.LPAR.get(adapter)
    assert time.monotonic() - started >= 0.3


def test_unauthorized_fault_triggers_relogon(simulator, pvm_session):
    adapter = _adapter(simulator, pvm_session)
    simulator.inject_fault(kind="unauthorized", path="/rest/api/uom/LogicalPartition")
    assert len(pvm_lpar.LPAR.get(adapter)) == 2
    assert simulator.counters()["logons"] == {"password": 2}


def test_feed_stall_holds_events(simulator):
    from tests.functional.test_simulator import _read_events, _token, _types

    token = _token(simulator)
    _read_events(simulator, token, "a")
    simulator.push_events(2)
    simulator.stall_feed(0.5)
    started = time.monotonic()
    assert len(_types(_read_events(simulator, token, "a"))) == 2
    assert time.monotonic() - started >= 0.45


def test_token_ttl(sim_config, wait_until):
    from lpar_eventd.simulator import Simulator
    from tests.functional.test_simulator import _read_events, _token

    sim_config.token_ttl = 0.2
    with Simulator(sim_config) as sim:
        token = _token(sim)
        assert _read_events(sim, token, "a").status_code == 200
        wait_until(lambda: _read_events(sim, token, "a").status_code == 401, timeout=5)


@pytest.mark.parametrize("method,path,body,status", [
    ("PUT", "/rest/api/web/Logon", "<not xml", 400),
    ("PUT", "/rest/api/web/Logon", "<Other/>", 400),
    ("PUT", "/rest/api/web/Logon", "<LogonRequest/>", 400),
    ("PUT", "/rest/api/web/Logon", "x" * 70000, 413),
    ("GET", "/rest/api/web/Logon", "", 401),
])
def test_malformed_logon_gets_httperror(simulator, method, path, body, status):
    resp = requests.request(method, simulator.http_url + path, data=body, timeout=5)
    assert resp.status_code == status
    assert "<HTTPStatus" in resp.text and f">{status}<" in resp.text


def test_bad_paths_and_methods_are_novalink_errors(simulator):
    from tests.functional.test_simulator import _token

    headers = {"X-API-Session": _token(simulator)}
    base = simulator.http_url
    cases = [("GET", "/rest/api/uom/NoSuchThing", 404),
             ("POST", "/rest/api/uom/LogicalPartition", 405),
             ("GET", "/rest/api/uom/LogicalPartition/not-a-uuid", 404),
             ("GET", "/rest/api/uom/ManagedSystem/" + "0" * 8 + "-0000-0000-0000-"
              + "0" * 12 + "/LogicalPartition", 404)]
    for method, path, status in cases:
        resp = requests.request(method, base + path, headers=headers, timeout=5)
        assert resp.status_code == status, path
        assert "HttpErrorResponse" in resp.text
    assert requests.get(base + "/rest/api/uom/ManagedSystem", headers=headers,
                        timeout=5).status_code == 200


def test_control_api(simulator, wait_until):
    base = simulator.http_url + "/sim"
    uuid = "0A000000-0000-4000-8000-000000000001"
    assert requests.post(base + "/lpars", json={"uuid": uuid}, timeout=5).ok
    assert requests.post(f"{base}/lpars/{uuid}/op", json={"op": "boot", "speed": 1000},
                         timeout=5).ok
    wait_until(lambda: requests.get(base + "/lpars", timeout=5).json()[uuid] == "running")
    assert requests.post(f"{base}/lpars/{uuid}/state", json={"state": "bogus"},
                         timeout=5).status_code == 400
    assert requests.post(f"{base}/lpars/{uuid}/op", json={"op": "resume"},
                         timeout=5).status_code == 400
    assert requests.post(f"{base}/lpars/{'1' * 8}/op", json={"op": "boot"},
                         timeout=5).status_code == 404
    assert requests.post(base + "/faults", data="{nope", timeout=5).status_code == 400
    assert requests.post(base + "/faults", json={"kind": "meteor"},
                         timeout=5).status_code == 400
    assert requests.post(base + "/scenario", json={"name": "nope"},
                         timeout=5).status_code == 400
    assert requests.post(base + "/scenario", json={"name": "flapping", "lpars": 2,
                                                   "speed": 1000}, timeout=5).ok
    counters = requests.get(base + "/counters", timeout=5).json()
    assert counters["events_produced"]["ADD_URI"] == 1
    assert requests.post(base + "/stop-plays", timeout=5).ok
    assert requests.get(base + "/status", timeout=5).json()["lpars"] == 2
