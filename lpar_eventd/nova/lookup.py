"""The InstanceLookup port over nova.objects: ``database`` and ``conductor``.

Both modes run nova's own object code, ``Instance.get_by_uuid`` and
``InstanceList.get_by_filters``, asking only for the columns the engine
needs (``expected_attrs=[]``: uuid, power_state, task_state, vm_state and
host are columns of the instance row, so they come without a join). They
differ only in where the object calls go:

* ``database``: straight to a nova cell database (``NovaDatabase``): the
  embedded sqlite of the demo and the tests, or any SQLAlchemy URL.
* ``conductor``: through nova-conductor over oslo.messaging, the way
  nova-compute reads instances (the objects' indirection API; see
  ``conductor.py``). This is the production mode: no database credentials
  on the PowerVM host.

Errors follow the port's contract: InstanceNotFound is ``None`` (the engine
caches the negative answer), anything that means nova could not answer
raises ``NovaUnavailable`` with one line naming the cause, and the engine
counts, logs and retries with backoff.

    lookup = DatabaseLookup(connection=sqlite_url("/tmp/nova.sqlite"))
    ctx = lookup.admin_context()
    lookup.get_instance(ctx, "0e6c...")   # InstanceInfo(uuid, task_state, power_state,
                                          #              vm_state, host)
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Iterable, Mapping

from stevedore import driver
from stevedore.exception import NoMatches

from lpar_eventd.engine.ports import InstanceInfo
from lpar_eventd.nova.config import register_objects
from lpar_eventd.nova.database import DB_ERRORS, NovaDatabase
from lpar_eventd.nova.errors import NovaUnavailable, unavailable

__all__ = ["NovaObjectsLookup", "DatabaseLookup", "ConductorLookup",
           "make_lookup", "lookup_names", "LookupNotFound", "NAMESPACE",
           "NovaUnavailable"]

LOG = logging.getLogger(__name__)

NAMESPACE = "lpar_eventd.lookups"


class NovaObjectsLookup:
    """Shared nova.objects reads; subclasses say where the calls go."""

    #: how errors name this nova (set by subclasses)
    endpoint = "nova"

    def __init__(self) -> None:
        register_objects()
        from nova import exception as nova_exc
        from nova import objects
        self._objects = objects
        self._not_found = nova_exc.InstanceNotFound

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        return DB_ERRORS

    def admin_context(self) -> Any:
        from nova import context as nova_context
        return nova_context.get_admin_context()

    def get_instance(self, context: Any, instance_uuid: str) -> InstanceInfo | None:
        try:
            inst = self._objects.Instance.get_by_uuid(
                context, instance_uuid.lower(), expected_attrs=[])
        except self._not_found:
            return None
        except self._unavailable_errors() as exc:
            raise unavailable(self.endpoint, exc) from exc
        return _info(inst)

    def get_instances(self, context: Any,
                      instance_uuids: Iterable[str]) -> Mapping[str, InstanceInfo]:
        """One query; keyed by nova's (lower-case) uuids, absent ones left out."""
        uuids = sorted({u.lower() for u in instance_uuids})
        if not uuids:
            return {}
        try:
            found = self._objects.InstanceList.get_by_filters(
                context, {"uuid": uuids, "deleted": False}, expected_attrs=[])
        except self._unavailable_errors() as exc:
            raise unavailable(self.endpoint, exc) from exc
        return {inst.uuid: _info(inst) for inst in found}


def _info(inst: Any) -> InstanceInfo:
    return InstanceInfo(inst.uuid, inst.task_state, inst.power_state, inst.vm_state,
                        inst.host)


class DatabaseLookup(NovaObjectsLookup):
    """Instances read from a nova cell database (embedded sqlite by default).

    Pass ``connection`` (an SQLAlchemy URL) or an existing ``database``.
    The schema must exist (``NovaDatabase.sync()``, ``lpar-eventd
    seed-nova``, or ``sync=True`` here: the demo's embedded sqlite); a
    missing table is reported as NovaUnavailable like any other database
    failure.
    """

    def __init__(self, connection: str | None = None,
                 database: NovaDatabase | None = None, sync: bool = False):
        if database is None:
            if connection is None:
                raise ValueError("DatabaseLookup needs a connection URL or a database")
            database = NovaDatabase(connection)
        if sync:
            database.sync()
        super().__init__()
        self.database = database
        self.endpoint = database.endpoint

    def admin_context(self) -> Any:
        return self.database.admin_context()


class ConductorLookup(NovaObjectsLookup):
    """Instances read through nova-conductor (nova-compute's way).

    Installs nova's conductor RPC API as the objects' indirection API and
    initialises nova's RPC transport from ``transport_url``: from then on
    every nova.objects remotable call in this process is an RPC to
    nova-conductor. That is process-wide by nature (it is in nova-compute
    too), so a process uses either this lookup or DatabaseLookup.
    """

    endpoint = "conductor"

    def __init__(self, transport_url: str | None = None, timeout: float | None = None):
        from lpar_eventd.nova import conductor
        super().__init__()
        self.wiring = conductor.use_conductor(transport_url, timeout)
        self.endpoint = f"conductor at {self.wiring.safe_url}"

    def _unavailable_errors(self) -> tuple[type[BaseException], ...]:
        import oslo_messaging
        return (oslo_messaging.MessagingException, *DB_ERRORS)


class LookupNotFound(ValueError):
    """The configured lookup name is not an installed entry point."""


def lookup_names() -> list[str]:
    from stevedore import ExtensionManager
    return sorted(ExtensionManager(NAMESPACE).names())


def make_lookup(name: str, **kwargs: Any) -> Any:
    """Build the lookup ``name`` (database, conductor, memory) with ``kwargs``.

    A failure to build it (bad URL, no broker configured) is raised as is;
    an unknown name becomes one LookupNotFound listing the choices.
    """
    try:
        mgr: Any = driver.DriverManager(NAMESPACE, name, invoke_on_load=False)
    except (NoMatches, RuntimeError) as exc:
        raise LookupNotFound(f"unknown nova lookup {name!r} (choose from: "
                             f"{', '.join(lookup_names())})") from exc
    return mgr.driver(**kwargs)

