"""The ``notification`` sink: lifecycle events on the OpenStack notification bus.

Consumers (a monitoring system, a billing pipeline, a custom nova-compute
listener) react to ``lpar_eventd.lifecycle`` notifications without any nova
change. Messages are standard oslo.messaging notifications (the 2.0
envelope, ``publisher_id``, ``event_type``, ``priority`` INFO, ``payload``,
``timestamp``), sent to ``<topic>.info`` for each topic (default
``notifications``), so an ``oslo_messaging.get_notification_listener``
receives them like nova's own.

Payload::

    {"instance_uuid": "...", "pvm_uuid": "...", "transition": "started",
     "observed_state": "running", "first_event_time": "2026-...+00:00",
     "decided_time": "...", "settle_delay_seconds": 15.2}

Why not ``oslo_messaging.Notifier``: it and its drivers log and drop a
failed send, and this sink must raise so the engine counts and retries. The
sink builds the same message and sends it through the transport's
notification send (what the messaging driver calls), with a bounded
``retry`` so a dead broker fails the call instead of blocking a worker.

    sink = NotificationSink(transport_url="rabbit://user:pass@ctl:5672/")
    sink.emit(event)
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_utils import timeutils

from lpar_eventd.engine.ports import LifecycleEvent
from lpar_eventd.sinks.base import Sink, SinkError, event_times

__all__ = ["NotificationSink", "EVENT_TYPE", "payload_of"]

EVENT_TYPE = "lpar_eventd.lifecycle"
PRIORITY = "INFO"


def payload_of(event: LifecycleEvent, wall_now: float) -> dict[str, Any]:
    """The notification payload of one lifecycle event."""
    return {"instance_uuid": event.instance_uuid, "pvm_uuid": event.lpar_uuid,
            "transition": event.transition.value,
            "observed_state": event.observed_state,
            **event_times(event, wall_now)}


class NotificationSink(Sink):
    """Publishes each event as an ``lpar_eventd.lifecycle`` notification.

    Pass ``transport`` (an existing notification transport, e.g. nova's when
    embedded in nova-compute) or ``transport_url`` (with an optional
    ``conf``: a ConfigOpts carrying [oslo_messaging_rabbit] and friends).
    ``retry``: reconnection attempts per send before raising (None: forever,
    which would block an engine worker while the broker is down).
    ``exchange``: the AMQP exchange (None: the transport's
    ``control_exchange``).
    """

    def __init__(self, transport_url: str | None = None, *,
                 transport: Any = None, conf: cfg.ConfigOpts | None = None,
                 topics: Sequence[str] = ("notifications",),
                 publisher_id: str | None = None, retry: int | None = 1,
                 exchange: str | None = None, wall: Callable[[], float] = time.time):
        self._owned = transport is None
        if transport is None:
            transport = oslo_messaging.get_notification_transport(
                conf or cfg.ConfigOpts(), url=transport_url)
        self.transport = transport
        self.topics = tuple(topics)
        self.publisher_id = publisher_id or f"lpar-eventd.{socket.gethostname()}"
        self.retry = retry
        self.exchange = exchange
        self._wall = wall
        self.sent = 0

    def message(self, event: LifecycleEvent) -> dict[str, Any]:
        """The notification message (oslo.messaging's notification fields)."""
        return {"message_id": str(uuid.uuid4()), "publisher_id": self.publisher_id,
                "event_type": EVENT_TYPE, "priority": PRIORITY,
                "payload": payload_of(event, self._wall()),
                "timestamp": str(timeutils.utcnow())}

    def emit(self, event: LifecycleEvent) -> None:
        message = self.message(event)
        for topic in self.topics:
            target = oslo_messaging.Target(topic=f"{topic}.{PRIORITY.lower()}",
                                           exchange=self.exchange)
            try:
                # The transport's notification send, as the messaging driver
                # does, but without its log-and-drop of failures.
                self.transport._send_notification(target, {}, message, version=2.0,
                                                  retry=self.retry)
            except Exception as exc:  # drivers raise their own types (kombu's): re-raised
                raise SinkError(f"notification to {target.topic} not sent: "
                                f"{type(exc).__name__}: {exc}") from exc
        self.sent += 1

    def close(self) -> None:
        if self._owned and self.transport is not None:
            self.transport.cleanup()
            self.transport = None
