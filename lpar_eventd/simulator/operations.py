"""Live operations on one LPAR, as event sequences from the shared builder.

``boot``, ``shutdown``, ``reboot``, ``flap``, ``suspend``, ``resume``,
``migrate`` (away), ``crash`` and ``delete`` each become the steps
``scale.scenarios.HostBuilder`` generates for a scenario, with its jitter and
ReferenceCode / Other / NVRAM chatter, starting at t=0. The partition's
state machine says whether the operation is possible now.

    steps = operation_steps(host.lpar(uuid), "reboot", host.ms_uuid, seed=7)
"""

from __future__ import annotations

from lpar_eventd.scale.scenarios import HostBuilder, HostEvent, lpar_path
from lpar_eventd.simulator.partition import OPERATIONS, Partition

__all__ = ["operation_steps", "OPERATIONS"]

FLAP_SECONDS = 30.0


def operation_steps(part: Partition, op: str, ms_uuid: str, seed: int) -> list[HostEvent]:
    """The host events of ``op`` on ``part``; raises InvalidOperation."""
    part.check_operation(op)
    b = HostBuilder.for_host(ms_uuid, seed)
    uuid = part.uuid
    if op == "boot":
        b.boot(0.0, uuid)
    elif op == "shutdown":
        b.shutdown(0.0, uuid)
    elif op == "reboot":
        b.boot(b.shutdown(0.0, uuid) + b.jitter(2.0), uuid)
    elif op == "flap":
        b.flap(0.0, uuid, FLAP_SECONDS)
    elif op == "delete":
        _delete(b, part)
    else:
        getattr(b, {"migrate": "migrate_out"}.get(op, op))(0.0, uuid)
    b.sc.steps.sort(key=lambda s: s.at)
    return [s for s in b.sc.steps if isinstance(s, HostEvent)]


def _delete(b: HostBuilder, part: Partition) -> None:
    t = 0.0
    if part.state not in ("not activated", "error"):
        t = b.shutdown(0.0, part.uuid) + b.jitter(1.0)
    b.event(t, "DELETE_URI", lpar_path(b.sc.ms_uuid, part.uuid), "", part.uuid)
