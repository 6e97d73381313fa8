"""Wiring nova.objects to nova-conductor, as nova-compute does.

nova-compute has no database access: it sets
``NovaObject.indirection_api`` to nova's conductor RPC client, after which
every remotable nova.objects call (``Instance.get_by_uuid``,
``InstanceList.get_by_filters``) is serialised and sent to nova-conductor
over oslo.messaging, which runs it against the cell database and sends the
object back. lpar_eventd's ``conductor`` lookup does the same with nova's
own pieces: ``nova.rpc.init`` builds the transport from ``transport_url``
(the usual ``rabbit://user:pass@host:5672/`` of nova.conf), and
``nova.conductor.rpcapi.ConductorAPI`` is the client.

Process-wide by nature: the indirection API is a class attribute of
NovaObject and nova's transport a module global. When lpar_eventd runs
inside nova-compute (library mode) both are already set and are reused.

    wiring = use_conductor("rabbit://nova:secret@ctl:5672/")
    wiring.safe_url    # 'rabbit://nova:***@ctl:5672/'
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from lpar_eventd.nova.config import configure_nova

__all__ = ["ConductorWiring", "use_conductor", "stop_using_conductor", "mask_url"]

LOG = logging.getLogger(__name__)

_lock = threading.Lock()


@dataclass(frozen=True)
class ConductorWiring:
    """What use_conductor set up (for logs, health and tests)."""

    transport: Any
    api: Any
    safe_url: str
    owned_transport: bool


def mask_url(url: str | None) -> str:
    """A transport URL with its passwords replaced by ``***``."""
    if not url:
        return "(nova default transport)"
    return re.sub(r"(://|,)([^:@/,]+):([^@/]*)@", r"\1\2:***@", url)


def use_conductor(transport_url: str | None = None,
                  timeout: float | None = None) -> ConductorWiring:
    """Send this process's nova.objects calls to nova-conductor.

    ``transport_url`` overrides nova's ``[DEFAULT] transport_url``;
    ``timeout`` its ``rpc_response_timeout`` (how long a lookup waits for the
    conductor before raising MessagingTimeout, which the lookup turns into
    NovaUnavailable). Reuses a transport nova already initialised.
    """
    from nova import rpc
    from nova.conductor import rpcapi as conductor_rpcapi
    from nova.objects import base as objects_base

    conf = configure_nova(transport_url=transport_url)
    with _lock:
        owned = rpc.TRANSPORT is None
        if owned:
            # nova's services set this before rpc.init (nova.config.set_lib_defaults):
            # nova-conductor listens on exchange "nova", not oslo's "openstack".
            rpc.set_defaults(control_exchange="nova")
            rpc.init(conf)
        api = conductor_rpcapi.ConductorAPI()   # registers the client options
        if timeout is not None:
            conf.set_override("rpc_response_timeout", int(max(1, timeout)))
        objects_base.NovaObject.indirection_api = api
    safe = mask_url(transport_url or conf.transport_url)
    LOG.info("nova.objects calls go to nova-conductor over %s", safe)
    return ConductorWiring(rpc.TRANSPORT, api, safe, owned)


def stop_using_conductor(wiring: ConductorWiring) -> None:
    """Undo use_conductor (tests; shutdown). Leaves a transport nova owns."""
    from nova import rpc
    from nova.objects import base as objects_base

    with _lock:
        if objects_base.NovaObject.indirection_api is wiring.api:
            objects_base.NovaObject.indirection_api = None
        if wiring.owned_transport and rpc.TRANSPORT is wiring.transport:
            rpc.cleanup()
