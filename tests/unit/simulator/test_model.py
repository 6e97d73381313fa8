"""Partition state machine, live operations, the appended scenarios and faults."""

import pytest

from lpar_eventd.scale.scenarios import SCENARIOS, build
from lpar_eventd.simulator.faults import Fault, Faults
from lpar_eventd.simulator.operations import operation_steps
from lpar_eventd.simulator.partition import (
    OPERATIONS, STATES, InvalidOperation, InvalidState, Partition)

MS = "A168A3EC-BB3E-3EAD-86C1-7D98B9D50239"
FINAL = {"boot": "running", "shutdown": "not activated", "reboot": "running",
         "flap": "running", "suspend": "suspended", "crash": "error"}


def _part(state):
    return Partition("0A000000-0000-4000-8000-000000000001", "vm", 2, state)


@pytest.mark.parametrize("op,start", [("boot", "not activated"), ("shutdown", "running"),
                                      ("reboot", "running"), ("flap", "running"),
                                      ("suspend", "running"), ("crash", "running")])
def test_operations_end_in_their_state(op, start):
    part = _part(start)
    steps = operation_steps(part, op, MS, seed=1)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    for step in steps:
        part.apply(step.detail, step.state)
    assert part.state == FINAL[op]
    if op in ("boot", "reboot"):
        assert len(steps) >= 10 and part.nvram_version >= 1


def test_resume_migrate_delete():
    assert operation_steps(_part("suspended"), "resume", MS, 1)[-1].state == "running"
    migrate = operation_steps(_part("running"), "migrate", MS, 1)
    assert migrate[0].state == "migrating running" and migrate[-1].event_type == "DELETE_URI"
    assert [s.event_type for s in operation_steps(_part("not activated"), "delete", MS, 1)] \
        == ["DELETE_URI"]


def test_invalid_operations_and_states():
    with pytest.raises(InvalidOperation):
        _part("not activated").check_operation("resume")
    with pytest.raises(InvalidOperation):
        _part("running").check_operation("explode")
    with pytest.raises(InvalidState):
        _part("running").apply("PartitionState", "bogus")
    assert set(OPERATIONS) >= {"boot", "shutdown", "reboot", "flap", "delete", "migrate"}


@pytest.mark.parametrize("name", ["migration", "suspend", "overflow"])
def test_appended_scenarios(name):
    sc = build(name, 6, 1)
    assert name in SCENARIOS and sc.steps[0].event_type == "NEW_CLIENT"
    states = {s.state for s in sc.host_events() if s.state}
    assert states <= STATES


def test_faults_are_consumed_in_order():
    faults = Faults()
    faults.arm(Fault("error", count=2, path="/rest/api/uom/Event"))
    faults.arm(Fault("slow", count=None, delay=0.1))
    assert faults.match("/rest/api/uom/Event").kind == "error"
    assert faults.match("/rest/api/uom/LogicalPartition").kind == "slow"
    assert faults.match("/rest/api/uom/Event").kind == "error"
    assert faults.match("/rest/api/uom/Event").kind == "slow"
    with pytest.raises(ValueError):
        Fault("meteor")
    with pytest.raises(ValueError):
        Fault.from_dict({"kind": "error", "colour": "red"})
