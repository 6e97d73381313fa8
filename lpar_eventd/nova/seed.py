"""Seeding a nova database with instances that match a host's LPARs.

Scenarios and the simulator know their LPARs; nova must know the matching
instances (same uuid, lower case, or its high-bit form: see
``engine.events.high_bit_uuid``) with a power_state, task_state, vm_state
and host, so that the lookups, the task_state and other-host skips and the
"nova already knows" checks run against real nova rows. An instance is on
"this host" (``THIS_HOST``: the compute host it is seeded for, by default
this machine's name, which is also the daemon's default ``[nova]
compute_host``) unless its spec names another host, or ``NO_HOST``. Rows
are written with nova's own object code (``objects.Instance(...).create()``,
``save()``, ``destroy()``), exactly as nova-api and nova-compute write them.

    db = build_sqlite("/tmp/nova.sqlite")
    seed_instances(db, specs_from_scenario(build("mixed", 50, 1)))

    $ lpar-eventd seed-nova --sqlite /tmp/nova.sqlite --scenario mixed --lpars 50
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Sequence

from nova.compute import power_state as nova_power

from lpar_eventd.engine import policy
from lpar_eventd.engine.events import high_bit_uuid
from lpar_eventd.nova.hosts import NO_HOST, THIS_HOST, resolve_host
from lpar_eventd.nova.database import DB_ERRORS, NovaDatabase, sqlite_url
from lpar_eventd.nova.errors import unavailable

__all__ = ["InstanceSpec", "seed_instances", "specs_from_scenario",
           "instance_uuid_for", "create_instance", "update_instance", "set_task_state",
           "set_power_state", "delete_instance", "parse_power_state", "main",
           "PROJECT_ID", "USER_ID", "THIS_HOST", "NO_HOST", "resolve_host"]

LOG = logging.getLogger(__name__)

#: The project and user that own seeded instances (nova requires both).
PROJECT_ID = "lpar-eventd-demo"
USER_ID = "lpar-eventd"

@dataclass(frozen=True)
class InstanceSpec:
    """One nova instance to create.

    ``vm_state`` None means what the power_state implies (building while
    spawning); ``host`` is a compute host name, THIS_HOST or NO_HOST.
    """

    uuid: str
    power_state: int = nova_power.NOSTATE
    task_state: str | None = None
    name: str | None = None
    lpar_uuid: str | None = None
    vm_state: str | None = None
    host: str = THIS_HOST


def instance_uuid_for(lpar_uuid: str, high_bit: bool = False) -> str:
    """The nova uuid of an LPAR: lower-cased, or its high-bit form."""
    return high_bit_uuid(lpar_uuid) if high_bit else lpar_uuid.lower()


def specs_from_scenario(scenario: Any) -> list[InstanceSpec]:
    """Instances for the LPARs nova knows when ``scenario`` starts.

    Instances the scenario spawns later are created by its NovaChange steps
    (the test bed's nova-api writer, ``testbed.novaapi``).
    """
    return [InstanceSpec(spec.instance, spec.power_state, None, spec.name, spec.uuid,
                         spec.vm_state, spec.host)
            for spec in scenario.lpars.values() if spec.instance]


def parse_power_state(value: str | int) -> int:
    """A nova power_state from its number or its name ('running', 'shutdown')."""
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    names = {name: code for code, name in nova_power.STATE_MAP.items()}
    names["nostate"] = nova_power.NOSTATE
    try:
        return names[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown power_state {value!r} (choose from: "
                         f"{', '.join(sorted(names))})") from None


# -- single-row writes (what nova-api and nova-compute do) --------------------
def create_instance(db: NovaDatabase, spec: InstanceSpec, context: Any = None,
                    this_host: str | None = None) -> None:
    """Create one instance row as nova-api and the scheduler leave it
    (project, user, states, host); ``this_host`` resolves THIS_HOST."""
    from nova import objects
    ctx = context or db.admin_context()
    power = spec.power_state
    inst = objects.Instance(
        ctx, uuid=spec.uuid.lower(), project_id=PROJECT_ID, user_id=USER_ID,
        display_name=spec.name or f"lpar-{spec.uuid[:8].lower()}",
        power_state=power, task_state=spec.task_state,
        vm_state=spec.vm_state or policy.implied_vm_state(power, spec.task_state),
        host=resolve_host(spec.host, this_host))
    try:
        inst.create()
    except DB_ERRORS as exc:
        raise unavailable(db.endpoint, exc) from exc


def update_instance(db: NovaDatabase, instance_uuid: str, **values: Any) -> bool:
    """Set instance fields in one save(); False if there is no such instance.

    Setting ``power_state`` also sets the ``vm_state`` it implies, as
    nova-compute's power-state sync does.
    """
    if values.get("power_state", nova_power.NOSTATE) != nova_power.NOSTATE:
        values.setdefault("vm_state", policy.implied_vm_state(values["power_state"]))
    from nova import exception as nova_exc
    from nova import objects
    ctx = db.admin_context()
    try:
        inst = objects.Instance.get_by_uuid(ctx, instance_uuid.lower(), expected_attrs=[])
        for name, value in values.items():
            setattr(inst, name, value)
        inst.save()
    except nova_exc.InstanceNotFound:
        return False
    except DB_ERRORS as exc:
        raise unavailable(db.endpoint, exc) from exc
    return True


def set_task_state(db: NovaDatabase, instance_uuid: str, task_state: str | None) -> bool:
    """Set (or clear, with None) an instance's task_state; False if not found."""
    return update_instance(db, instance_uuid, task_state=task_state)


def set_power_state(db: NovaDatabase, instance_uuid: str, power_state: int) -> bool:
    """Set an instance's power_state (and the vm_state it implies)."""
    return update_instance(db, instance_uuid, power_state=power_state)


def delete_instance(db: NovaDatabase, instance_uuid: str) -> bool:
    """Delete an instance as nova does (soft: it stops being found)."""
    from nova import exception as nova_exc
    from nova import objects
    ctx = db.admin_context()
    try:
        inst = objects.Instance.get_by_uuid(ctx, instance_uuid.lower(), expected_attrs=[])
        inst.destroy()
    except nova_exc.InstanceNotFound:
        return False
    except DB_ERRORS as exc:
        raise unavailable(db.endpoint, exc) from exc
    return True


def seed_instances(db: NovaDatabase, specs: Iterable[InstanceSpec],
                   this_host: str | None = None) -> int:
    """Create every instance of ``specs``; returns how many were created."""
    ctx = db.admin_context()
    count = 0
    for spec in specs:
        create_instance(db, spec, ctx, this_host)
        count += 1
    LOG.info("seeded %d nova instances into %s", count, db.endpoint)
    return count


# -- command line ------------------------------------------------------------
def _parse_lpar(value: str) -> InstanceSpec:
    """``LPAR_UUID[:POWER_STATE[:TASK_STATE[:HOST]]]`` with an optional ``+``
    for high-bit; HOST defaults to the seeded host (``--host``)."""
    high = value.startswith("+")
    parts = value.lstrip("+").split(":")
    lpar = parts[0]
    power = parse_power_state(parts[1]) if len(parts) > 1 and parts[1] else nova_power.NOSTATE
    task = parts[2] if len(parts) > 2 and parts[2] else None
    host = parts[3] if len(parts) > 3 and parts[3] else THIS_HOST
    return InstanceSpec(instance_uuid_for(lpar, high), power, task, None, lpar.upper(),
                        host=host)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lpar-eventd seed-nova",
        description="Create nova's schema (nova db_sync) and instances matching LPARs.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="sqlite file to create or reuse")
    where.add_argument("--connection", help="any SQLAlchemy URL of a nova cell database")
    parser.add_argument("--no-sync", action="store_true",
                        help="do not run nova's schema migrations first")
    parser.add_argument("--scenario", help="seed the LPARs of this scenario "
                        "(deploy-storm, reboot-wave, flapping, mixed)")
    parser.add_argument("--lpars", type=int, default=50, help="scenario size")
    parser.add_argument("--seed", type=int, default=1, help="scenario seed")
    parser.add_argument("--lpar", action="append", default=[], type=_parse_lpar,
                        metavar="[+]UUID[:POWER[:TASK[:HOST]]]",
                        help="one instance for this LPAR uuid ('+': high-bit form); "
                        "POWER is a nova power_state name or number; HOST another "
                        "compute host than --host")
    parser.add_argument("--host", default=None,
                        help="compute host the instances run on (instance.host); "
                        "default: this machine's name, as nova-compute's and the "
                        "daemon's [nova] compute_host defaults")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``lpar-eventd seed-nova``: returns a process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.sqlite:
        os.makedirs(os.path.dirname(os.path.abspath(args.sqlite)), exist_ok=True)
    url = sqlite_url(args.sqlite) if args.sqlite else args.connection
    specs: list[InstanceSpec] = list(args.lpar)
    if args.scenario:
        from lpar_eventd.scale.scenarios import build
        specs += specs_from_scenario(build(args.scenario, args.lpars, args.seed))
    db = NovaDatabase(url)
    try:
        if not args.no_sync:
            took = db.sync()
            print(f"nova schema ready in {db.endpoint} ({took:.2f} s)")
        count = seed_instances(db, specs, args.host)
    except Exception as exc:  # the command's boundary: one line, exit code
        print(f"seed-nova: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"seeded {count} instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
