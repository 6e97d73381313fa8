"""One simulated partition (LPAR or VIOS) and its state machine.

A partition holds what the REST API shows of it (state, reference code,
NVRAM) and knows which operations its current state allows. The event
sequences themselves (the dozen events of a boot, the chatter around a
shutdown) come from ``scale.scenarios.HostBuilder``, so a live operation on
the simulator and a scripted scenario look the same on the wire.

    p = Partition("0A1B...", "vm-1", 3, "not activated")
    p.check_operation("boot")      # ok
    p.check_operation("resume")    # raises InvalidOperation
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = ["STATES", "OPERATIONS", "POWER_OFF_FROM", "Partition", "InvalidOperation",
           "InvalidState"]

# Every PartitionState value NovaLink reports (NOTES.md).
STATES: frozenset[str] = frozenset({
    "not activated", "starting", "running", "open firmware", "shutting down",
    "error", "not available", "hardware discovery", "suspending", "suspended",
    "resuming", "migrating not active", "migrating running", "Unknown"})

_RUNNING = frozenset({"running", "open firmware"})

#: States a PowerOff job stops (as nova's PowerVM driver treats them).
POWER_OFF_FROM: frozenset[str] = frozenset({
    "running", "starting", "open firmware", "error", "shutting down", "suspending",
    "resuming"})
_OFF = frozenset({"not activated", "error"})

# operation -> the states it may start from (None: any state).
OPERATIONS: dict[str, frozenset[str] | None] = {
    "boot": _OFF,
    "shutdown": _RUNNING | {"starting", "error"},
    "reboot": _RUNNING,
    "flap": _RUNNING | {"starting"},
    "suspend": frozenset({"running"}),
    "resume": frozenset({"suspended"}),
    "migrate": frozenset({"running"}),
    "crash": _RUNNING | {"starting"},
    "delete": None,
}

_REFCODES = ("CA00E1F1", "CA00E14D", "CA00E175", "CA00E1DC", "CA00E105",
             "CA260201", "CA26020F", "C2004000", "00000000", "Linux ppc64")


class InvalidOperation(ValueError):
    """The operation is not possible from the partition's current state."""


class InvalidState(ValueError):
    """Not a PartitionState NovaLink knows."""


def check_state(state: str) -> str:
    if state not in STATES:
        raise InvalidState(f"unknown PartitionState {state!r}; "
                           f"choose from {', '.join(sorted(STATES))}")
    return state


@dataclass
class Partition:
    """What the simulated host knows of one partition."""

    uuid: str
    name: str
    id: int
    state: str
    kind: str = "LogicalPartition"
    refcode: str = "00000000"
    nvram_version: int = 0
    revision: int = 0
    memory: int = 2048
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def partition_type(self) -> str:
        return "Virtual IO Server" if self.kind == "VirtualIOServer" else "AIX/Linux"

    @property
    def rmc_state(self) -> str:
        return "active" if self.state == "running" else "inactive"

    @property
    def nvram(self) -> str:
        """NVRAM content: base64 that changes with every NVRAM event."""
        raw = f"NVRAM {self.uuid} v{self.nvram_version}\n".encode() * 8
        return base64.b64encode(raw).decode()

    def check_operation(self, op: str) -> None:
        if op not in OPERATIONS:
            raise InvalidOperation(f"unknown operation {op!r}; choose from "
                                   f"{', '.join(sorted(OPERATIONS))}")
        allowed = OPERATIONS[op]
        if allowed is not None and self.state not in allowed:
            raise InvalidOperation(
                f"cannot {op} LPAR {self.uuid} in state {self.state!r}")

    def apply(self, detail: str, state: str | None) -> None:
        """Apply one event's effect: new state, next progress code, new NVRAM."""
        self.revision += 1
        if state is not None:
            self.state = check_state(state)
        details = detail.split(",") if detail else ()
        if "ReferenceCode" in details:
            self.refcode = _REFCODES[self.revision % len(_REFCODES)]
        if "NVRAM" in details:
            self.nvram_version += 1

    def view(self, ms_uuid: str) -> dict[str, object]:
        """The fields the XML templates and quick properties render."""
        return {"uuid": self.uuid, "name": self.name, "id": self.id,
                "state": self.state, "type": self.partition_type,
                "rmc": self.rmc_state, "refcode": self.refcode,
                "os": "Linux/Red Hat 8.6 ppc64le", "memory": self.memory,
                "ms": ms_uuid, "etag": str(self.revision)}

    def quick(self, ms_uuid: str) -> dict[str, object]:
        """All quick properties (``.../quick/All``)."""
        return {"PartitionName": self.name, "PartitionID": self.id,
                "PartitionState": self.state, "PartitionType": self.partition_type,
                "PartitionUUID": self.uuid, "ReferenceCode": self.refcode,
                "ResourceMonitoringControlState": self.rmc_state,
                "CurrentMemory": self.memory, "IsOperationInProgress": False,
                "OperatingSystemVersion": "Linux/Red Hat 8.6 ppc64le",
                "AssociatedManagedSystem": ms_uuid}
