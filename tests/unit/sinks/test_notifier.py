"""The notification sink over oslo.messaging's in-process fake transport.

A real oslo.messaging notification listener receives what the sink sends,
so the envelope and topic are what any consumer sees. The real broker test
is tests/functional/test_nova_rabbitmq.py.
"""

from __future__ import annotations

import socket
import threading

import oslo_messaging
import pytest
from oslo_config import cfg

from lpar_eventd.engine.ports import Transition
from lpar_eventd.sinks.base import SinkError
from lpar_eventd.sinks.notifier import EVENT_TYPE, NotificationSink
from tests.unit.sinks.events import INSTANCE, LPAR, lifecycle


class _Endpoint:
    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict]] = []
        self.done = threading.Event()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):  # noqa: ANN001
        self.received.append((publisher_id, event_type, payload))
        self.done.set()


@pytest.fixture
def bus():
    conf = cfg.ConfigOpts()
    transport = oslo_messaging.get_notification_transport(conf, url="fake:/")
    endpoint = _Endpoint()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic="notifications")], [endpoint],
        executor="threading")
    listener.start()
    yield transport, endpoint
    listener.stop()
    listener.wait()
    transport.cleanup()


class TestNotificationSink:
    def test_listener_receives_lifecycle_notification(self, bus):
        transport, endpoint = bus
        sink = NotificationSink(transport=transport, publisher_id="lpar-eventd.test",
                                wall=lambda: 1_700_000_000.0)
        sink.emit(lifecycle(Transition.SUSPENDED, "suspended"))
        assert endpoint.done.wait(5)
        [(publisher, event_type, payload)] = endpoint.received
        assert (publisher, event_type) == ("lpar-eventd.test", EVENT_TYPE)
        assert payload == {
            "instance_uuid": INSTANCE, "pvm_uuid": LPAR, "transition": "suspended",
            "observed_state": "suspended",
            "first_event_time": "2023-11-14T22:13:04.750000+00:00",
            "decided_time": "2023-11-14T22:13:20+00:00", "settle_delay_seconds": 15.25}
        assert sink.sent == 1

    def test_from_transport_url(self):
        sink = NotificationSink("fake:/")
        sink.emit(lifecycle())
        sink.close()
        sink.close()

    def test_default_publisher_names_the_host(self, bus):
        sink = NotificationSink(transport=bus[0])
        assert sink.publisher_id == f"lpar-eventd.{socket.gethostname()}"

    def test_broker_down_raises(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        sink = NotificationSink(f"rabbit://guest:guest@127.0.0.1:{port}/", retry=0)
        try:
            with pytest.raises(SinkError, match="notifications.info not sent"):
                sink.emit(lifecycle())
        finally:
            sink.close()
