"""The convergence oracle: does nova's view match what PowerVM ended in?

One definition for every harness (virtual clock, demo, daemon tests, scale
and chaos runs): for each LPAR nova manages and that still exists, nova's
power_state must be what its final PartitionState means
(``policy.expected_power_state``). Not judged: states without a lifecycle
meaning (shutting down, ...), deleted LPARs or instances, and instances nova
says another compute host runs (``instance.host`` is not this host, or None):
their LPAR here is a stale copy, and nova's view of them is the other host's
to keep (nova-compute's own power sync refuses them too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lpar_eventd.engine import policy
from lpar_eventd.engine.ports import InstanceInfo

__all__ = ["mismatches", "nova_mismatches"]


def mismatches(managed: Mapping[str, str], final_states: Mapping[str, str],
               instances: Mapping[str, InstanceInfo], this_host: str) -> list[str]:
    """One line per LPAR whose instance's power_state is wrong.

    managed: LPAR uuid -> instance uuid; final_states: LPAR uuid -> PowerVM
    state; instances: instance uuid -> nova's row (InstanceInfo); this_host:
    the compute host whose view is judged.
    """
    out = []
    for lpar, instance in sorted(managed.items()):
        state = final_states.get(lpar)
        row = instances.get(instance)
        if state is None or row is None or row.host != this_host:
            continue
        expected = policy.expected_power_state(state)
        if expected is not None and row.power_state != expected:
            out.append(f"{lpar}: PowerVM {state!r}, nova power_state {row.power_state} "
                       f"(expected {expected})")
    return out


def nova_mismatches(managed: Mapping[str, str], final_states: Mapping[str, str],
                    nova: Any) -> list[str]:
    """``mismatches`` with nova's rows read in one query from ``nova``
    (anything with ``instances(uuids)`` and ``compute_host``: the harness's
    nova-compute player on a real nova database)."""
    rows = nova.instances(list(managed.values()))
    return mismatches(managed, final_states, rows, nova.compute_host)
