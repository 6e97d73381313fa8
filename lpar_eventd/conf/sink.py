"""[sink] and [nvram]: where decisions and NVRAM go."""

from __future__ import annotations

from oslo_config import cfg

sink_group = cfg.OptGroup("sink", title="Lifecycle event sink")
nvram_group = cfg.OptGroup("nvram", title="NVRAM store")

SINK_OPTS = [
    cfg.ListOpt("driver", default=["nova-compute"],
                help="Where lifecycle events go: sinks by name (stevedore "
                     "lpar_eventd.sinks entry points), each event to every one in "
                     "order. nova-compute: to the nova-compute of [nova] "
                     "compute_host over nova's message bus ([DEFAULT] "
                     "transport_url, [oslo_messaging_rabbit]), where the compute "
                     "driver's lpar_eventd receiver hands it to nova's lifecycle "
                     "handling; notification: an oslo.messaging notification "
                     "(needs [sink] transport_url); log: a log line per event; "
                     "nova-driver: nova's virt driver, in library mode inside "
                     "nova-compute only (lpar_eventd.embed puts it first by "
                     "itself). An unknown name stops start-up with the "
                     "installed ones."),
    cfg.BoolOpt("dry_run", default=False, mutable=True,
                help="Decide and count everything but emit nothing except a "
                     "log line (a kill switch)."),
    cfg.StrOpt("transport_url", secret=True,
               help="oslo.messaging URL for the notification sink."),
]

NVRAM_OPTS = [
    cfg.StrOpt("store", default="none",
               choices=[("none", "NVRAM events are counted, nothing is stored"),
                        ("directory", "one file per instance under path")],
               help="Where coalesced NVRAM events store the LPAR's NVRAM."),
    cfg.StrOpt("path", default="/var/lib/lpar-eventd/nvram",
               help="Directory of the directory store."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(sink_group)
    conf.register_opts(SINK_OPTS, group=sink_group)
    conf.register_group(nvram_group)
    conf.register_opts(NVRAM_OPTS, group=nvram_group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(sink_group, SINK_OPTS), (nvram_group, NVRAM_OPTS)]
