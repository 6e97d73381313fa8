"""The convergence oracle: does nova's view match what PowerVM ended in?

One definition for every harness (virtual clock, demo, daemon tests, scale
and chaos runs): for each LPAR nova manages and that still exists, nova's
power_state must be what its final PartitionState means
(``policy.expected_power_state``); states without a lifecycle meaning
(shutting down, ...) and deleted LPARs or instances are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping

from lpar_eventd.engine import policy

__all__ = ["mismatches"]


def mismatches(managed: Mapping[str, str], final_states: Mapping[str, str],
               power_states: Mapping[str, int]) -> list[str]:
    """One line per LPAR whose instance's power_state is wrong.

    managed: LPAR uuid -> instance uuid; final_states: LPAR uuid -> PowerVM
    state; power_states: instance uuid -> nova power_state.
    """
    out = []
    for lpar, instance in sorted(managed.items()):
        state = final_states.get(lpar)
        power = power_states.get(instance)
        if state is None or power is None:
            continue
        expected = policy.expected_power_state(state)
        if expected is not None and power != expected:
            out.append(f"{lpar}: PowerVM {state!r}, nova power_state {power} "
                       f"(expected {expected})")
    return out
