"""Every body the simulator renders parses with the real pypowervm."""

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import event as pvm_event
from pypowervm.wrappers import http_error as pvm_http_error
from pypowervm.wrappers import logical_partition as pvm_lpar

from lpar_eventd.simulator import wire
from lpar_eventd.simulator.partition import Partition

BASE = "https://h:12443"
MS = "A168A3EC-BB3E-3EAD-86C1-7D98B9D50239"


def _response(body: bytes, path: str = "/rest/api/uom/Event"):
    resp = pvm_adapter.Response("GET", path, 200, "OK", {}, body=body.decode())
    resp._unmarshal_atom()
    return resp


def test_event_feed_parses():
    events = [wire.render_event(BASE, "MODIFY_URI", 10 + i, f"{BASE}/rest/api/uom/X/{i}",
                                "PartitionState,Other", 0) for i in range(3)]
    events.append(wire.render_event(BASE, "NEW_CLIENT", 99, "", "", 0))
    wrapped = pvm_event.Event.wrap(_response(wire.event_feed(BASE, events)))
    assert [(w.etype, w.eid, w.detail) for w in wrapped[:1]] == [
        ("MODIFY_URI", "10", "PartitionState,Other")]
    assert wrapped[2].data == f"{BASE}/rest/api/uom/X/2"
    assert wrapped[3].etype == "NEW_CLIENT" and not wrapped[3].data


def test_lpar_feed_with_nvram_and_escaping():
    part = Partition("0A000000-0000-4000-8000-000000000001", "a<b&c", 7, "running")
    entry = wire.lpar_entry(BASE, BASE + "/x", part.view(MS), part.nvram)
    lpars = pvm_lpar.LPAR.wrap(_response(wire.feed(BASE, "/rest/api/uom/LogicalPartition",
                                                   [entry])))
    assert (lpars[0].name, lpars[0].id, lpars[0].state) == ("a<b&c", 7, "running")
    assert lpars[0].nvram == part.nvram


def test_http_error_parses():
    resp = _response(wire.http_error(503, "/rest/api/uom/Event", "busy"))
    err = pvm_http_error.HttpError.wrap(resp)
    assert (err.status, err.message) == (503, "busy")
