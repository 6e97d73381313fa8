"""The daemon as an operator runs it: a process with a config file, against the
simulator and an sqlite nova database, watched through /metrics and /healthz.

The standalone daemon's decisions go to its log sink here: what nova makes of
decisions is judged by nova's own compute manager in the host stack tests
(tests/functional/testbed), where the engine runs inside nova-compute.
"""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest

from lpar_eventd.testbed.procs import free_port, total
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.seed import seed_instances, specs_from_scenario
from lpar_eventd.scale import scenarios, virtual
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.replay import read_jsonl
from lpar_eventd.simulator.server import Simulator
from lpar_eventd.testbed.novaapi import NovaApi
from tests.functional.daemon_proc import SPEED, Daemon

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path, nova_db_path):
    """A seeded scenario, nova-api writing its nova changes, and a simulator
    holding its LPARs."""
    def make(name: str = "deploy-storm", lpars: int = 20, seed: int = 3):
        scenario = scenarios.build(name, lpars, seed)
        db = NovaDatabase(sqlite_url(nova_db_path))
        seed_instances(db, specs_from_scenario(scenario))
        sim = Simulator(SimConfig(port=0, long_poll=0.5)).start()
        sim.load(scenario)
        api = NovaApi(db, socket.gethostname())
        made.append((sim, db, api))
        return scenario, api, sim
    made: list = []
    yield make
    for sim, db, api in made:
        api.close()
        sim.stop()
        db.dispose()


def test_a_storm_is_counted_on_metrics(world, tmp_path, nova_db_path):
    scenario, api, sim = world("mixed", 40, 5)
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path).start().healthy()
    try:
        sim.play(scenario, speed=SPEED, on_nova_change=api, load=False).result(timeout=120)
        assert api.drain() and api.lost == 0
        daemon.wait_settled()
        samples = daemon.metrics()
    finally:
        assert daemon.stop() == 0
    assert samples["lpar_eventd_pending_settles"] == 0
    assert total(samples, "lpar_eventd_lifecycle_events_emitted_total") > 0
    assert total(samples, "lpar_eventd_events_received_total") >= 0.9 * len(
        scenario.host_events())
    assert total(samples, "lpar_eventd_events_coalesced_total") > 0
    calls = total(samples, "lpar_eventd_get_instance_calls_total")
    assert 0 < calls <= 1.2 * virtual.lower_bound(scenario) + 15
    assert samples['lpar_eventd_resyncs_total{reason="new_client"}'] >= 1
    assert samples["lpar_eventd_source_up"] == 1
    assert samples["lpar_eventd_admin_context_created_total"] == 1
    assert "process_cpu_seconds_total" in samples  # the default registry's process stats


def test_healthz_follows_the_feed(world, tmp_path, nova_db_path):
    scenario, _, sim = world()
    port = sim.http_port
    daemon = Daemon(tmp_path, port, nova_db_path, stale=3).start().healthy()
    try:
        sim.stop()
        deadline = time.monotonic() + 20
        while daemon.health() != 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert daemon.health() == 503
        back = Simulator(SimConfig(port=port, long_poll=0.5)).start()
        try:
            back.load(scenario)
            daemon.healthy(20)
            assert daemon.metrics()["lpar_eventd_source_reconnects_total"] >= 1
        finally:
            back.stop()
    finally:
        assert daemon.stop() == 0


def test_sigterm_mid_storm_exits_0_and_a_restart_resyncs_and_settles(world, tmp_path,
                                                                     nova_db_path):
    scenario, api, sim = world("mixed", 40, 9)
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path).start().healthy()
    play = sim.play(scenario, speed=SPEED, on_nova_change=api, load=False)
    time.sleep(2.0)
    started = time.monotonic()
    assert daemon.stop(timeout=20) == 0
    assert time.monotonic() - started < 15
    assert "pending settles cancelled" in daemon.log_text()
    second = Daemon(tmp_path, sim.http_port, nova_db_path).start().healthy()
    try:
        play.result(timeout=120)
        second.wait_settled()
        samples = second.metrics()
    finally:
        assert second.stop() == 0
    assert samples['lpar_eventd_resyncs_total{reason="new_client"}'] >= 1
    assert samples["lpar_eventd_pending_settles"] == 0


def test_ready_reaches_systemd_at_once_and_status_says_what_the_feed_waits_for(
        tmp_path, nova_db_path):
    """NovaLink down at start: READY at once (no start timeout), the STATUS
    line names the failure, then says the feed is ok once NovaLink answers."""
    port = free_port()  # nothing listens there yet
    notify = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(notify)
        sock.settimeout(30.0)
        daemon = Daemon(tmp_path, port, nova_db_path,
                        env={"NOTIFY_SOCKET": notify}).start()

        def until(wanted: bytes) -> bytes:
            message = sock.recv(4096)
            while wanted not in message:
                message = sock.recv(4096)
            return message
        try:
            assert b"STATUS=waiting for the first NovaLink feed read" in until(b"READY=1")
            assert b"(last try: ConnectionError" in until(b"last try")
            assert daemon.health() == 503
            sim = Simulator(SimConfig(port=port, long_poll=0.5)).start()
            try:
                assert b"in flight" in until(b"STATUS=NovaLink feed ok")
                assert daemon.health() == 200
            finally:
                sim.stop()
        finally:
            assert daemon.stop() == 0


def test_record_writes_the_replay_format(world, tmp_path, nova_db_path):
    scenario, _, sim = world("deploy-storm", 5, 2)
    record = tmp_path / "feed.jsonl"
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path,
                    args=("--record", str(record))).start().healthy()
    try:
        sim.play(scenario, speed=SPEED * 2, load=False).result(timeout=60)
        time.sleep(1.0)
    finally:
        assert daemon.stop() == 0
    events = read_jsonl(str(record))
    types = {e.event_type for e in events} if hasattr(events[0], "event_type") else {
        e["EventType"] for e in events}
    assert "NEW_CLIENT" in types and "MODIFY_URI" in types
    assert len(events) >= 0.9 * len(scenario.host_events())


def test_sighup_reloads_the_windows_and_dry_run(world, tmp_path, nova_db_path):
    scenario, _, sim = world("mixed", 10, 4)
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path).start().healthy()
    try:
        daemon.wait_settled()
        text = daemon.conf.read_text().replace("settle_seconds = 0.75",
                                               "settle_seconds = 0.5")
        text = text.replace("driver = log", "driver = log\ndry_run = true")
        daemon.conf.write_text(text)
        daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "Configuration reloaded" not in daemon.log_text() and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Configuration reloaded: settle 0.5 s" in daemon.log_text()
        assert "dry_run True" in daemon.log_text()
        # a running instance shut down outside nova: decided and logged, not emitted
        managed = scenario.managed()
        lpar = next(u for u, s in sim.lpars().items() if s == "running" and u in managed)
        sim.operate(lpar, "shutdown", speed=SPEED).result(timeout=30)
        daemon.wait_settled()
        time.sleep(1.0)
        assert f"would emit STOPPED for instance {managed[lpar]}" in daemon.log_text()
        assert "lifecycle transition=stopped" not in daemon.log_text()
    finally:
        assert daemon.stop() == 0


def test_a_reload_with_a_typo_or_a_bad_value_is_refused_and_the_daemon_goes_on(
        world, tmp_path, nova_db_path):
    scenario, db, sim = world("deploy-storm", 5, 6)
    daemon = Daemon(tmp_path, sim.http_port, nova_db_path).start().healthy()
    try:
        good = daemon.conf.read_text()
        for change, problem in (
                ("settle_secs = 0.5", "unknown option [events] settle_secs "
                                      "(did you mean settle_seconds?)"),
                ("settle_seconds = soon", "[events] settle_seconds = soon: could "
                                          "not convert string to float: 'soon'")):
            daemon.conf.write_text(re.sub(r"(?m)^settle_seconds = .*$", change, good))
            daemon.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while problem not in daemon.log_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            line = next(x for x in daemon.log_text().splitlines() if problem in x)
            assert "ERROR" in line and "Reload refused, the running configuration stays" in line
            assert "Traceback" not in daemon.log_text()
        assert "Configuration reloaded" not in daemon.log_text()
        assert daemon.health() == 200
        daemon.conf.write_text(good)
        daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "Configuration reloaded" not in daemon.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Configuration reloaded" in daemon.log_text()
    finally:
        assert daemon.stop() == 0
