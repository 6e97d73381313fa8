"""Record a feed with the real pypowervm, replay it, and the CLI end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import requests
from pypowervm import adapter as pvm_adapter

from lpar_eventd.scale.scenarios import build
from lpar_eventd.simulator import SimConfig, Simulator
from lpar_eventd.simulator.record import Recorder
from lpar_eventd.simulator.replay import read_jsonl


def test_record_then_replay(simulator, pvm_session, wait_until, tmp_path):
    sc = build("reboot-wave", 3, 5)
    expected = [e for e in sc.host_events() if e.event_type != "NEW_CLIENT"]
    log = tmp_path / "feed.jsonl"
    with open(log, "a", encoding="utf-8") as out:
        rec = Recorder(pvm_session(), out, states=True)
        rec.start()
        simulator.play(sc, speed=500).result(timeout=30)
        wait_until(lambda: rec.count >= len(expected))
        rec.stop()
    events = read_jsonl(log)
    assert [(e.event_type, e.detail) for e in events] == [
        (e.event_type, e.detail) for e in expected]
    assert any(e.state == "running" for e in events)

    with Simulator(SimConfig(port=0, long_poll=0.2)) as replayer:
        session = pvm_adapter.Session("127.0.0.1", "hscroot", "abc123",
                                      protocol="http", port=replayer.http_port)
        got = []

        class Handler(pvm_adapter.RawEventHandler):
            def process(self, evs):
                got.extend(evs)

        listener = session.get_event_listener()
        handler = Handler()
        listener.subscribe(handler)
        replayer.replay(events, speed=1000).result(timeout=30)
        wait_until(lambda: len(got) >= len(events))
        listener.unsubscribe(handler)
        session._logoff()
        assert [(g["EventType"], g["EventDetail"] or "") for g in got] == [
            (e.event_type, e.detail) for e in events]
        assert all(g["EventData"].startswith(replayer.base_url)
                   for g in got if g["EventData"])
        assert set(replayer.lpars().values()) == {"running"}


@pytest.mark.slow
def test_cli_serves_replays_and_stops_on_sigterm(tmp_path, wait_until):
    log = tmp_path / "events.jsonl"
    uri = ("https://nl.example:12443/rest/api/uom/ManagedSystem/"
           "A168A3EC-BB3E-3EAD-86C1-7D98B9D50239/LogicalPartition/"
           "0A000000-0000-4000-8000-000000000001")
    lines = [{"delay": 0, "EventType": "ADD_URI", "EventData": uri, "EventDetail": ""},
             {"delay": 0.01, "EventType": "MODIFY_URI", "EventData": uri,
              "EventDetail": "PartitionState,Other", "state": "running"}]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpar_eventd.cmd.sim", "--port", "0", "--replay", str(log),
         "--speed", "100", "--long-poll", "0.2"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        port = None
        for line in proc.stderr:
            match = re.search(r"http port (\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port
        lpars = f"http://127.0.0.1:{port}/sim/lpars"
        wait_until(lambda: requests.get(lpars, timeout=5).json() == {
            "0A000000-0000-4000-8000-000000000001": "running"})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
