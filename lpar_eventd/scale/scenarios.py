"""Scenarios: what a PowerVM host and nova do over time, defined once.

A scenario is a seeded, time-ordered list of steps in uncompressed seconds:

* ``HostEvent``: one NovaLink feed event (EventType, the URI path below the
  REST root, EventDetail) and, for PartitionState changes, the LPAR's new
  state. ADD_URI creates the LPAR (``not activated``), DELETE_URI removes it.
  A ``silent`` step changes the host without a feed event: the event was
  lost (a MISSING_EVENTS step follows) or comes later as a step of its own.
* ``NovaChange``: what nova itself does to an instance (create it, set or
  clear task_state, set power_state at the end of an operation it drives,
  set vm_state or move it to another compute host, delete it), so the
  task_state and other-host skips are exercised honestly.

Hosts are named as ``nova.hosts`` names them: ``THIS_HOST`` is the compute
host that plays the scenario (the daemon's ``[nova] compute_host``), any
other name another host, ``NO_HOST`` nova's None.

The engine benchmark plays steps straight into a handler on a virtual clock;
the simulator plays the same steps on a real HTTP feed (``--speed``
compresses time). The event mix follows real feeds: a boot is a few
PartitionState changes among many ReferenceCode progress codes and a couple
of NVRAM changes (about a dozen events), while VIOS and managed-system
chatter runs all the time.

    sc = build("mixed", lpars=500, seed=1)
    sc.steps[0]      # HostEvent(at=0.0, event_type='NEW_CLIENT', ...)
"""

from __future__ import annotations

import dataclasses
import random
import uuid as uuidlib
from dataclasses import dataclass, field
from collections.abc import Callable

from nova.compute import power_state, task_states, vm_states

from lpar_eventd.engine import policy
from lpar_eventd.nova.hosts import NO_HOST, THIS_HOST

__all__ = ["HostEvent", "NovaChange", "LparSpec", "Scenario", "SCENARIOS",
           "build", "lpar_path", "THIS_HOST", "NO_HOST", "OTHER_HOST"]

#: The other compute host of the scenarios (evacuation and migration targets).
OTHER_HOST = "compute-b"

ROOT = "/rest/api/uom"


@dataclass(frozen=True, slots=True)
class HostEvent:
    at: float
    event_type: str
    path: str
    detail: str = ""
    lpar: str | None = None
    state: str | None = None
    silent: bool = False      # the host changes, the feed carries no event


@dataclass(frozen=True, slots=True)
class NovaChange:
    """One write of nova's: task_state is always set (None clears it);
    power_state, vm_state and host only when not None (None: unchanged)."""

    at: float
    instance: str
    task_state: str | None = None
    power_state: int | None = None
    create: bool = False
    delete: bool = False
    vm_state: str | None = None
    host: str | None = None


@dataclass
class LparSpec:
    """An LPAR present when the scenario starts."""

    uuid: str                 # PowerVM form, upper case
    name: str
    state: str
    instance: str | None      # nova instance uuid, None if nova does not know it
    power_state: int = power_state.NOSTATE
    vm_state: str | None = None   # None: what power_state implies
    host: str = THIS_HOST         # the compute host nova says runs the instance


@dataclass
class Scenario:
    name: str
    seed: int
    ms_uuid: str
    lpars: dict[str, LparSpec]
    vios: list[str]
    steps: list[HostEvent | NovaChange] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.steps[-1].at if self.steps else 0.0

    def host_events(self) -> list[HostEvent]:
        """The steps that reach the feed (silent ones excluded)."""
        return [s for s in self.steps if isinstance(s, HostEvent) and not s.silent]

    def host_changes(self) -> list[HostEvent]:
        """Every host step, silent ones included: what the host really did."""
        return [s for s in self.steps if isinstance(s, HostEvent)]

    def managed(self) -> dict[str, str]:
        """LPAR uuid -> instance uuid, for every LPAR nova knows at any time."""
        out = {u: s.instance for u, s in self.lpars.items() if s.instance}
        out.update(self.spawned)
        return out

    spawned: dict[str, str] = field(default_factory=dict)


def lpar_path(ms_uuid: str, lpar: str) -> str:
    return f"{ROOT}/ManagedSystem/{ms_uuid}/LogicalPartition/{lpar}"


class _Builder:
    """Accumulates steps for one scenario with a seeded rng."""

    def __init__(self, name: str, seed: int):
        self.rng = random.Random(seed)  # noqa: S311 - seeded scenarios, not secrets
        self.sc = Scenario(name, seed, self._uuid(upper=True), {}, [])
        self._n = 0

    def _uuid(self, upper: bool = False, high_bit: bool = False) -> str:
        value = str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))
        first = int(value[0], 16)
        value = format((first | 8) if high_bit else (first & 7), "x") + value[1:]
        return value.upper() if upper else value

    # -- world -----------------------------------------------------------
    def lpar(self, state: str = "running", managed: bool = True,
             power: int | None = None, host: str = THIS_HOST) -> str:
        """An existing LPAR; nova's power_state agrees with its state unless
        given (an instance that runs elsewhere keeps its own)."""
        self._n += 1
        instance = self._uuid(high_bit=self.rng.random() < 0.5) if managed else None
        uuid = _pvm(instance) if instance else self._uuid(upper=True)
        if power is None:
            power = policy.expected_power_state(state) or power_state.NOSTATE
        self.sc.lpars[uuid] = LparSpec(uuid, f"vm-{self._n:05d}", state, instance, power,
                                       host=host)
        return uuid

    def vios(self, count: int = 2) -> None:
        self.sc.vios = [self._uuid(upper=True) for _ in range(count)]

    def event(self, at: float, etype: str, path: str, detail: str = "",
              lpar: str | None = None, state: str | None = None,
              silent: bool = False) -> None:
        self.sc.steps.append(HostEvent(round(at, 3), etype, path, detail, lpar, state,
                                       silent))

    def nova(self, at: float, instance: str, **kw: object) -> None:
        self.sc.steps.append(NovaChange(round(at, 3), instance, **kw))  # type: ignore[arg-type]

    def modify(self, at: float, lpar: str, detail: str, state: str | None = None) -> None:
        self.event(at, "MODIFY_URI", lpar_path(self.sc.ms_uuid, lpar), detail, lpar, state)

    def instance_of(self, lpar: str) -> str | None:
        spec = self.sc.lpars.get(lpar)
        return spec.instance if spec else self.sc.spawned.get(lpar)

    # -- host behaviour ----------------------------------------------------
    def jitter(self, base: float, spread: float = 0.5) -> float:
        return base * (1 + self.rng.uniform(-spread, spread))

    def boot(self, t: float, lpar: str) -> float:
        """starting -> open firmware -> running with progress codes; ~12 events."""
        r = self.rng
        self.modify(t, lpar, "PartitionState,Other", "starting")
        t += self.jitter(1.0)
        self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(1.0)
        self.modify(t, lpar, "PartitionState", "open firmware")
        for _ in range(r.randint(5, 7)):
            t += self.jitter(1.5)
            self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(1.0)
        self.modify(t, lpar, "NVRAM")
        t += self.jitter(2.0)
        self.modify(t, lpar, "PartitionState,Other", "running")
        t += self.jitter(1.0)
        self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(2.0)
        self.modify(t, lpar, "PartitionState,Other", "running")  # sub-state change
        t += self.jitter(1.0)
        self.modify(t, lpar, "NVRAM")
        return t

    def shutdown(self, t: float, lpar: str, final: str = "not activated") -> float:
        self.modify(t, lpar, "PartitionState,Other", "shutting down")
        for _ in range(self.rng.randint(2, 3)):
            t += self.jitter(1.0)
            self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(2.0)
        self.modify(t, lpar, "PartitionState,Other", final)
        t += self.jitter(0.5)
        self.modify(t, lpar, "NVRAM")
        return t

    def flap(self, t: float, lpar: str, seconds: float) -> float:
        """An LPAR that keeps changing state for longer than max-wait."""
        states = ("running", "open firmware", "starting")
        end = t + seconds
        while t < end:
            self.modify(t, lpar, "PartitionState", self.rng.choice(states))
            t += self.jitter(4.0)
        self.modify(t, lpar, "PartitionState,Other", "running")
        return t

    def chatter(self, start: float, end: float, rate: float) -> None:
        """VIOS, managed-system and storage chatter at ``rate`` events/s."""
        ms = self.sc.ms_uuid
        paths = [(f"{ROOT}/ManagedSystem/{ms}/VirtualIOServer/{v}", d)
                 for v in self.sc.vios
                 for d in ("PartitionState,PartitionName,Other", "Other",
                           "VirtualSCSIMappings")]
        paths += [(f"{ROOT}/ManagedSystem/{ms}", "Other"),
                  (f"{ROOT}/ManagedSystem/{ms}", "freeIOAdaptersForLinkAggregation"),
                  (f"{ROOT}/Tier/{self._uuid()}/LogicalUnit/{self._uuid()}", "LogicalUnit")]
        t = start
        while rate > 0 and t < end:
            path, detail = self.rng.choice(paths)
            self.event(t, "MODIFY_URI", path, detail)
            t += self.rng.expovariate(rate)

    # -- operations (nova-driven and out-of-band) --------------------------
    def deploy(self, t: float) -> str:
        """nova spawns an instance: task_state spawning around create + boot."""
        instance = self._uuid(high_bit=self.rng.random() < 0.5)
        lpar = _pvm(instance)
        self.sc.spawned[lpar] = instance
        self.nova(t, instance, create=True, task_state=task_states.SPAWNING,
                  power_state=power_state.NOSTATE)
        t += self.jitter(2.0)
        self.event(t, "ADD_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar,
                   "not activated")
        t += self.jitter(1.0)
        self.modify(t, lpar, "NVRAM")
        t = self.boot(t + self.jitter(2.0), lpar)
        self.nova(t + self.jitter(1.0), instance, task_state=None,
                  power_state=power_state.RUNNING)
        return lpar

    def nova_op(self, t: float, lpar: str, task: str, body: Callable[[float], float],
                final_power: int) -> float:
        instance = self.instance_of(lpar)
        if instance:
            self.nova(t, instance, task_state=task)
        t = body(t + self.jitter(0.5))
        if instance:
            self.nova(t + self.jitter(0.5), instance, task_state=None,
                      power_state=final_power)
        return t

    def reboot(self, t: float, lpar: str, by_nova: bool) -> float:
        """A reboot driven by nova (task_state rebooting around it) or from
        inside the guest (nova hears nothing but our events)."""
        def body(t0: float) -> float:
            return self.boot(self.shutdown(t0, lpar) + self.jitter(2.0), lpar)
        if by_nova:
            return self.nova_op(t, lpar, task_states.REBOOTING, body, power_state.RUNNING)
        return body(t)

    def delete(self, t: float, lpar: str) -> float:
        instance = self.instance_of(lpar)
        if instance:
            self.nova(t, instance, task_state=task_states.DELETING)
        t = self.shutdown(t + 0.5, lpar)
        t += self.jitter(1.0)
        self.event(t, "DELETE_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar)
        if instance:
            self.nova(t + 0.5, instance, delete=True)
        return t

    def finish(self) -> Scenario:
        self.sc.steps.sort(key=lambda s: s.at)
        first = HostEvent(0.0, "NEW_CLIENT", "")
        self.sc.steps.insert(0, first)
        return self.sc


def _pvm(instance: str) -> str:
    """The LPAR uuid PowerVM gives an instance: high bit cleared, upper case."""
    return (format(int(instance[0], 16) & 7, "x") + instance[1:]).upper()


# -- the scenarios --------------------------------------------------------
def deploy_storm(lpars: int, seed: int) -> Scenario:
    """N instances spawned over a minute, on a host with a few VIOS."""
    b = _Builder("deploy-storm", seed)
    b.vios()
    span = max(30.0, lpars * 0.12)
    for _ in range(lpars):
        b.deploy(b.rng.uniform(1.0, span))
    b.chatter(0.5, span + 40, rate=2.0)
    return b.finish()


def reboot_wave(lpars: int, seed: int) -> Scenario:
    """Running instances rebooted by nova and from inside the guest."""
    b = _Builder("reboot-wave", seed)
    b.vios()
    span = max(30.0, lpars * 0.1)
    for i in range(lpars):
        lpar = b.lpar("running")
        b.reboot(b.rng.uniform(1.0, span), lpar, by_nova=bool(i % 2))
    b.chatter(0.5, span + 40, rate=2.0)
    return b.finish()


def flapping(lpars: int, seed: int) -> Scenario:
    """LPARs that keep changing for minutes: max-wait must still settle them."""
    b = _Builder("flapping", seed)
    b.vios()
    for _ in range(lpars):
        lpar = b.lpar("running")
        b.flap(b.rng.uniform(1.0, 20.0), lpar, b.rng.uniform(90.0, 150.0))
    b.chatter(0.5, 180.0, rate=2.0)
    return b.finish()


def mixed(lpars: int, seed: int) -> Scenario:
    """The default: deploys, reboots, power-offs, deletes, flappers, chatter,
    unmanaged LPARs and a CACHE_CLEARED in the middle of it all."""
    b = _Builder("mixed", seed)
    b.vios(4)
    span = max(60.0, lpars * 0.15)
    n_deploy = lpars // 4
    existing = lpars - n_deploy
    unmanaged = max(1, existing // 25)
    for i in range(existing):
        state = "running" if i % 5 else "not activated"
        b.lpar(state, managed=i >= unmanaged)
    uuids = list(b.sc.lpars)
    b.rng.shuffle(uuids)
    for _ in range(n_deploy):
        b.deploy(b.rng.uniform(1.0, span))
    for i, lpar in enumerate(uuids):
        t = b.rng.uniform(1.0, span)
        spec = b.sc.lpars[lpar]
        running = spec.state == "running"
        slot = i % 10
        if slot in (0, 1) and running:      # nova reboot
            b.nova_op(t, lpar, task_states.REBOOTING,
                      lambda t0, lp=lpar: b.boot(b.shutdown(t0, lp) + 2.0, lp),
                      power_state.RUNNING)
        elif slot == 2 and running:         # guest reboot, nova not involved
            b.boot(b.shutdown(t, lpar) + 2.0, lpar)
        elif slot == 3 and running:         # nova power-off
            b.nova_op(t, lpar, task_states.POWERING_OFF,
                      lambda t0, lp=lpar: b.shutdown(t0, lp), power_state.SHUTDOWN)
        elif slot == 4 and running:         # shut down from inside the guest
            b.shutdown(t, lpar)
        elif slot == 5 and not running:     # started from the HMC / NovaLink CLI
            b.boot(t, lpar)
        elif slot == 6 and running and i % 20 == 6:
            b.flap(t, lpar, b.rng.uniform(70.0, 100.0))
        elif slot == 7 and i % 30 == 7:
            b.delete(t, lpar)
        elif slot == 8 and running and i % 40 == 8:  # crash
            b.modify(t, lpar, "PartitionState,Other", "error")
            b.modify(t + 1.0, lpar, "ReferenceCode,Other")
    b.chatter(0.5, span + 60, rate=5.0)
    b.event(span / 2, "CACHE_CLEARED", "")
    return b.finish()


SCENARIOS: dict[str, Callable[[int, int], Scenario]] = {
    "deploy-storm": deploy_storm,
    "reboot-wave": reboot_wave,
    "flapping": flapping,
    "mixed": mixed,
}


def build(name: str, lpars: int = 500, seed: int = 1) -> Scenario:
    """Build a scenario by name (see SCENARIOS); raises KeyError with the choices."""
    try:
        builder = SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; choose from "
                       f"{', '.join(sorted(SCENARIOS))}") from None
    return builder(lpars, seed)


# -- host operations the simulator also drives (appended for issue 4) ------
class HostBuilder(_Builder):
    """_Builder plus the host operations only the simulator needed at first:
    suspend/resume, live migration out and in, a crash, and a burst. The
    simulator also uses it to turn one operation on one LPAR into its event
    sequence (``for_host`` then e.g. ``boot(0.0, uuid)``), so scenarios and
    live operations share one generator."""

    @classmethod
    def for_host(cls, ms_uuid: str, seed: int, name: str = "live") -> "HostBuilder":
        b = cls(name, seed)
        b.sc.ms_uuid = ms_uuid
        return b

    def suspend(self, t: float, lpar: str) -> float:
        self.modify(t, lpar, "PartitionState,Other", "suspending")
        t += self.jitter(1.0)
        self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(3.0)
        self.modify(t, lpar, "PartitionState,Other", "suspended")
        t += self.jitter(0.5)
        self.modify(t, lpar, "NVRAM")
        return t

    def resume(self, t: float, lpar: str) -> float:
        self.modify(t, lpar, "PartitionState,Other", "resuming")
        t += self.jitter(1.0)
        self.modify(t, lpar, "ReferenceCode,Other")
        t += self.jitter(3.0)
        self.modify(t, lpar, "PartitionState,Other", "running")
        return t

    def migrate_out(self, t: float, lpar: str) -> float:
        """Live migration seen from the source host: the LPAR leaves."""
        self.modify(t, lpar, "PartitionState,Other", "migrating running")
        for _ in range(self.rng.randint(3, 5)):
            t += self.jitter(2.0)
            self.modify(t, lpar, "Other")
        t += self.jitter(1.0)
        self.event(t, "DELETE_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar)
        return t

    def migrate_in(self, t: float, lpar: str) -> float:
        """Live migration seen from the target host: the LPAR arrives running."""
        self.event(t, "ADD_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar,
                   "migrating running")
        for _ in range(self.rng.randint(3, 5)):
            t += self.jitter(2.0)
            self.modify(t, lpar, "Other")
        t += self.jitter(1.0)
        self.modify(t, lpar, "PartitionState,Other", "running")
        t += self.jitter(0.5)
        self.modify(t, lpar, "NVRAM")
        return t

    def crash(self, t: float, lpar: str) -> float:
        self.modify(t, lpar, "PartitionState,Other", "error")
        t += self.jitter(1.0)
        self.modify(t, lpar, "ReferenceCode,Other")
        return t

    def burst(self, t: float, lpar: str, count: int) -> float:
        """``count`` progress codes within a second: fills a slow client's queue."""
        for i in range(count):
            self.modify(t + i / max(count, 1), lpar, "ReferenceCode,Other")
        return t + 1.0


def migration(lpars: int, seed: int) -> Scenario:
    """Half the LPARs live-migrate away, as many arrive; nova drives both."""
    b = HostBuilder("migration", seed)
    b.vios()
    span = max(30.0, lpars * 0.1)
    for _ in range(lpars):
        lpar = b.lpar("running")
        b.nova_op(b.rng.uniform(1.0, span), lpar, task_states.MIGRATING,
                  lambda t0, lp=lpar: b.migrate_out(t0, lp), power_state.RUNNING)
    for _ in range(lpars // 2):
        t = b.rng.uniform(1.0, span)
        lpar = b._uuid(upper=True)
        b.migrate_in(t, lpar)
    b.chatter(0.5, span + 20, rate=2.0)
    return b.finish()


def suspend_resume(lpars: int, seed: int) -> Scenario:
    """Running LPARs suspended by nova, some resumed later."""
    b = HostBuilder("suspend", seed)
    b.vios()
    span = max(30.0, lpars * 0.1)
    for i in range(lpars):
        lpar = b.lpar("running")
        t = b.rng.uniform(1.0, span)
        t = b.nova_op(t, lpar, task_states.SUSPENDING,
                      lambda t0, lp=lpar: b.suspend(t0, lp), power_state.SUSPENDED)
        if i % 2:
            b.nova_op(t + b.jitter(10.0), lpar, task_states.RESUMING,
                      lambda t0, lp=lpar: b.resume(t0, lp), power_state.RUNNING)
    b.chatter(0.5, span + 30, rate=2.0)
    return b.finish()


def overflow(lpars: int, seed: int) -> Scenario:
    """A burst of progress codes far beyond a slow client's queue, then
    real state changes that must not be lost for good (MISSING_EVENTS)."""
    b = HostBuilder("overflow", seed)
    b.vios()
    uuids = [b.lpar("running") for _ in range(lpars)]
    for lpar in uuids:
        b.burst(1.0, lpar, 50)
    for lpar in uuids[::2]:
        b.shutdown(b.rng.uniform(2.0, 5.0), lpar)
    b.chatter(0.5, 15.0, rate=2.0)
    return b.finish()


SCENARIOS["migration"] = migration
SCENARIOS["suspend"] = suspend_resume
SCENARIOS["overflow"] = overflow


def demo(lpars: int, seed: int) -> Scenario:
    """The demo's storm: N instances deployed by nova, a tenth as many running
    ones rebooted (by nova and from inside the guest), a few shut down or
    started outside nova (the events nova must hear), and two flappers."""
    b = _Builder("demo", seed)
    b.vios()
    span = max(30.0, lpars * 0.12)
    for _ in range(lpars):
        b.deploy(b.rng.uniform(1.0, span))
    for i in range(max(2, lpars // 10)):
        lpar = b.lpar("running")
        b.reboot(b.rng.uniform(1.0, span), lpar, by_nova=bool(i % 2))
    for _ in range(max(1, lpars // 20)):  # shut down from inside: nova must hear it
        b.shutdown(b.rng.uniform(1.0, span), b.lpar("running"))
    for _ in range(max(1, lpars // 20)):  # started from the HMC: likewise
        b.boot(b.rng.uniform(1.0, span), b.lpar("not activated"))
    for _ in range(2):
        b.flap(b.rng.uniform(1.0, span / 2), b.lpar("running"), 90.0)
    b.chatter(0.5, span + 40, rate=3.0)
    return b.finish()


SCENARIOS["demo"] = demo


# -- field patterns (issue 12: the shared field cases, as scenario steps) ----
class FieldBuilder(HostBuilder):
    """The patterns of the field cases (shared/cases/README.md) as steps:
    lost events, instances other hosts run, shelve, nova operations racing
    the guest inside one burst, and a delete racing NVRAM. Their times keep
    each pattern's shape (gaps under the 15 s settle window where the case
    needs one burst), with a little jitter so LPARs do not move in lockstep.
    """

    def lose_events(self, start: float, end: float) -> None:
        """The feed overflows during [start, end): the host changes, its
        events are lost; NovaLink then says MISSING_EVENTS (at ``end``)."""
        lost = ("MODIFY_URI", "ADD_URI", "DELETE_URI")
        self.sc.steps = [
            dataclasses.replace(s, silent=True)
            if isinstance(s, HostEvent) and start <= s.at < end and s.event_type in lost
            else s for s in self.sc.steps]
        self.event(end, "MISSING_EVENTS", "")

    def evacuated_copy(self, t: float, cleanup_at: float) -> str:
        """An instance evacuated to OTHER_HOST while this host was down (C4):
        nova runs it there (ACTIVE, RUNNING); its stale LPAR here is 'not
        activated'. NovaLink re-reports it at ``t``; nova-compute's
        init_host cleanup destroys it at ``cleanup_at``."""
        lpar = self.lpar("not activated", power=power_state.RUNNING, host=OTHER_HOST)
        self.modify(t, lpar, "PartitionState,Other", "not activated")
        self.event(cleanup_at, "DELETE_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar)
        return lpar

    def cold_migrate_out(self, t: float, lpar: str, confirm_after: float) -> float:
        """nova's cold migration (resize) seen from the source host: the
        LPAR is powered off here, nova moves the instance to OTHER_HOST and
        runs it there (vm_state resized); the stale source LPAR stays 'not
        activated' until the resize is confirmed and it is destroyed."""
        instance = self.instance_of(lpar)
        path = lpar_path(self.sc.ms_uuid, lpar)
        self.nova(t, instance, task_state=task_states.RESIZE_PREP)
        t += self.jitter(2.0)
        self.nova(t, instance, task_state=task_states.RESIZE_MIGRATING)
        t = self.shutdown(t + self.jitter(0.5), lpar)     # migrate_disk_and_power_off
        t += self.jitter(5.0)
        self.nova(t, instance, task_state=task_states.RESIZE_MIGRATED, host=OTHER_HOST)
        t += self.jitter(2.0)
        self.nova(t, instance, task_state=task_states.RESIZE_FINISH)
        t += self.jitter(20.0)                            # spawned on the destination
        self.nova(t, instance, task_state=None, vm_state=vm_states.RESIZED,
                  power_state=power_state.RUNNING)
        later = t + self.jitter(confirm_after / 2)        # the source re-reports it
        self.modify(later, lpar, "PartitionState,Other", "not activated")
        done = t + confirm_after
        self.event(done, "DELETE_URI", path, "", lpar)    # confirm_resize destroys it
        return done

    def shelve(self, t: float, lpar: str, offload: bool = True) -> float:
        """nova shelve (C5): powered off under 'shelving', snapshot uploaded
        for minutes under shelving_image_*; then shelved, or offloaded (the
        LPAR destroyed, the instance left without a host)."""
        instance = self.instance_of(lpar)
        self.nova(t, instance, task_state=task_states.SHELVING)
        t = self.shutdown(t + self.jitter(1.0), lpar)
        t += self.jitter(2.0)
        self.nova(t, instance, task_state=task_states.SHELVING_IMAGE_PENDING_UPLOAD)
        t += self.jitter(2.0)
        self.nova(t, instance, task_state=task_states.SHELVING_IMAGE_UPLOADING)
        t += self.jitter(120.0)
        self.nova(t, instance, task_state=None, vm_state=vm_states.SHELVED,
                  power_state=power_state.SHUTDOWN)
        if not offload:
            return t
        t += self.jitter(1.0)
        self.nova(t, instance, task_state=task_states.SHELVING_OFFLOADING)
        t += self.jitter(5.0)
        self.event(t, "DELETE_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar)
        t += self.jitter(1.0)
        self.nova(t, instance, task_state=None, vm_state=vm_states.SHELVED_OFFLOADED,
                  power_state=power_state.NOSTATE, host=NO_HOST)
        return t

    def unshelve(self, t: float, lpar: str) -> float:
        """nova unshelve of an offloaded instance onto this host: unshelving,
        then spawning here (a new LPAR boots), then active."""
        instance = self.instance_of(lpar)
        self.nova(t, instance, task_state=task_states.UNSHELVING)
        t += self.jitter(3.0)
        self.nova(t, instance, task_state=task_states.SPAWNING, host=THIS_HOST)
        t += self.jitter(2.0)
        self.event(t, "ADD_URI", lpar_path(self.sc.ms_uuid, lpar), "", lpar, "not activated")
        t = self.boot(t + self.jitter(2.0), lpar)
        t += self.jitter(1.0)
        self.nova(t, instance, task_state=None, vm_state=vm_states.ACTIVE,
                  power_state=power_state.RUNNING)
        return t

    def start_then_halt(self, t: float, lpar: str) -> float:
        """C8 A: nova starts a stopped LPAR (it writes RUNNING at t+4) and the
        guest halts at t+18..22: one burst, ending where it began."""
        instance = self.instance_of(lpar)
        j = self.rng.uniform(0.0, 0.5)
        self.nova(t, instance, task_state=task_states.POWERING_ON)
        for offset, state in ((0.5, "starting"), (2.0, "open firmware"), (10.0, "running"),
                              (18.0, "shutting down"), (22.0, "not activated")):
            self.modify(t + offset + j, lpar, "PartitionState,Other", state)
        self.nova(t + 4.0 + j, instance, task_state=None, vm_state=vm_states.ACTIVE,
                  power_state=power_state.RUNNING)
        return t + 22.0 + j

    def stop_then_oob_start(self, t: float, lpar: str) -> float:
        """C8 B: nova stops a running LPAR (it writes SHUTDOWN at t+5) and it
        is started outside nova at t+8 (HMC, CLI, an HA agent): one burst."""
        instance = self.instance_of(lpar)
        j = self.rng.uniform(0.0, 0.5)
        self.nova(t, instance, task_state=task_states.POWERING_OFF)
        for offset, state in ((0.5, "shutting down"), (4.0, "not activated"),
                              (8.0, "starting"), (10.0, "open firmware"), (20.0, "running")):
            self.modify(t + offset + j, lpar, "PartitionState,Other", state)
        self.nova(t + 5.0 + j, instance, task_state=None, vm_state=vm_states.STOPPED,
                  power_state=power_state.SHUTDOWN)
        return t + 20.0 + j

    def delete_racing_nvram(self, t: float, lpar: str) -> float:
        """C9: nova deletes the instance; the power-off writes NVRAM at
        t+3.5, the LPAR is gone at t+5.3, but its DELETE_URI only comes in
        the feed response after the 2 s NVRAM settle fired."""
        instance = self.instance_of(lpar)
        path = lpar_path(self.sc.ms_uuid, lpar)
        self.nova(t, instance, task_state=task_states.DELETING)
        self.modify(t + 0.5, lpar, "PartitionState,Other", "shutting down")
        self.modify(t + 3.0, lpar, "PartitionState,Other", "not activated")
        self.modify(t + 3.5, lpar, "NVRAM")
        self.event(t + 5.3, "DELETE_URI", path, "", lpar, silent=True)  # reads: 404
        self.event(t + 5.8, "DELETE_URI", path, "", lpar)               # its event
        self.nova(t + 6.0, instance, delete=True)
        return t + 6.0


def _wave(name: str, lpars: int, seed: int, tail: float,
          pattern: Callable[[FieldBuilder, int, float], object]) -> FieldBuilder:
    """One pattern per LPAR at random times over the scenario's span (0.1 s
    per LPAR, 30 s at least), chatter until ``tail`` seconds after it."""
    b = FieldBuilder(name, seed)
    b.vios()
    span = max(30.0, lpars * 0.1)
    for i in range(lpars):
        pattern(b, i, b.rng.uniform(1.0, span))
    b.chatter(0.5, span + tail, rate=2.0)
    return b


def reboot_wave_lost(lpars: int, seed: int) -> Scenario:
    """A wave of in-guest reboots while the feed overflows three times (3 s
    each, then MISSING_EVENTS): LPARs are listed mid-reboot by the resyncs."""
    b = _wave("reboot-wave-lost", lpars, seed, 40.0,
              lambda b, i, t: b.reboot(t, b.lpar("running"), by_nova=False))
    span = max(30.0, lpars * 0.1)
    for k in range(1, 4):
        start = span * k / 4
        b.lose_events(start, start + 3.0)
    return b.finish()


def evacuated(lpars: int, seed: int) -> Scenario:
    """This host restarts (NEW_CLIENT) after a fifth of its instances were
    evacuated to another host: their stale LPARs are listed and re-reported
    here until nova-compute's cleanup destroys them; the rest run on, a few
    rebooted from inside the guest."""
    b = FieldBuilder("evacuated", seed)
    b.vios()
    for i in range(lpars):
        if i % 5 == 0:
            b.evacuated_copy(b.rng.uniform(2.0, 20.0), b.rng.uniform(40.0, 90.0))
        else:
            lpar = b.lpar("running")
            if i % 5 == 1:
                b.reboot(b.rng.uniform(5.0, 60.0), lpar, by_nova=False)
    b.chatter(0.5, 120.0, rate=2.0)
    return b.finish()


def cold_migration(lpars: int, seed: int) -> Scenario:
    """Half the instances are cold-migrated away (seen from the source);
    a CACHE_CLEARED later lists the stale source LPARs once more."""
    def pattern(b: FieldBuilder, i: int, t: float) -> None:
        lpar = b.lpar("running")
        if i % 2 == 0:
            b.cold_migrate_out(t, lpar, b.rng.uniform(90.0, 150.0))
    b = _wave("cold-migration", lpars, seed, 60.0, pattern)
    b.event(max(30.0, lpars * 0.1) + 40.0, "CACHE_CLEARED", "")
    return b.finish()


def shelve(lpars: int, seed: int) -> Scenario:
    """Instances shelved by nova (minutes of snapshot upload), two thirds of
    them offloaded, half of those unshelved onto this host again."""
    def pattern(b: FieldBuilder, i: int, t: float) -> None:
        lpar = b.lpar("running")
        end = b.shelve(t, lpar, offload=i % 3 != 0)
        if i % 3 == 1:
            b.unshelve(end + b.jitter(30.0), lpar)
    return _wave("shelve", lpars, seed, 240.0, pattern).finish()


def nova_op_burst(lpars: int, seed: int) -> Scenario:
    """Nova's own start or stop raced by the guest inside one burst (C8):
    stopped LPARs started by nova whose guest halts again, running ones
    stopped by nova and started again outside it; all after the start-up
    resync compared every LPAR with nova."""
    def pattern(b: FieldBuilder, i: int, t: float) -> None:
        if i % 2:
            b.start_then_halt(t + 20.0, b.lpar("not activated"))
        else:
            b.stop_then_oob_start(t + 20.0, b.lpar("running"))
    return _wave("nova-op-burst", lpars, seed, 80.0, pattern).finish()


def delete_nvram(lpars: int, seed: int) -> Scenario:
    """Instances deleted by nova whose NVRAM settles after the LPAR is gone."""
    return _wave("delete-nvram", lpars, seed, 30.0,
                 lambda b, i, t: b.delete_racing_nvram(t, b.lpar("running"))).finish()


def field(lpars: int, seed: int) -> Scenario:
    """Every field pattern on one host at once, over a quiet majority:
    in-guest reboots with lost events, stale copies of evacuated instances,
    cold migrations out, shelves (offloaded, some unshelved), nova start/stop
    raced by the guest, and deletes racing NVRAM."""
    b = FieldBuilder("field", seed)
    b.vios(4)
    span = max(60.0, lpars * 0.15)
    for i in range(lpars):
        slot = i % 10
        t = b.rng.uniform(20.0, span)
        if slot in (0, 1, 2):
            b.reboot(t, b.lpar("running"), by_nova=False)
        elif slot == 3:
            b.evacuated_copy(b.rng.uniform(2.0, 20.0), b.rng.uniform(40.0, 90.0))
        elif slot == 4:
            b.cold_migrate_out(t, b.lpar("running"), b.rng.uniform(90.0, 150.0))
        elif slot == 5:
            lpar = b.lpar("running")
            end = b.shelve(t, lpar, offload=i % 20 != 5)
            if i % 40 == 15:
                b.unshelve(end + b.jitter(30.0), lpar)
        elif slot == 6:
            b.start_then_halt(t, b.lpar("not activated"))
        elif slot == 7:
            b.stop_then_oob_start(t, b.lpar("running"))
        elif slot == 8:
            b.delete_racing_nvram(t, b.lpar("running"))
        else:
            b.lpar("running" if i % 20 else "not activated")
    b.chatter(0.5, span + 240, rate=5.0)
    for k in range(1, 3):
        start = span * k / 3
        b.lose_events(start, start + 3.0)
    return b.finish()


SCENARIOS.update({
    "reboot-wave-lost": reboot_wave_lost,
    "evacuated": evacuated,
    "cold-migration": cold_migration,
    "shelve": shelve,
    "nova-op-burst": nova_op_burst,
    "delete-nvram": delete_nvram,
    "field": field,
})
