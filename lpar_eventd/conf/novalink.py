"""[novalink]: where NovaLink is and how lpar_eventd logs on."""

from __future__ import annotations

from oslo_config import cfg

group = cfg.OptGroup("novalink", title="NovaLink REST API")

OPTS = [
    cfg.HostAddressOpt("host", help="NovaLink host name or address (required)."),
    cfg.PortOpt("port", help="REST port; default 12443 for https, 12080 for http."),
    cfg.StrOpt("protocol", default="https",
               choices=[("https", "TLS, verified against ca_file"),
                        ("http", "plain HTTP: only on the NovaLink partition itself, "
                                 "with auth = file")],
               help="How to reach NovaLink's REST API."),
    cfg.StrOpt("auth", default="password",
               choices=[("password", "username and password"),
                        ("file", "NovaLink's local file authentication (no "
                                 "password; the daemon runs on the NovaLink host)")],
               help="How to log on to NovaLink."),
    cfg.StrOpt("username", help="User for password authentication."),
    cfg.StrOpt("password", secret=True, help="Password for password authentication."),
    cfg.StrOpt("ca_file", help="CA bundle that signs NovaLink's certificate; "
                               "default: the system bundle."),
    cfg.BoolOpt("insecure", default=False,
                help="Do not verify NovaLink's TLS certificate (a warning is "
                     "logged at start). Never in production."),
    cfg.FloatOpt("timeout", default=60.0, min=1.0,
                 help="Per-request timeout; must exceed NovaLink's 10 s long poll."),
    cfg.FloatOpt("reconnect_backoff_max_seconds", default=30.0, min=0.01,
                 help="Longest wait between failed feed reads (exponential "
                      "backoff from 0.5 s with jitter, capped here)."),
    cfg.FloatOpt("feed_stale_seconds", default=120.0, min=1.0,
                 help="/healthz reports 503 when the feed was not read this long."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(OPTS, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, OPTS)]
