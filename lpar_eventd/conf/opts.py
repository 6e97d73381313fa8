"""Every option group, for oslo-config-generator (entry point oslo.config.opts).

``set_lib_defaults`` changes library defaults the way nova does (entry
point oslo.config.opts.defaults, so the generated sample shows them too):
oslo.messaging's ``control_exchange`` is ``nova``, because the nova-compute
sink delivers on nova's exchange.
"""

from __future__ import annotations

import copy

from oslo_config import cfg

from lpar_eventd.conf import events, metrics, nova, novalink, sink

_MODULES = (novalink, events, nova, sink, metrics)

#: The ``oslo.config.opts`` namespaces whose options lpar-eventd.conf may
#: hold: ours and oslo.log's. The sample config (tox -e genconfig) lists
#: exactly these, and start-up refuses a group or option none of them has
#: (conf.check). A library whose options the daemon reads from its own
#: configuration (oslo.messaging's, say) goes here too.
NAMESPACES = ("lpar_eventd", "oslo.messaging", "oslo.log")


def set_lib_defaults() -> None:
    """Defaults of other libraries' options, as nova sets them."""
    import oslo_messaging
    oslo_messaging.set_transport_defaults(control_exchange="nova")


def register_all(conf: cfg.ConfigOpts) -> None:
    set_lib_defaults()
    for module in _MODULES:
        module.register_opts(conf)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """(group name, deep copies of its options) for every group."""
    out = []
    for module in _MODULES:
        for group, opts in module.list_opts():
            out.append((group.name, copy.deepcopy(opts)))
    return out
