"""The simulator's state and operations, owned by its event loop.

Everything that changes the simulated NovaLink goes through ``SimCore`` on
the loop thread: the REST handlers, the control API and the Python API
(``server.Simulator`` hops onto the loop to call it). One owner, no locks.

    core = SimCore(SimConfig(port=0), token_dir)
    task = core.play(build("deploy-storm", 10, 1), speed=100)
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from pathlib import Path

from lpar_eventd.scale.scenarios import HostEvent, NovaChange, Scenario
from lpar_eventd.simulator.auth import Authenticator
from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.counters import Counters
from lpar_eventd.simulator.faults import Faults
from lpar_eventd.simulator.host import Host
from lpar_eventd.simulator.operations import operation_steps
from lpar_eventd.simulator.partition import POWER_OFF_FROM, check_state
from lpar_eventd.simulator.player import Gate, NovaCallback, play
from lpar_eventd.simulator.queues import EventQueues
from lpar_eventd.simulator.replay import ReplayEvent

__all__ = ["SimCore"]

#: States already on their way somewhere: a power-off ends them at once.
_OP_IN_FLIGHT = frozenset({"shutting down", "suspending", "resuming"})

_MS_IN_PATH = re.compile(r"/ManagedSystem/([0-9A-Fa-f-]{36})")


class SimCore:
    """Host model, queues, sessions, faults and running plays."""

    def __init__(self, config: SimConfig, token_dir: Path):
        self.config = config
        self.counters = Counters()
        self.host = Host(self.counters)
        self.queues = EventQueues(config.max_queue, self.host.make_event, self.counters)
        self.host.broadcast = self.queues.broadcast
        self.host.cache_cleared = self.queues.clear_all
        self.auth = Authenticator(config.users, token_dir, config.allow_file_auth,
                                  config.token_ttl)
        self.faults = Faults()
        self.long_poll = config.long_poll
        self.max_per_response = config.max_events_per_response
        self._plays: set[asyncio.Task[int]] = set()
        self._seeds = itertools.count(config.seed)

    # -- plays -------------------------------------------------------------------
    def _start(self, steps: Sequence[HostEvent | NovaChange], speed: float | None,
               on_nova_change: NovaCallback | None = None,
               scripted: bool = True, gate: Gate | None = None) -> asyncio.Task[int]:
        task = asyncio.get_running_loop().create_task(
            play(steps, speed or self.config.speed, self.host, on_nova_change, scripted,
                 gate))
        self._plays.add(task)
        task.add_done_callback(self._plays.discard)
        return task

    def play(self, scenario: Scenario, speed: float | None = None,
             on_nova_change: NovaCallback | None = None,
             load: bool = True, gate: Gate | None = None) -> asyncio.Task[int]:
        """Load the scenario's world (unless ``load`` is False) and play it."""
        if load:
            self.host.load(scenario)
        return self._start(scenario.steps, speed, on_nova_change, gate=gate)

    def replay(self, events: Sequence[ReplayEvent],
               speed: float | None = None) -> asyncio.Task[int]:
        """Play a recorded log; its managed system becomes this host's."""
        for event in events:
            match = _MS_IN_PATH.search(event.path)
            if match:
                self.host.ms_uuid = match.group(1).upper()
                break
        steps = [HostEvent(e.at, e.event_type, e.path, e.detail, None, e.state)
                 for e in events]
        return self._start(steps, speed)

    def operate(self, uuid: str, op: str, speed: float | None = None) -> asyncio.Task[int]:
        """Run an operation on an LPAR; raises UnknownPartition/InvalidOperation."""
        part = self.host.lpar(uuid)
        steps = operation_steps(part, op, self.host.ms_uuid, next(self._seeds))
        return self._start(steps, speed)

    def power(self, uuid: str, action: str,
              speed: float | None = None) -> asyncio.Task[int] | None:
        """A management power call (nova's driver: PowerOff / PowerOn job).

        The LPAR is taken over from its scenario (``Host.held``): whatever the
        script had its guest do next (the rest of a reboot, a boot) no longer
        happens; nova decides its power now. ``off`` from a state PowerVM can
        stop (running, starting, open firmware, error, shutting down,
        suspending, resuming) puts it through a shutdown's events, ``on``
        from ``not activated`` through a boot's (as scenarios generate them).
        None when it already is where the call wants it: no events, as
        PowerVM answers a power-off of a stopped LPAR. Raises
        UnknownPartition, or ValueError for another action.
        """
        part = self.host.lpar(uuid)
        if action not in ("off", "on"):
            raise ValueError(f"unknown power action {action!r}; choose from off, on")
        self.host.held.add(part.uuid)
        self.counters.add_label("power_calls", action)
        if action == "off":
            if part.state not in POWER_OFF_FROM:
                return None
            if part.state in _OP_IN_FLIGHT:
                steps = [HostEvent(0.0, "MODIFY_URI", self.host.lpar_path(part.uuid),
                                   "PartitionState,Other", part.uuid, "not activated")]
            else:
                steps = operation_steps(part, "shutdown", self.host.ms_uuid,
                                        next(self._seeds))
        else:
            if part.state != "not activated":
                return None
            steps = operation_steps(part, "boot", self.host.ms_uuid, next(self._seeds))
        return self._start(steps, speed, scripted=False)

    def cancel_plays(self) -> int:
        for task in list(self._plays):
            task.cancel()
        return len(self._plays)

    @property
    def playing(self) -> int:
        return len(self._plays)

    # -- direct changes ------------------------------------------------------------
    def set_state(self, uuid: str, state: str) -> None:
        """Change an LPAR's state now, with its PartitionState event."""
        part = self.host.lpar(uuid)
        self.host.apply(HostEvent(0.0, "MODIFY_URI", self.host.lpar_path(part.uuid),
                                  "PartitionState,Other", part.uuid, check_state(state)),
                        scripted=False)

    def add_lpar(self, uuid: str, state: str = "not activated",
                 name: str | None = None, event: bool = True) -> None:
        if event:
            self.host.apply(HostEvent(0.0, "ADD_URI", self.host.lpar_path(uuid.upper()),
                                      "", uuid.upper(), check_state(state)))
            if name:
                self.host.lpar(uuid).name = name
        else:
            self.host.add_lpar(uuid, state, name)

    def push_events(self, count: int, detail: str = "ReferenceCode,Other",
                    event_type: str = "MODIFY_URI") -> int:
        """Emit ``count`` events at once, spread over the LPARs (bench, tests)."""
        uuids = list(self.host.lpars) or [None]
        for i in range(count):
            uuid = uuids[i % len(uuids)]
            path = (self.host.lpar_path(uuid) if uuid
                    else f"/rest/api/uom/ManagedSystem/{self.host.ms_uuid}")
            self.host.apply(HostEvent(0.0, event_type, path, detail, uuid), scripted=False)
        return count

    async def push_events_chunked(self, count: int, detail: str = "ReferenceCode,Other",
                                  event_type: str = "MODIFY_URI", chunk: int = 200) -> int:
        """push_events, yielding to the loop between chunks so that feed reads
        are served while a big burst is still being produced."""
        done = 0
        while done < count:
            done += self.push_events(min(chunk, count - done), detail, event_type)
            await asyncio.sleep(0)
        return done

    def restart(self, drop_sessions: bool = False) -> None:
        """A pvm-rest restart: queues lose their events and get CACHE_CLEARED."""
        self.counters.add("restarts")
        self.counters.add_label("events_produced", "CACHE_CLEARED")
        self.queues.clear_all()
        if drop_sessions:
            self.auth.expire_all()

    def stall_feed(self, seconds: float) -> None:
        """Event reads arriving in the next ``seconds`` hang that long first."""
        loop = asyncio.get_running_loop()
        self.queues.stalled_until = loop.time() + max(0.0, seconds)

    def status(self) -> dict[str, object]:
        return {"lpars": len(self.host.lpars), "vios": len(self.host.vios),
                "ms_uuid": self.host.ms_uuid, "clients": len(self.queues),
                "waiting": self.queues.waiting,
                "queue_depths": self.queues.depths(), "sessions": len(self.auth),
                "playing": self.playing, "faults": [f.to_dict() for f in self.faults.armed()]}
