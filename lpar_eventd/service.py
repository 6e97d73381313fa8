"""The daemon: wires source -> engine -> lookup -> sink under oslo.service.

Everything that can fail on bad configuration (option checks, plugins by
name, the nova database, the metrics port) is built in ``build()``, before
anything starts, so a bad start is one clear line and a non-zero exit.
``EventdService`` then only starts and stops threads:

* ``start()``: the metrics endpoint and the runtime (feed thread, scheduler,
  settle pool), then READY=1 to systemd (the threading backend does not
  notify by itself). READY means "running and reading or retrying", not
  "NovaLink answered": a host that boots while NovaLink is down must not sit
  in a start timeout and restart loop. Until the first feed read succeeds,
  /healthz answers 503 and the STATUS line says what the feed is waiting for;
* ``stop()``: stop reading, cancel pending settles (``shutdown_mode``), let
  settles in flight finish within ``shutdown_timeout``, flush the sink;
* ``reset()`` (SIGHUP, after oslo.config's mutate): apply mutable options
  (windows, dry_run; oslo.log applies ``debug`` itself).
"""

from __future__ import annotations

import logging
import threading
import time
from importlib import metadata
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Sequence

from oslo_config import cfg
from prometheus_client import REGISTRY, CollectorRegistry

from lpar_eventd import __version__, systemd
from lpar_eventd.conf.events import engine_config
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import BaseHandler, Ports
from lpar_eventd.engine.ports import LifecycleEvent
from lpar_eventd.engine.registry import make_handler
from lpar_eventd.httpd import MetricsServer, load_basic_auth
from lpar_eventd.metrics import Metrics
from lpar_eventd.runtime import Runtime, make_pool
from lpar_eventd.sources.novalink import (
    NovaLinkSettings, NovaLinkSource, NovaLinkStateReader)

__all__ = ["ConfigError", "Daemon", "DryRunSink", "Health", "build", "make_engine",
           "run_engine", "make_service", "make_sinks", "nvram_store", "one_line"]

LOG = logging.getLogger(__name__)

# Options whose new values take effect on SIGHUP.
_MUTABLE_WINDOWS = ("settle_seconds", "max_wait_seconds", "nvram_settle_seconds")


class ConfigError(ValueError):
    """A bad or missing option: the message names it, in one line."""


@dataclass
class Daemon:
    """Everything the service runs, built and checked up front."""

    conf: cfg.ConfigOpts
    metrics: Metrics
    source: NovaLinkSource
    handler: BaseHandler
    runtime: Runtime
    server: MetricsServer
    sink: Any
    health: "Health | None" = None


class DryRunSink:
    """[sink] dry_run: log what would be emitted, emit nothing (a kill switch)."""

    def __init__(self, inner: Any, conf: cfg.ConfigOpts):
        self._inner = inner
        self._conf = conf

    def emit(self, event: LifecycleEvent) -> None:
        if self._conf.sink.dry_run:
            LOG.info("dry run: would emit %s for instance %s (LPAR %s is %s)",
                     event.transition.value.upper(), event.instance_uuid,
                     event.lpar_uuid, event.observed_state)
            return
        self._inner.emit(event)

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class Recorder:
    """--record FILE: every raw event received, in the simulator's replay format."""

    def __init__(self, path: str):
        from lpar_eventd.simulator.replay import write_event
        self._write = write_event
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def record(self, batch: Sequence[Event]) -> None:
        with self._lock:
            for event in batch:
                self._write(self._fh, event.raw_type, event.data,
                            ",".join(sorted(event.details)), timestamp=time.time())
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def novalink_settings(conf: cfg.ConfigOpts) -> NovaLinkSettings:
    nl = conf.novalink
    if not nl.host:
        raise ConfigError("[novalink] host is required")
    if nl.auth == "password" and not (nl.username and nl.password):
        raise ConfigError("[novalink] username and password are required with "
                          "auth = password (or set auth = file on the NovaLink host)")
    if nl.insecure:
        LOG.warning("[novalink] insecure = true: NovaLink's TLS certificate is NOT "
                    "verified")
    return NovaLinkSettings(
        host=nl.host, port=nl.port, protocol=nl.protocol,
        username=nl.username, password=nl.password if nl.auth == "password" else None,
        ca_file=nl.ca_file, insecure=nl.insecure, timeout=nl.timeout,
        backoff_base=min(0.5, nl.reconnect_backoff_max_seconds),
        backoff_max=nl.reconnect_backoff_max_seconds)


def _lookup(conf: cfg.ConfigOpts) -> Any:
    from lpar_eventd.nova.lookup import make_lookup
    nova = conf.nova
    if nova.lookup == "conductor":
        if not nova.transport_url:
            raise ConfigError("[nova] transport_url is required with lookup = conductor")
        return make_lookup("conductor", transport_url=nova.transport_url)
    if not nova.connection:
        raise ConfigError("[nova] connection is required with lookup = database")
    return make_lookup("database", connection=nova.connection, sync=nova.create_schema)


def _sink(conf: cfg.ConfigOpts, lookup: Any) -> Any:
    from lpar_eventd.sinks.base import DAEMON
    return make_sinks(conf, conf.sink.driver, process=DAEMON)


def make_sinks(conf: cfg.ConfigOpts, names: Sequence[str], leading: Sequence[Any] = (),
               process: str | None = None) -> Any:
    """``leading`` sinks, then the sinks ``names`` (stevedore), as one sink
    behind the ``[sink] dry_run`` switch. Every name is checked before any
    sink is built: an unknown one, or (``process``) one that cannot work in
    this process, is a ConfigError naming the option and the choices."""
    from lpar_eventd.sinks.registry import SinkNotFound, sink_plugin
    from lpar_eventd.sinks.tee import TeeSink
    plugins = []
    for name in names:
        try:
            plugins.append((name, sink_plugin(name, process=process)))
        except SinkNotFound as exc:
            raise ConfigError(f"[sink] driver = {name}: {exc}") from None
    sinks = list(leading)
    for name, plugin in plugins:
        kwargs: dict[str, Any] = {}
        if name == "notification":
            if not conf.sink.transport_url:
                raise ConfigError("[sink] transport_url is required for the "
                                  "notification sink")
            kwargs["transport_url"] = conf.sink.transport_url
        elif name == "nova-compute":
            from lpar_eventd.delivery.wire import rpc_transport_url
            rpc_transport_url(conf)  # registers it; its default is a guest on localhost
            if conf.get_location("transport_url").location is cfg.Locations.opt_default:
                raise ConfigError("[DEFAULT] transport_url is required for the "
                                  "nova-compute sink (nova's message bus, as in nova.conf)")
            kwargs.update(host=conf.nova.compute_host, conf=conf)
        sinks.append(plugin(**kwargs))
    inner = sinks[0] if len(sinks) == 1 else TeeSink(*sinks)
    return DryRunSink(inner, conf)


def nvram_store(conf: cfg.ConfigOpts, source: NovaLinkSource) -> Any:
    """The ``[nvram] store`` (None for none), fetching through the source's session."""
    if conf.nvram.store == "none":
        return None
    from lpar_eventd.nvram.factory import make_store
    fetch = None
    try:
        from lpar_eventd.nvram.fetch import PypowervmNvramFetcher
        fetch = PypowervmNvramFetcher(source.adapter)
    except ImportError as exc:
        raise ConfigError(f"[nvram] store = {conf.nvram.store} needs the NVRAM "
                          f"fetcher: {exc}") from None
    return make_store(conf.nvram.store, conf.nvram.path, fetch)


def build(conf: cfg.ConfigOpts, registry: CollectorRegistry | None = None,
          record: str | None = None) -> Daemon:
    """Check the configuration and build every part; raise ConfigError on a bad one."""
    metrics = Metrics(registry if registry is not None else REGISTRY)
    source = NovaLinkSource(novalink_settings(conf), metrics)
    try:
        lookup = _lookup(conf)
        sink = _sink(conf, lookup)
        nvram = nvram_store(conf, source)
    except ConfigError:
        raise
    except Exception as exc:  # a plugin or adapter refused its settings
        raise ConfigError(one_line(exc)) from None
    handler, pool, users = make_engine(conf, metrics, source, lookup, sink, nvram)
    recorder = Recorder(record) if record else None
    runtime, server, health = run_engine(conf, metrics, source, handler, pool, users,
                                 tap=recorder.record if recorder is not None else None)
    return Daemon(conf, metrics, source, handler, runtime, server, sink, health)


def make_engine(conf: cfg.ConfigOpts, metrics: Metrics, source: NovaLinkSource,
                lookup: Any, sink: Any, nvram: Any
                ) -> tuple[BaseHandler, Any, dict[str, bytes] | None]:
    """The policy's handler around its ports, on a settle pool of ``[nova]
    max_concurrent_lookups``, and the /metrics users, as the daemon and the
    embedded mode build them. Raises ConfigError on a bad option or plugin."""
    try:
        pool = make_pool(conf.nova.max_concurrent_lookups)
        handler = make_handler(conf.events.policy,
                               Ports(NovaLinkStateReader(source.adapter), lookup, sink,
                                     nvram),
                               engine_config(conf, conf.nova.max_concurrent_lookups),
                               metrics, executor=pool)
        users = (load_basic_auth(conf.metrics.basic_auth_file)
                 if conf.metrics.basic_auth_file else None)
    except ConfigError:
        raise
    except Exception as exc:  # a plugin or adapter refused its settings
        raise ConfigError(one_line(exc)) from None
    return handler, pool, users


def run_engine(conf: cfg.ConfigOpts, metrics: Metrics, source: NovaLinkSource,
               handler: BaseHandler, pool: Any, users: dict[str, bytes] | None,
               tap: Callable[[Sequence[Event]], None] | None = None
               ) -> tuple[Runtime, MetricsServer, "Health"]:
    """The runtime (feed thread, scheduler), the (not yet started) /metrics
    and /healthz endpoint around a built handler, and the health rule it
    serves. ``tap`` sees every feed batch first (--record)."""
    on_batch = handler.accept_batch
    if tap is not None:
        def on_batch(batch: Sequence[Event], _accept: Any = handler.accept_batch) -> None:
            tap(batch)
            _accept(batch)
    runtime = Runtime(handler, source, pool, on_batch=on_batch)
    health = Health(conf, source, runtime)
    server = MetricsServer(metrics.registry, health, conf.metrics.bind_host,
                           conf.metrics.port, conf.metrics.cert_file,
                           conf.metrics.key_file, users)
    return runtime, server, health


def _nova_version() -> str:
    """The nova the lookups import: it must match the controller's release
    for the conductor lookup (deploy/README.md, "Versions")."""
    try:
        return metadata.version("nova")
    except metadata.PackageNotFoundError:
        return "not installed"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


class Health:
    """200 while the feed was read recently and the scheduler ticks; else 503."""

    def __init__(self, conf: cfg.ConfigOpts, source: NovaLinkSource, runtime: Runtime):
        self._conf = conf
        self._source = source
        self._runtime = runtime

    def __call__(self) -> tuple[bool, str]:
        now = time.monotonic()
        if not self._runtime.alive():
            return False, "scheduler not running"
        if now - self._runtime.last_tick > 10.0:
            return False, f"scheduler stalled for {now - self._runtime.last_tick:.0f} s"
        last = self._source.last_read_at
        error = self._source.last_error
        if last is None:
            return False, "waiting for the first NovaLink feed read" + (
                f" (last try: {error})" if error else "")
        stale = self._conf.novalink.feed_stale_seconds
        if now - last > stale:
            return False, (f"NovaLink feed not read for {now - last:.0f} s (> {stale:g} s)"
                           + (f": {error}" if error else ""))
        return True, "ok"


def make_service(daemon: Daemon) -> Any:
    """The oslo.service Service (threading backend must be initialised first)."""
    from oslo_service import service as os_service

    class EventdService(os_service.Service):
        def __init__(self) -> None:
            super().__init__(threads=4)
            self.daemon = daemon
            self._stopped = threading.Event()
            self._notifier = systemd.Notifier()

        def start(self) -> None:
            super().start()
            LOG.info("lpar_eventd %s starting (nova %s, lookup %s): NovaLink %s, "
                     "policy %s, sink %s", __version__, _nova_version(),
                     daemon.conf.nova.lookup, daemon.conf.novalink.host,
                     daemon.conf.events.policy, ",".join(daemon.conf.sink.driver))
            daemon.runtime.on_tick = self._tick
            daemon.server.start()
            daemon.runtime.start()
            self._notifier.notify("READY=1", f"STATUS={self.status()}")

        def status(self) -> str:
            """The systemd STATUS line: health, and the work queued and running."""
            ok, reason = daemon.health() if daemon.health else (True, "ok")
            feed = "NovaLink feed ok" if ok else reason
            return (f"{feed}; {len(daemon.handler.queue)} pending, "
                    f"{daemon.handler.in_flight()} in flight")

        def _tick(self) -> None:
            self._notifier.watchdog(self.status())

        def stop(self, graceful: bool = False) -> None:
            if self._stopped.is_set():
                return
            self._stopped.set()
            self._notifier.notify("STOPPING=1")
            timeout = daemon.conf.events.shutdown_timeout
            clean = daemon.runtime.stop(daemon.conf.events.shutdown_mode, timeout)
            close = getattr(daemon.sink, "close", None)
            if close is not None:
                close()
            daemon.server.stop()
            LOG.info("lpar_eventd stopped (%s)", "clean" if clean else
                     "settles still running were abandoned")
            super().stop(graceful)

        def reset(self) -> None:
            cfg_now = engine_config(daemon.conf, daemon.conf.nova.max_concurrent_lookups)
            for name in _MUTABLE_WINDOWS:
                setattr(daemon.handler.config, name, getattr(cfg_now, name))
            LOG.info("Configuration reloaded: settle %.1f s, max-wait %.1f s, dry_run %s",
                     cfg_now.settle_seconds, cfg_now.max_wait_seconds,
                     daemon.conf.sink.dry_run)

    return EventdService()
