"""[sink] and [nvram]: where decisions and NVRAM go."""

from __future__ import annotations

from oslo_config import cfg

sink_group = cfg.OptGroup("sink", title="Lifecycle event sink")
nvram_group = cfg.OptGroup("nvram", title="NVRAM store")

SINK_OPTS = [
    cfg.ListOpt("driver", default=["log"],
                help="Sinks (stevedore lpar_eventd.sinks), each event goes to "
                     "every one in order: log, notification, nova-compute (to "
                     "nova-compute of [nova] compute_host over [DEFAULT] transport_url, "
                     "nova's message bus). nova-driver works only inside "
                     "nova-compute (library mode: lpar_eventd.embed puts it first "
                     "by itself) and is refused here."),
    cfg.BoolOpt("dry_run", default=False, mutable=True,
                help="Decide and count everything but emit nothing except a "
                     "log line (a kill switch)."),
    cfg.StrOpt("transport_url", secret=True,
               help="oslo.messaging URL for the notification sink."),
]

NVRAM_OPTS = [
    cfg.StrOpt("store", default="none", choices=["none", "directory"],
               help="none, or directory: one file per instance under path."),
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
