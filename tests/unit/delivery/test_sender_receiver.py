"""Sender and receiver over oslo.messaging's in-process fake transport.

A real notification listener (the receiver) takes what the real sink sends
and hands it to nova's own fake virt driver, so the envelope, the target and
the ack/requeue decisions are oslo.messaging's. The broker's part (queues
that outlive consumers, redelivery after a crash) is in
tests/functional/test_delivery.py.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import oslo_messaging
import pytest
from nova.virt import event as virtevent
from oslo_config import cfg

from lpar_eventd.delivery import ComputeReceiver, NovaComputeSink
from lpar_eventd.delivery.wire import lifecycle_target
from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.sinks.base import DAEMON, NOVA_COMPUTE, SinkError
from lpar_eventd.sinks.notifier import payload_of
from lpar_eventd.sinks.registry import make_sink, runs_in
from tests.delivery_parts import RecordingDriver, messaging_conf

#: nothing listens there: a send fails at once
DEAD_BROKER = "rabbit://nova:pw@127.0.0.1:9/"

TRANSITIONS = [Transition.STARTED, Transition.STOPPED, Transition.SUSPENDED,
               Transition.RESUMED]


def decision(n: int, transition: Transition = Transition.STOPPED) -> LifecycleEvent:
    return LifecycleEvent(f"00000000-0000-4000-8000-{n:012d}",
                          f"0E6C1A2B-0000-4000-8000-{n:012d}", transition,
                          "not activated", 10.0, 25.0)


@pytest.fixture
def host() -> str:
    """A host name of its own: the fake transport's exchanges are process-wide."""
    return f"compute-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def transport() -> Iterator[Any]:
    transport = oslo_messaging.get_notification_transport(cfg.ConfigOpts(), url="fake:/")
    yield transport
    transport.cleanup()


@pytest.fixture
def receivers(transport: Any, host: str) -> Iterator[Callable[..., ComputeReceiver]]:
    started: list[ComputeReceiver] = []

    def start(driver: Any, **kwargs: Any) -> ComputeReceiver:
        receiver = ComputeReceiver(driver, transport, host, retry_base_seconds=0.01,
                                   **kwargs).start()
        started.append(receiver)
        return receiver
    yield start
    for receiver in started:
        receiver.stop()
        receiver.wait()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class TestSinkToReceiver:
    def test_each_decision_reaches_emit_event_in_order(self, transport, host, receivers):
        driver = RecordingDriver()
        driver.listen()
        receivers(driver)
        sink = NovaComputeSink(host, transport=transport, wall=lambda: 1_700_000_000.0)
        for n, transition in enumerate(TRANSITIONS * 5):
            sink.emit(decision(n, transition))
        heard = driver.wait_for(20)
        assert [e.uuid for e in heard] == [decision(n).instance_uuid for n in range(20)]
        assert [e.transition for e in heard[:4]] == [
            virtevent.EVENT_LIFECYCLE_STARTED, virtevent.EVENT_LIFECYCLE_STOPPED,
            virtevent.EVENT_LIFECYCLE_SUSPENDED, virtevent.EVENT_LIFECYCLE_RESUMED]
        # stamped with the decision's time, not the delivery's
        assert heard[0].timestamp.isoformat() == "2023-11-14T22:13:20"

    def test_decisions_sent_before_nova_compute_starts_wait_for_it(
            self, transport, host, receivers):
        sink = NovaComputeSink(host, transport=transport)
        for n in range(3):
            sink.emit(decision(n))
        driver = RecordingDriver()
        driver.listen()
        receiver = receivers(driver)
        assert len(driver.wait_for(3)) == 3
        wait_until(lambda: receiver.delivered == 3)

    def test_held_until_the_compute_manager_listens_and_order_is_kept(
            self, transport, host, receivers):
        driver = RecordingDriver()  # init_host: the driver starts before the manager listens
        receiver = receivers(driver)
        sink = NovaComputeSink(host, transport=transport)
        for n in range(5):
            sink.emit(decision(n))
        time.sleep(0.2)
        assert driver.heard == [] and receiver.delivered == 0
        driver.listen()
        heard = driver.wait_for(5)
        assert [e.uuid for e in heard] == [decision(n).instance_uuid for n in range(5)]

    def test_stop_requeues_the_held_decision_for_the_next_nova_compute(
            self, transport, host, receivers):
        first = receivers(RecordingDriver())  # never listens
        NovaComputeSink(host, transport=transport).emit(decision(7))
        time.sleep(0.2)
        first.stop()
        first.wait()
        assert (first.delivered, first.requeued) == (0, 1)
        driver = RecordingDriver()
        driver.listen()
        receivers(driver)
        [event] = driver.wait_for(1)
        assert event.uuid == decision(7).instance_uuid

    def test_a_message_that_is_not_a_decision_is_dropped_and_the_queue_goes_on(
            self, transport, host, receivers, caplog):
        driver = RecordingDriver()
        driver.listen()
        receiver = receivers(driver)
        stray = {"message_id": str(uuid.uuid4()), "publisher_id": "someone",
                 "event_type": "lpar_eventd.lifecycle", "priority": "INFO",
                 "payload": {"transition": "exploded"}, "timestamp": "2026-01-01 00:00:00"}
        target = oslo_messaging.Target(topic=lifecycle_target(host).topic + ".info",
                                       exchange="nova")
        other = dict(stray, message_id=str(uuid.uuid4()), event_type="compute.instance.update",
                     payload=payload_of(decision(0), 0.0))
        with caplog.at_level(logging.ERROR, logger="lpar_eventd.delivery.receiver"):
            transport._send_notification(target, {}, stray, version=2.0)
            transport._send_notification(target, {}, other, version=2.0)
            NovaComputeSink(host, transport=transport).emit(decision(1))
            driver.wait_for(1)
        wait_until(lambda: receiver.rejected == 2)
        assert [e.uuid for e in driver.heard] == [decision(1).instance_uuid]
        assert "Dropped a message from someone" in caplog.text
        assert "'compute.instance.update' is not" in caplog.text
        assert len(caplog.records) == 2


class TestSender:
    def test_runs_only_in_the_daemon(self):
        assert runs_in(NovaComputeSink) == {DAEMON}
        assert NOVA_COMPUTE not in NovaComputeSink.processes

    def test_loads_by_name(self, host):
        sink = make_sink("nova-compute", process=DAEMON, host=host, transport_url="fake:/")
        try:
            assert isinstance(sink, NovaComputeSink) and sink.exchange == "nova"
        finally:
            sink.close()

    def test_a_dead_broker_fails_the_send_at_once_naming_instance_and_host(self):
        sink = NovaComputeSink("compute-01", DEAD_BROKER)
        started = time.monotonic()
        try:
            with pytest.raises(SinkError) as err:
                sink.emit(decision(3))
        finally:
            sink.close()
        assert time.monotonic() - started < 5  # no retry loop inside oslo.messaging
        message = str(err.value)
        assert "stopped for instance 00000000-0000-4000-8000-000000000003" in message
        assert "nova-compute on compute-01" in message and "\n" not in message

    def test_from_the_daemons_configuration(self, tmp_path, caplog):
        conf = messaging_conf(tmp_path, DEAD_BROKER, "heartbeat_timeout_threshold = 30")
        with caplog.at_level(logging.WARNING, logger="lpar_eventd.delivery.sender"):
            sink = NovaComputeSink("compute-01", conf=conf)
        try:
            assert sink.exchange == "nova"
            assert conf.oslo_messaging_rabbit.heartbeat_timeout_threshold == 30
        finally:
            sink.close()
        # oslo's defaults: a classic, non-durable queue; the operator is told
        assert "does not survive a broker restart" in caplog.text

    def test_durable_or_quorum_queues_need_no_warning(self, tmp_path, caplog):
        conf = messaging_conf(tmp_path, DEAD_BROKER, "rabbit_quorum_queue = true")
        with caplog.at_level(logging.WARNING, logger="lpar_eventd.delivery.sender"):
            NovaComputeSink("compute-01", conf=conf).close()
        assert caplog.text == ""

    def test_a_tls_file_that_cannot_be_read_is_refused_at_start(self, tmp_path):
        conf = messaging_conf(tmp_path, DEAD_BROKER,
                              f"ssl = true\nssl_ca_file = {tmp_path / 'missing-ca.pem'}")
        with pytest.raises(ValueError, match=r"\[oslo_messaging_rabbit\] ssl_ca_file: .*"
                                             r"missing-ca.pem is not a readable file"):
            NovaComputeSink("compute-01", conf=conf)

    def test_an_auto_deleted_queue_is_called_out(self, tmp_path, caplog):
        conf = messaging_conf(tmp_path, DEAD_BROKER,
                              "amqp_durable_queues = true\namqp_auto_delete = true")
        with caplog.at_level(logging.WARNING, logger="lpar_eventd.delivery.sender"):
            NovaComputeSink("compute-01", conf=conf).close()
        [record] = caplog.records
        assert "amqp_auto_delete = true" in record.getMessage()
        assert "lpar_eventd_lifecycle.compute-01.info" in record.getMessage()


class TestReceiverLifecycle:
    def test_stop_and_wait_without_start_are_harmless(self, transport, host):
        receiver = ComputeReceiver(RecordingDriver(), transport, host)
        receiver.stop()
        receiver.wait()
        assert (receiver.delivered, receiver.requeued, receiver.rejected) == (0, 0, 0)

    def test_from_novas_configuration(self, host, tmp_path):
        """nova.conf's [DEFAULT] host and transport_url, nothing of ours."""
        path = tmp_path / "nova.conf"
        path.write_text(f"[DEFAULT]\nhost = {host}\ntransport_url = fake:/\n")
        conf = cfg.ConfigOpts()
        conf.register_opt(cfg.StrOpt("host"))  # nova registers it (nova.conf.netconf)
        oslo_messaging.set_transport_defaults("nova")  # what nova's set_lib_defaults does
        conf(["--config-file", str(path)], project="nova")
        driver = RecordingDriver()
        driver.listen()
        receiver = ComputeReceiver.from_conf(driver, conf).start()
        try:
            sink = NovaComputeSink(host, "fake:/")
            sink.emit(decision(2))
            assert driver.wait_for(1)[0].uuid == decision(2).instance_uuid
            sink.close()  # (the fake driver's cleanup empties every fake exchange)
            assert receiver.queue == f"lpar_eventd_lifecycle.{host}.info"
        finally:
            receiver.stop()
            receiver.wait()
