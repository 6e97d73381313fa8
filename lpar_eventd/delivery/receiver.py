"""nova-compute's side of standalone delivery: decisions off the bus into ``emit_event``.

A compute driver starts one ``ComputeReceiver`` for its host; it consumes
the host's queue (``wire.queue_name(host)``) with an oslo.messaging
notification listener on threads (no eventlet needed) and hands each
decision to ``driver.emit_event`` as a ``nova.virt.event.LifecycleEvent``
through ``DriverSink``, the same path the embedded engine takes. The
package docstring says why this wire and what it guarantees.

In the driver (a few lines; deploy/README.md has the operator's side)::

    from lpar_eventd.delivery import ComputeReceiver

    def init_host(self, host):
        ...
        self._lifecycle = ComputeReceiver.from_conf(self, nova.conf.CONF).start()

    def cleanup_host(self, host):
        self._lifecycle.stop()
        self._lifecycle.wait()

``from_conf`` uses nova's ``[DEFAULT] transport_url``, ``control_exchange``
and ``[oslo_messaging_rabbit]``, and ``[DEFAULT] host`` as the host; it
opens its own listener connection and closes it in ``wait()``.

Behaviour, one message at a time, in queue order (one dispatch thread):

* handed to ``emit_event`` and acknowledged once it returned (``delivered``);
* the compute manager has not registered its event listener yet
  (``init_host`` runs the driver's first, then ``init_virt_events``), or
  ``emit_event`` raised: held and retried in place with backoff, so the queue
  keeps its order; once ``stop()`` was called it is requeued instead
  (``requeued``) for the next nova-compute to take;
* not a decision (a stray message, a payload this version does not know):
  logged once and acknowledged (``rejected``): it could never succeed, and
  holding it would stop the host's queue for ever.

Errors: ``start()`` waits for the broker (oslo.messaging reconnects for
ever, as for nova-compute's own RPC server, which needs the same broker),
and raises oslo.messaging's MessageDeliveryFailure when the broker refuses
the queue (``PRECONDITION_FAILED - inequivalent arg 'durable'``: the
``[oslo_messaging_rabbit]`` queue options differ from the daemon's). A
broker that goes away later is oslo.messaging's to reconnect to;
unacknowledged messages stay on the broker.

Threads: the listener runs on oslo.messaging's default executor (native
threads; green ones if nova-compute monkey-patched them), with one dispatch
worker whatever ``executor_thread_pool_size`` says.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import oslo_messaging
from oslo_config import cfg

from lpar_eventd.delivery.wire import (
    EVENT_TYPE, EXCHANGE, MalformedDecision, decision_of, lifecycle_target, queue_name,
    rpc_transport_url)
from lpar_eventd.sinks.base import SinkError
from lpar_eventd.sinks.driver import DriverSink

__all__ = ["ComputeReceiver"]

LOG = logging.getLogger(__name__)

HANDLED = oslo_messaging.NotificationResult.HANDLED
REQUEUE = oslo_messaging.NotificationResult.REQUEUE


class ComputeReceiver:
    """Consumes ``host``'s decisions and hands each to ``driver.emit_event``.

    ``driver``: the nova.virt.driver.ComputeDriver. ``transport``: an
    oslo.messaging transport on nova's bus (``from_conf`` builds one).
    ``exchange``: nova's control exchange. ``retry_base_seconds`` /
    ``retry_max_seconds``: the backoff while ``emit_event`` cannot take an
    event (doubling from base, capped).

    ``start()`` returns self; ``stop()`` stops taking messages (the one being
    retried is requeued); ``wait()`` waits for the dispatch thread and
    releases the connection. Counters: ``delivered``, ``requeued``,
    ``rejected``.
    """

    def __init__(self, driver: Any, transport: Any, host: str, *,
                 exchange: str = EXCHANGE, retry_base_seconds: float = 0.2,
                 retry_max_seconds: float = 30.0):
        self.host = host
        self.queue = queue_name(host)
        self._sink = DriverSink(driver)
        self._transport = transport
        self._owned = False
        self._base, self._max = retry_base_seconds, retry_max_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.delivered = self.requeued = self.rejected = 0
        self._started = False
        self._listener = oslo_messaging.get_notification_listener(
            transport, [lifecycle_target(host, exchange)], [_Endpoint(self)],
            allow_requeue=True)

    @classmethod
    def from_conf(cls, driver: Any, conf: cfg.ConfigOpts, host: str | None = None,
                  **kwargs: Any) -> "ComputeReceiver":
        """A receiver on ``conf``'s ``[DEFAULT] transport_url`` (nova's bus, with
        its ``[oslo_messaging_rabbit]``) for ``host`` (default ``conf.host``)."""
        transport = oslo_messaging.get_notification_transport(
            conf, url=rpc_transport_url(conf))
        try:
            receiver = cls(driver, transport, host or conf.host,
                           exchange=conf.control_exchange, **kwargs)
        except Exception:
            transport.cleanup()
            raise
        receiver._owned = True
        return receiver

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> "ComputeReceiver":
        """Start consuming on one dispatch thread (queue order)."""
        self._stopping.clear()
        self._listener.start(override_pool_size=1)  # one worker: queue order
        self._started = True
        LOG.info("Taking lifecycle decisions for host %s from queue %s", self.host,
                 self.queue)
        return self

    def stop(self) -> None:
        """Stop taking messages; the one held for a retry goes back to the queue."""
        self._stopping.set()
        if self._started:
            self._listener.stop()

    def wait(self) -> None:
        """Wait for the dispatch thread to finish; release our connection."""
        if self._started:
            self._listener.wait()
            self._started = False
        if self._owned:
            self._transport.cleanup()
            self._owned = False
        LOG.info("Stopped taking lifecycle decisions for host %s: %d delivered, "
                 "%d requeued, %d rejected", self.host, self.delivered, self.requeued,
                 self.rejected)

    # -- one message (on the dispatch thread) ------------------------------------
    def _handle(self, publisher_id: str, event_type: str, payload: Any) -> str:
        try:
            if event_type != EVENT_TYPE:
                raise MalformedDecision(f"event_type {event_type!r} is not {EVENT_TYPE!r}")
            event, decided = decision_of(payload)
        except MalformedDecision as exc:
            self._count("rejected")
            LOG.error("Dropped a message from %s on %s: %s", publisher_id, self.queue, exc)
            return HANDLED
        delay, attempt = self._base, 0
        while True:
            try:
                self._sink.emit_at(event, decided)
            except Exception as exc:  # nova's emit_event swallows its callback's errors
                attempt += 1
                if attempt == 1:
                    LOG.warning("%s for instance %s (LPAR %s) not handed to nova-compute "
                                "yet: %s; retrying", event.transition.value.upper(),
                                event.instance_uuid, event.lpar_uuid, _why(exc))
            else:
                self._count("delivered")
                return HANDLED
            if self._stopping.wait(delay):
                self._count("requeued")
                LOG.info("%s for instance %s requeued at stop",
                         event.transition.value.upper(), event.instance_uuid)
                return REQUEUE
            delay = min(self._max, delay * 2)

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class _Endpoint:
    """The notification endpoint oslo.messaging dispatches INFO messages to."""

    def __init__(self, receiver: ComputeReceiver):
        self._receiver = receiver

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> str:
        return self._receiver._handle(publisher_id, event_type, payload)


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
