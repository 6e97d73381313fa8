"""The one place lpar_eventd touches nova's global configuration.

nova.objects, nova.db and nova.rpc read ``nova.conf.CONF``, a process-wide
``ConfigOpts`` that nova's own services fill from ``nova.conf``. lpar_eventd
has its own options (``[nova] lookup``, ``database connection``, the
transport URL), so instead of parsing nova's files it sets the few nova
options it needs as overrides, here and nowhere else. Everything else in
nova's CONF keeps nova's defaults.

It is safe to call more than once: the last URL wins, which is what tests
that build several databases in one process need (each lookup also carries
its own database handle on its request context, see ``database.py``).

    conf = configure_nova(connection="sqlite:////var/lib/lpar_eventd/nova.sqlite")
"""

from __future__ import annotations

import threading

import nova.conf
from oslo_config import cfg

__all__ = ["configure_nova", "register_objects", "nova_conf"]

_lock = threading.Lock()
_registered = False


def nova_conf() -> cfg.ConfigOpts:
    """nova's global CONF (for reading; set it through configure_nova)."""
    return nova.conf.CONF


def register_objects() -> None:
    """``nova.objects.register_all()`` once per process (it is not cheap)."""
    global _registered
    with _lock:
        if not _registered:
            from nova import objects
            objects.register_all()
            _registered = True


def configure_nova(connection: str | None = None,
                   transport_url: str | None = None) -> cfg.ConfigOpts:
    """Point nova's CONF at ``connection`` ([database]) and ``transport_url``.

    ``connection`` is any SQLAlchemy URL; nova also reads it to choose how
    to filter by regex (sqlite, mysql, postgresql), so it must be set even
    when the database handle is passed on the context. ``transport_url`` is
    the oslo.messaging URL of nova's message bus (conductor mode).
    """
    register_objects()
    conf = nova.conf.CONF
    with _lock:
        if connection is not None:
            conf.set_override("connection", connection, group="database")
        if transport_url is not None:
            _register_transport_opts(conf)
            conf.set_override("transport_url", transport_url)
    return conf


def _register_transport_opts(conf: cfg.ConfigOpts) -> None:
    """oslo.messaging registers ``transport_url`` when it first parses one."""
    import oslo_messaging
    oslo_messaging.TransportURL.parse(conf)
