"""The convergence oracle judges what this host's nova-compute keeps right."""

from nova.compute import power_state, vm_states

from lpar_eventd.engine.ports import InstanceInfo
from lpar_eventd.scale import oracle

HERE, THERE = "compute-a", "compute-b"


def _row(uuid: str, power: int, host: str | None = HERE) -> InstanceInfo:
    return InstanceInfo(uuid, None, power, vm_states.ACTIVE, host)


def test_mismatches_compare_only_what_nova_and_powervm_both_know():
    managed = {"A": "a", "B": "b", "C": "c", "D": "d"}
    states = {"A": "running", "B": "not activated", "C": "running"}   # D gone
    rows = {"a": _row("a", power_state.RUNNING), "b": _row("b", power_state.RUNNING),
            "d": _row("d", power_state.SHUTDOWN)}                    # c deleted
    assert oracle.mismatches(managed, states, rows, HERE) == [
        "B: PowerVM 'not activated', nova power_state 1 (expected 4)"]


def test_an_instance_another_host_runs_is_not_this_hosts_to_fix():
    """An evacuated instance: running on compute-b, its stale LPAR here is off."""
    managed = {"E": "e", "O": "o"}
    states = {"E": "not activated", "O": "not activated"}
    rows = {"e": _row("e", power_state.RUNNING, THERE),
            "o": _row("o", power_state.NOSTATE, None)}   # shelved offloaded: no host
    assert oracle.mismatches(managed, states, rows, HERE) == []
    assert oracle.mismatches(managed, states, rows, THERE) != []


class _Player:
    compute_host = HERE

    def __init__(self, rows):
        self.rows = rows
        self.asked = []

    def instances(self, uuids):
        self.asked.append(sorted(uuids))
        return {u: self.rows[u] for u in uuids if u in self.rows}


def test_nova_mismatches_reads_the_rows_in_one_query_and_judges_this_host():
    player = _Player({"a": _row("a", power_state.SHUTDOWN),
                      "e": _row("e", power_state.RUNNING, THERE)})
    bad = oracle.nova_mismatches({"A": "a", "E": "e"},
                                 {"A": "running", "E": "not activated"}, player)
    assert bad == ["A: PowerVM 'running', nova power_state 4 (expected 1)"]
    assert player.asked == [["a", "e"]]
