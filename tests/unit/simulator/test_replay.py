import io
import json

import pytest

from lpar_eventd.simulator.replay import (
    ReplayFormatError, parse_lines, read_jsonl, uri_path, write_event)


def test_delays_and_timestamps():
    lines = [json.dumps({"delay": 0.5, "EventType": "ADD_URI", "EventData": "https://h/x"}),
             "",
             json.dumps({"delay": 1.5, "EventType": "MODIFY_URI", "EventDetail": "NVRAM"}),
             json.dumps({"timestamp": 100.0, "EventType": "MODIFY_URI", "state": "running"}),
             json.dumps({"timestamp": "1970-01-01T00:01:50+00:00", "EventType": "DELETE_URI"})]
    events = list(parse_lines(lines))
    assert [e.at for e in events] == [0.0, 1.5, 99.5, 109.5]
    assert events[0].path == "/x" and events[2].state == "running"


@pytest.mark.parametrize("line,needle", [
    ("not json", "not JSON"), ("[1]", "JSON object"), ('{"delay": 1}', "EventType"),
    ('{"delay": -1, "EventType": "X"}', "delay"), ('{"timestamp": "x", "EventType": "X"}',
                                                   "timestamp"),
    ('{"EventType": "X", "state": 3}', "state")])
def test_bad_lines_name_the_line(line, needle):
    with pytest.raises(ReplayFormatError, match=f"line 1: .*{needle}"):
        list(parse_lines([line]))


def test_write_then_read_round_trip(tmp_path):
    path = tmp_path / "log.jsonl"
    with open(path, "w") as out:
        write_event(out, "MODIFY_URI", "https://h:1/rest/api/uom/LogicalPartition/U",
                    "PartitionState", "running", timestamp=10.0)
        write_event(out, "NEW_CLIENT", None, None, timestamp=12.0)
    events = read_jsonl(path)
    assert [(e.at, e.event_type, e.detail, e.state) for e in events] == [
        (0.0, "MODIFY_URI", "PartitionState", "running"), (2.0, "NEW_CLIENT", "", None)]


def test_uri_path():
    assert uri_path("https://h:12443/rest/api/uom/Event?a=1") == "/rest/api/uom/Event?a=1"
    assert uri_path("") == ""
    buf = io.StringIO()
    write_event(buf, "X", "", "")
    assert json.loads(buf.getvalue())["EventData"] == ""
