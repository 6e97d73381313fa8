"""[nova]: how instances are looked up, and which compute host we speak for."""

from __future__ import annotations

import socket

from oslo_config import cfg

group = cfg.OptGroup("nova", title="Nova instance lookups")

OPTS = [
    cfg.StrOpt("lookup", default="conductor",
               choices=[("conductor", "through nova-conductor over oslo.messaging, as "
                                      "nova-compute does (production; needs "
                                      "transport_url, and the daemon's nova must "
                                      "match the controller's release)"),
                        ("database", "nova.objects straight on a nova database at "
                                     "connection (a test bed, or a cell database the "
                                     "daemon may read)")],
               help="How instances are looked up in nova."),
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the nova database (lookup = database only), "
                    "e.g. mysql+pymysql://nova:PASSWORD@controller/nova."),
    cfg.BoolOpt("create_schema", default=False,
                help="Create the schema with nova's own db_sync if the database "
                     "is empty (the embedded default and the demo)."),
    cfg.StrOpt("transport_url", secret=True,
               help="oslo.messaging URL of nova's message bus (lookup = conductor)."),
    cfg.IntOpt("max_concurrent_lookups", default=4, min=1,
               help="Settles running at once: bounds the calls on nova."),
    # nova's own [DEFAULT] host defaults to socket.gethostname() too
    # (nova/conf/netconf.py): on a NovaLink partition the default matches.
    cfg.HostDomainOpt("compute_host", default=socket.gethostname(),
                      sample_default="<current_hostname>",
                      help="The nova compute host this daemon speaks for: the "
                           "[DEFAULT] host of the nova-compute service on this "
                           "NovaLink partition, as nova stores it in "
                           "instance.host. Instances whose host is another (an "
                           "evacuated or migrated instance's stale LPAR here) are "
                           "skipped (reason other_host), as nova-compute's own "
                           "power-state sync refuses them."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(OPTS, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, OPTS)]
