"""lpar_eventd inside nova-compute: what a PowerVM compute driver calls.

A compute driver replaces its own NovaLink event handler with lpar_eventd's
engine in two calls (deploy/README.md, "Embedding in a compute driver"):

    from lpar_eventd import embed

    def init_host(self, host):                 # the driver's Adapter exists
        self._eventd = embed.start(self, self.adapter, host=host,
                                   config_files=["/etc/lpar-eventd/lpar-eventd.conf"])

    def cleanup_host(self, host):
        self._eventd.stop()

``start`` builds what the standalone daemon builds (``service.make_engine``
and ``run_engine``: the policy's handler, its settle pool, the scheduler
thread, the health check), around ports that belong to nova-compute:

* the NovaLink feed and state reads go through the driver's own pypowervm
  Adapter (``NovaLinkSource.on_adapter``: never logged off, never replaced);
* instances are read with nova.objects as nova-compute set them up: through
  nova-conductor (its indirection API and transport, reused, nothing
  re-wired), with nova's admin context;
* every decision goes to the driver's ``emit_event`` (``DriverSink``): nova's
  own ``handle_lifecycle_event`` then double-checks the driver's state and
  syncs; ``[sink] driver`` names further sinks (``log``, ``notification``;
  ``nova-compute``, the daemon's way here, is this sink already);
* ``/metrics`` and ``/healthz`` are served from inside nova-compute when the
  operator sets ``[metrics] port`` (or the driver passes ``serve=True``);
  the registry is the embedded engine's own, with the process collector.

``stop`` (from ``cleanup_host``) stops reading, cancels pending settles, as
nova-compute itself does with lifecycle events on host shutdown (``[events]
shutdown_mode``), lets settles in flight finish within ``shutdown_timeout``
and closes the sinks. Nothing is lost: the next start begins with a resync.

Errors: a bad option or plugin raises ``ConfigError`` (one line naming it),
a metrics port in use raises ``OSError``; nothing is started then.

Standalone mode instead (the ``lpar-eventd`` daemon decides, elsewhere):
``receive(self, CONF, host)`` from ``init_host`` takes its decisions off
nova's bus into ``emit_event`` (``lpar_eventd.delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oslo_config import cfg
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from lpar_eventd.conf import opts
from lpar_eventd.engine.handler import BaseHandler
from lpar_eventd.httpd import MetricsServer
from lpar_eventd.metrics import Metrics
from lpar_eventd.nova.database import DB_ERRORS
from lpar_eventd.nova.lookup import NovaObjectsLookup
from lpar_eventd.runtime import Runtime
from lpar_eventd.service import (
    ConfigError, Health, make_engine, make_sinks, nvram_store, one_line, run_engine)
from lpar_eventd.sinks.base import NOVA_COMPUTE
from lpar_eventd.sinks.driver import DriverSink
from lpar_eventd.sources.novalink import NovaLinkSettings, NovaLinkSource

__all__ = ["Embedded", "Receiving", "NovaComputeLookup", "load_config", "start", "receive",
           "ConfigError"]

LOG = logging.getLogger(__name__)

#: The driver's own sink, always there, first; and what it stands for inside
#: nova-compute: the daemon's way to nova-compute (its default sink).
_IMPLIED_SINKS = frozenset({"nova-driver", "nova-compute"})


class NovaComputeLookup(NovaObjectsLookup):
    """nova.objects as the hosting nova-compute set them up.

    Unlike ``ConductorLookup`` it wires nothing: nova-compute already sent
    every remotable call to nova-conductor (``NovaObject.indirection_api``)
    over its own transport, and a guest in its process must not change that.
    A conductor that does not answer is NovaUnavailable like a database.
    """

    endpoint = "nova-compute's conductor"

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        import oslo_messaging
        return (oslo_messaging.MessagingException, *DB_ERRORS)


@dataclass
class Embedded:
    """A running embedded engine (what ``start`` returns)."""

    conf: cfg.ConfigOpts
    metrics: Metrics
    source: NovaLinkSource
    handler: BaseHandler
    runtime: Runtime
    server: MetricsServer | None
    sink: Any
    _stopped: bool = False

    @property
    def metrics_url(self) -> str | None:
        """Where /metrics and /healthz are served (None: not served)."""
        return self.server.url if self.server is not None else None

    def healthy(self) -> tuple[bool, str]:
        """The daemon's health rule: the feed read recently, the scheduler ticks."""
        return Health(self.conf, self.source, self.runtime)()

    def stop(self, mode: str | None = None, timeout: float | None = None) -> bool:
        """Stop reading, cancel (``[events] shutdown_mode``) pending settles,
        finish those in flight within ``timeout`` (``shutdown_timeout``), close
        the sinks and the endpoint. True when nothing was left running; safe
        to call twice."""
        if self._stopped:
            return True
        self._stopped = True
        events = self.conf.events
        clean = self.runtime.stop(mode or events.shutdown_mode,
                                  events.shutdown_timeout if timeout is None else timeout)
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
        if self.server is not None:
            self.server.stop()
        LOG.info("lpar_eventd (embedded) stopped (%s)", "clean" if clean else
                 "settles still running were abandoned")
        return clean


def load_config(config_files: Sequence[str] = (),
                overrides: Mapping[str, Any] | None = None) -> cfg.ConfigOpts:
    """lpar_eventd's options (its own ConfigOpts, never nova's CONF: the group
    names would clash) from ``config_files``, then ``overrides`` given as
    ``{"group.option": value}``. Raises ConfigError naming a bad file or option."""
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    try:
        conf(args=[], project="lpar-eventd", default_config_files=list(config_files))
        for dotted, value in (overrides or {}).items():
            group, _, name = dotted.partition(".")
            conf.set_override(name, value, group=group)
    except (cfg.Error, ValueError) as exc:
        raise ConfigError(f"lpar_eventd configuration: {one_line(exc)}") from None
    # oslo.config checks a value when it is read: read each once now, so a bad
    # one stops init_host instead of a settle later (as the daemon's start does)
    for group, options in opts.list_opts():
        for opt in options:
            try:
                getattr(conf[group], opt.dest)
            except (cfg.Error, ValueError) as exc:
                raise ConfigError(f"lpar_eventd configuration: [{group}] {opt.name}: "
                                  f"{one_line(exc)}") from None
    return conf


def start(driver: Any, adapter: Any, *, host: str | None = None,
          conf: cfg.ConfigOpts | None = None, config_files: Sequence[str] = (),
          nvram: Any = None, registry: CollectorRegistry | None = None,
          serve: bool | None = None) -> Embedded:
    """Start lpar_eventd on ``driver`` (a nova ComputeDriver) and its pypowervm
    ``adapter``; returns the running engine (call ``stop`` from cleanup_host).

    ``host`` is nova-compute's host name (instances nova placed elsewhere are
    not this host's to change); ``conf`` or ``config_files`` lpar_eventd's
    options (``load_config``); ``nvram`` the driver's NvramStore, else
    ``[nvram] store``; ``serve`` forces the /metrics endpoint on or off
    (default: on when ``[metrics] port`` is set).
    """
    conf = conf if conf is not None else load_config(config_files)
    if host and "compute_host" in conf.nova:
        conf.set_override("compute_host", host, group="nova")
    metrics = Metrics(registry if registry is not None else _process_registry())
    source = NovaLinkSource.on_adapter(adapter, metrics, _timing(conf, adapter))
    try:
        sink = make_sinks(conf, [n for n in conf.sink.driver if n not in _IMPLIED_SINKS],
                          leading=[DriverSink(driver)], process=NOVA_COMPUTE)
        if nvram is None:
            nvram = nvram_store(conf, source)
    except ConfigError:
        raise
    except Exception as exc:  # a plugin refused its settings
        raise ConfigError(one_line(exc)) from None
    handler, pool, users = make_engine(conf, metrics, source, NovaComputeLookup(), sink,
                                       nvram)
    runtime, server, _ = run_engine(conf, metrics, source, handler, pool, users)
    wanted = serve if serve is not None else _port_configured(conf)
    if wanted:
        server.start()
    runtime.start()
    LOG.info("lpar_eventd embedded in nova-compute: policy %s, host %s, sinks %s%s",
             conf.events.policy, host or "(any)", _sink_names(conf),
             f", metrics on {server.url}/metrics" if wanted else "")
    return Embedded(conf, metrics, source, handler, runtime, server if wanted else None,
                    sink)


class Receiving:
    """The standalone mode's other end, running in nova-compute (``receive``)."""

    def __init__(self, receiver: Any):
        self.receiver = receiver

    def healthy(self) -> tuple[bool, str]:
        return True, f"taking decisions from queue {self.receiver.queue}"

    def stop(self) -> None:
        """Stop taking decisions (one being retried goes back to the queue)
        and release the connection; safe to call twice."""
        self.receiver.stop()
        self.receiver.wait()


def receive(driver: Any, conf: Any, host: str | None = None) -> Receiving:
    """Standalone mode, the driver's side: take the decisions the
    ``lpar-eventd`` daemon sends this host over nova's bus (``[DEFAULT]
    transport_url`` and ``[oslo_messaging_rabbit]`` of ``conf``, nova's CONF)
    and hand each to ``driver.emit_event`` (``delivery.ComputeReceiver``).
    Call from ``init_host``; ``stop()`` from ``cleanup_host``."""
    from lpar_eventd.delivery import ComputeReceiver
    return Receiving(ComputeReceiver.from_conf(driver, conf, host).start())


def _process_registry() -> CollectorRegistry:
    """A registry of its own (one per embedded engine), with the process and
    platform collectors the daemon's default registry has."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def _timing(conf: cfg.ConfigOpts, adapter: Any) -> NovaLinkSettings:
    """Backoff and timeouts of [novalink]; where NovaLink is, the adapter says."""
    nl = conf.novalink
    return NovaLinkSettings(host=adapter.session.host, timeout=nl.timeout,
                            backoff_base=min(0.5, nl.reconnect_backoff_max_seconds),
                            backoff_max=nl.reconnect_backoff_max_seconds)


def _sink_names(conf: cfg.ConfigOpts) -> str:
    return ",".join(["nova-driver"] + [n for n in conf.sink.driver
                                       if n not in _IMPLIED_SINKS])


def _port_configured(conf: cfg.ConfigOpts) -> bool:
    """Whether the operator set [metrics] port (not left at its default)."""
    location = conf.get_location("port", "metrics")
    return location is not None and location.location is not cfg.Locations.opt_default
