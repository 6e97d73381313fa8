"""[events] and [cache]: the engine's windows, bounds and cache sizes."""

from __future__ import annotations

from oslo_config import cfg

from lpar_eventd.engine.handler import EngineConfig

events_group = cfg.OptGroup("events", title="Event coalescing")
cache_group = cfg.OptGroup("cache", title="Engine caches")

EVENTS_OPTS = [
    cfg.StrOpt("policy", default="default",
               help="Event policy by name (stevedore lpar_eventd.policies entry "
                    "points): default (lpar_eventd's); reference (the 2017 "
                    "nova-powervm fix) and legacy (the handler before it) only to "
                    "compare. An unknown name stops start-up with the installed ones."),
    cfg.FloatOpt("settle_seconds", default=15.0, min=0.0, mutable=True,
                 help="Quiet time after an LPAR's last PartitionState event "
                      "before it is settled; newer events restart it."),
    cfg.FloatOpt("max_wait_seconds", default=60.0, min=0.0, mutable=True,
                 help="An LPAR that keeps changing is settled at most this "
                      "long after its first pending event."),
    cfg.IntOpt("max_pending", default=10000, min=1,
               help="LPARs waiting to settle at most; past it the oldest "
                    "settle early (counted), nothing is dropped."),
    cfg.FloatOpt("nvram_settle_seconds", default=2.0, min=0.0, mutable=True,
                 help="Coalescing window for an LPAR's NVRAM events."),
    cfg.FloatOpt("retry_base_seconds", default=1.0, min=0.01,
                 help="First retry delay after a failed settle; doubles."),
    cfg.FloatOpt("retry_max_seconds", default=60.0, min=0.01,
                 help="Longest retry delay."),
    cfg.FloatOpt("resync_min_interval_seconds", default=10.0, min=0.0,
                 help="At most one resync per interval; triggers in between "
                      "are coalesced into the next one."),
    cfg.IntOpt("resync_batch_size", default=100, min=1,
               help="LPARs verified per bulk nova call during a resync."),
    cfg.FloatOpt("resync_batch_interval_seconds", default=0.5, min=0.0,
                 help="Spacing between a resync's bulk calls."),
    cfg.StrOpt("shutdown_mode", default="cancel",
               choices=[("cancel", "drop pending settles, as nova does on host "
                                   "shutdown (settling then would report LPARs "
                                   "stopped by the host's own shutdown); the next "
                                   "start resyncs"),
                        ("settle", "settle every pending LPAR at once")],
               help="What SIGTERM does with settles still waiting."),
    cfg.FloatOpt("shutdown_timeout", default=10.0, min=0.0,
                 help="How long settles in flight may take to finish at shutdown."),
]

CACHE_OPTS = [
    cfg.IntOpt("instance_cache_size", default=20000, min=1,
               help="LPARs remembered per cache (last state, uuid form, "
                    "not found)."),
    cfg.FloatOpt("instance_ttl_seconds", default=3600.0, min=0.0,
                 help="How long an LPAR's uuid form and last acted-on state "
                      "are remembered."),
    cfg.FloatOpt("not_found_ttl_seconds", default=300.0, min=0.0,
                 help="How long an LPAR nova does not know is remembered as "
                      "such (saves two nova calls per settle)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(events_group)
    conf.register_opts(EVENTS_OPTS, group=events_group)
    conf.register_group(cache_group)
    conf.register_opts(CACHE_OPTS, group=cache_group)


def engine_config(conf: cfg.ConfigOpts, max_concurrent: int = 4) -> EngineConfig:
    """The EngineConfig these options (and ``[nova] compute_host``) describe."""
    ev, ca = conf.events, conf.cache
    return EngineConfig(
        compute_host=conf.nova.compute_host,
        settle_seconds=ev.settle_seconds, max_wait_seconds=ev.max_wait_seconds,
        max_pending=ev.max_pending, nvram_settle_seconds=ev.nvram_settle_seconds,
        retry_base_seconds=ev.retry_base_seconds,
        retry_max_seconds=ev.retry_max_seconds,
        resync_min_interval_seconds=ev.resync_min_interval_seconds,
        resync_batch_size=ev.resync_batch_size,
        resync_batch_interval_seconds=ev.resync_batch_interval_seconds,
        max_concurrent=max_concurrent, cache_size=ca.instance_cache_size,
        state_ttl_seconds=ca.instance_ttl_seconds,
        instance_ttl_seconds=ca.instance_ttl_seconds,
        not_found_ttl_seconds=ca.not_found_ttl_seconds)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(events_group, EVENTS_OPTS), (cache_group, CACHE_OPTS)]
