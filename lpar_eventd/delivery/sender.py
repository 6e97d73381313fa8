"""The ``nova-compute`` sink: each decision to nova-compute of its host, over the bus.

The daemon's side of standalone delivery (the package docstring says why
this wire and what it guarantees). A ``NotificationSink`` aimed at one
compute host's queue on nova's exchange: same message, same payload, same
"raise on failure" contract, with the messaging layer's own retries off so
the engine's backoff is the only retry loop and every failed attempt is one
counted, logged retry.

    sink = NovaComputeSink("compute-01", transport_url="rabbit://nova:pw@ctl:5672/")
    sink.emit(event)      # -> queue lpar_eventd_lifecycle.compute-01.info; raises SinkError
    sink.close()

    # the daemon: [DEFAULT] transport_url and control_exchange, [oslo_messaging_rabbit]
    sink = NovaComputeSink("compute-01", conf=conf)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from lpar_eventd.delivery.wire import EXCHANGE, lifecycle_topic, queue_name, rpc_transport_url
from lpar_eventd.engine.ports import LifecycleEvent
from lpar_eventd.nova.conductor import mask_url
from lpar_eventd.sinks.base import DAEMON, SinkError
from lpar_eventd.sinks.notifier import NotificationSink

__all__ = ["NovaComputeSink", "rabbit_queue_warnings", "check_tls_files"]

LOG = logging.getLogger(__name__)

#: The rabbit driver logs each failed publish at ERROR, twice ("Failed to
#: publish...", "Unable to connect..."). For our sends the sink raises that
#: failure and the engine logs it as one line naming the LPAR, so those
#: records, on the sending thread and only inside ``emit``, go to DEBUG.
_DRIVER_LOGGERS = ("oslo.messaging._drivers.impl_rabbit",)
_sending = threading.local()


class _OwnSendErrorsToDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(_sending, "active", False) or record.levelno <= logging.DEBUG:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_FILTER = _OwnSendErrorsToDebug()


def _install_filter() -> None:
    for name in _DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class NovaComputeSink(NotificationSink):
    """Sends decisions to the ``host`` nova-compute's queue; raises when not sent.

    ``host``: that nova-compute's ``[DEFAULT] host``. With ``conf`` alone
    (the daemon's ConfigOpts), the transport is ``[DEFAULT] transport_url``
    with its ``[oslo_messaging_rabbit]`` options (TLS, heartbeat, queue
    types) and the exchange its ``control_exchange``; else ``transport`` or
    ``transport_url`` as for the notification sink, exchange ``nova``.
    ``retry``: reconnection attempts inside oslo.messaging per send; 0 (the
    default) fails a send to a dead broker at once (SinkError) and leaves
    retrying to the engine.
    """

    # In nova-compute the engine calls the driver directly (``nova-driver``).
    processes = frozenset({DAEMON})

    def __init__(self, host: str, transport_url: str | None = None, *,
                 transport: Any = None, conf: cfg.ConfigOpts | None = None,
                 exchange: str | None = None, retry: int | None = 0,
                 publisher_id: str | None = None, wall: Callable[[], float] = time.time):
        if conf is not None:
            rpc_url = rpc_transport_url(conf)  # also registers control_exchange
            if transport is None and transport_url is None:
                transport_url = rpc_url
            exchange = exchange or conf.control_exchange
        super().__init__(transport_url, transport=transport, conf=conf,
                         topics=(lifecycle_topic(host),), retry=retry,
                         exchange=exchange or EXCHANGE,
                         publisher_id=publisher_id or f"lpar-eventd.{socket.gethostname()}",
                         wall=wall)
        self.host = host
        _install_filter()
        if conf is not None and transport is None:
            try:
                check_tls_files(conf)
            except ValueError:
                self.close()
                raise
            for warning in rabbit_queue_warnings(conf, host):
                LOG.warning("%s", warning)
        LOG.info("Decisions go to nova-compute on %s: queue %s on exchange %s over %s",
                 host, queue_name(host), self.exchange,
                 mask_url(transport_url) if transport is None else "the given transport")

    def emit(self, event: LifecycleEvent) -> None:
        _sending.active = True
        try:
            super().emit(event)
        except SinkError as exc:
            raise SinkError(f"{event.transition.value} for instance {event.instance_uuid} "
                            f"not delivered to nova-compute on {self.host}: "
                            f"{exc.__cause__ or exc}") from exc.__cause__
        finally:
            _sending.active = False


_TLS_FILES = ("ssl_ca_file", "ssl_cert_file", "ssl_key_file")


def check_tls_files(conf: cfg.ConfigOpts) -> None:
    """Refuse at start a TLS file the rabbit driver would fail to read on
    every send (ValueError naming the option and the path)."""
    try:
        rabbit = conf.oslo_messaging_rabbit
        paths = [(name, getattr(rabbit, name)) for name in _TLS_FILES]
    except cfg.NoSuchOptError:  # not the rabbit driver
        return
    for name, path in paths:
        if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            raise ValueError(f"[oslo_messaging_rabbit] {name}: {path} is not a readable file")


def rabbit_queue_warnings(conf: cfg.ConfigOpts, host: str) -> list[str]:
    """What the ``[oslo_messaging_rabbit]`` options cost the at-least-once promise."""
    try:
        rabbit = conf.oslo_messaging_rabbit
        durable = rabbit.amqp_durable_queues or rabbit.rabbit_quorum_queue
        auto_delete = rabbit.amqp_auto_delete
    except cfg.NoSuchOptError:  # not the rabbit driver: nothing to say
        return []
    out = []
    if auto_delete:
        out.append(f"[oslo_messaging_rabbit] amqp_auto_delete = true: queue "
                   f"{queue_name(host)} is deleted whenever nova-compute disconnects; "
                   f"decisions sent then are lost")
    if not durable:
        out.append(f"[oslo_messaging_rabbit] amqp_durable_queues and rabbit_quorum_queue "
                   f"are false: queue {queue_name(host)} does not survive a broker "
                   f"restart (decisions waiting in it then are lost)")
    return out
