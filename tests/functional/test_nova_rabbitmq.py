"""A real broker: rabbitmq-server on loopback, started by each test.

Skipped, with the reason, when rabbitmq-server is not installed or does not
start. Two things only a real broker shows: notifications reach a listener
through rabbit, and conductor mode round-trips to nova's own
ConductorManager (a separate process on the sqlite nova database).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import oslo_messaging
import pytest
from nova.compute import power_state, task_states
from oslo_config import cfg

from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.nova import conductor
from lpar_eventd.nova.database import NovaDatabase
from lpar_eventd.nova.lookup import ConductorLookup
from lpar_eventd.nova.seed import InstanceSpec, seed_instances
from lpar_eventd.sinks.notifier import EVENT_TYPE, NotificationSink

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


class _Endpoint:
    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.done = threading.Event()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):  # noqa: ANN001
        if event_type == EVENT_TYPE:
            self.payloads.append(payload)
            self.done.set()


def test_notification_reaches_a_listener_through_rabbitmq(rabbitmq):
    print(f"\nrabbitmq-server up in {rabbitmq.start_seconds:.1f} s")
    transport = oslo_messaging.get_notification_transport(cfg.ConfigOpts(), url=rabbitmq.url)
    endpoint = _Endpoint()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic="notifications")], [endpoint],
        executor="threading")
    listener.start()
    sink = NotificationSink(rabbitmq.url)
    try:
        event = LifecycleEvent("8e6c1a2b-0000-4000-8000-000000000001",
                               "0E6C1A2B-0000-4000-8000-000000000001",
                               Transition.STOPPED, "not activated", 0.0, 15.0)
        deadline = time.monotonic() + 20
        sink.emit(event)
        while not endpoint.done.wait(0.5) and time.monotonic() < deadline:
            sink.emit(event)  # the listener's queue may not have existed yet
        assert endpoint.payloads, "no notification received"
        payload = endpoint.payloads[0]
        assert (payload["transition"], payload["pvm_uuid"]) == (
            "stopped", "0E6C1A2B-0000-4000-8000-000000000001")
    finally:
        sink.close()
        listener.stop()
        listener.wait()
        transport.cleanup()


@pytest.fixture
def conductor_process(rabbitmq, nova_db: NovaDatabase):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures_nova", "conductor", nova_db.connection,
         rabbitmq.url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "READY":
            pytest.fail(f"nova conductor did not start (rc={proc.poll()})")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_conductor_lookup_round_trips_to_nova_conductor(rabbitmq, nova_db,
                                                        conductor_process):
    present = str(uuid.uuid4())
    seed_instances(nova_db, [InstanceSpec(present, power_state.RUNNING,
                                          task_states.REBOOTING)])
    lookup = ConductorLookup(rabbitmq.url, timeout=10)
    try:
        assert "guest:***@" in lookup.endpoint
        ctx = lookup.admin_context()
        info = lookup.get_instance(ctx, present)
        assert (info.uuid, info.task_state, info.power_state) == (
            present, task_states.REBOOTING, power_state.RUNNING)
        assert lookup.get_instance(ctx, str(uuid.uuid4())) is None
        found = lookup.get_instances(ctx, [present, str(uuid.uuid4())])
        assert list(found) == [present]
        n = 50
        started = time.perf_counter()
        for _ in range(n):
            lookup.get_instance(ctx, present)
        print(f"\nget_instance through nova-conductor over rabbitmq: "
              f"{(time.perf_counter() - started) / n * 1000:.1f} ms")
    finally:
        conductor.stop_using_conductor(lookup.wiring)
