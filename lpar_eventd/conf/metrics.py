"""[metrics]: the /metrics and /healthz endpoint."""

from __future__ import annotations

from oslo_config import cfg

group = cfg.OptGroup("metrics", title="Metrics endpoint")

OPTS = [
    cfg.HostAddressOpt("bind_host", default="0.0.0.0",  # noqa: S104  # nosec B104 - scraped remotely
                       help="Address to serve /metrics and /healthz on. Prometheus "
                            "scrapes each NovaLink host's daemon from elsewhere, so "
                            "the default is every IPv4 address; 127.0.0.1 keeps it "
                            "local (a local Prometheus or a proxy). On an untrusted "
                            "network set cert_file, key_file and basic_auth_file."),
    cfg.PortOpt("port", default=9826, help="Port of /metrics and /healthz (0: any)."),
    cfg.StrOpt("cert_file", help="TLS certificate (PEM); with key_file enables HTTPS."),
    cfg.StrOpt("key_file", help="TLS private key (PEM)."),
    cfg.StrOpt("basic_auth_file",
               help="htpasswd-style file of user:bcrypt-hash lines "
                    "(htpasswd -B); when set, /metrics needs basic auth."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(OPTS, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, OPTS)]
