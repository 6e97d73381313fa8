"""An embedded nova database: nova's own schema and data-access code.

lpar_eventd's ``database`` lookup reads instances straight from a nova cell
database through nova.objects, with nothing of nova running. For the demo
and the tests that database is an sqlite file whose schema nova itself
builds (``nova.db.migration.db_sync``, i.e. nova's alembic migrations), so
the rows, the queries and the exceptions are exactly nova's. Any SQLAlchemy
URL works (MySQL, PostgreSQL) for production-like setups.

Each ``NovaDatabase`` owns an oslo.db transaction context bound to its URL
and hands it to nova on the request context (``context.db_connection``, the
mechanism nova uses to target a cell), so several databases can live in one
process and none depends on nova's global, start-once context manager.

    db = NovaDatabase(sqlite_url("/tmp/nova.sqlite"))
    db.sync()                     # nova's schema, ~0.3-1.3 s
    ctx = db.admin_context()      # nova.objects calls now read this database
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from lpar_eventd.nova.config import configure_nova
from lpar_eventd.nova.errors import unavailable

__all__ = ["NovaDatabase", "sqlite_url", "build_sqlite", "begin_immediate_on_sqlite",
           "DB_ERRORS"]

LOG = logging.getLogger(__name__)

#: How long an sqlite reader waits for a writer's lock before giving up.
#: Short on purpose: a locked database should fail fast and be retried by the
#: engine's backoff, not hold one of its few settle workers for seconds.
SQLITE_BUSY_TIMEOUT = 1.0


def _db_errors() -> tuple[type[BaseException], ...]:
    from oslo_db import exception as db_exc
    from sqlalchemy import exc as sa_exc
    return (db_exc.DBError, sa_exc.SQLAlchemyError, OSError)


#: Exceptions that mean "the database cannot be used right now".
DB_ERRORS: tuple[type[BaseException], ...] = _db_errors()


def sqlite_url(path: str | os.PathLike[str],
               busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> str:
    """The SQLAlchemy URL of an sqlite file, with a short busy timeout."""
    return f"sqlite:///{os.path.abspath(path)}?timeout={busy_timeout:g}"


_IMMEDIATE_INSTALLED = False


def begin_immediate_on_sqlite() -> None:
    """Make every sqlite transaction take the write lock when it begins.

    Why: oslo.db emits a plain (deferred) ``BEGIN`` for sqlite, and nova's
    writes read first (``Instance.save`` selects the row, then updates it).
    When another process (nova-api, the harness) commits in between, sqlite
    cannot upgrade the stale read snapshot and fails at once with "database
    is locked": the busy timeout never gets a chance. ``BEGIN IMMEDIATE``
    waits (up to the busy timeout) for the lock up front instead, so
    concurrent writers queue rather than fail. Installed once, on the Engine
    class, ahead of oslo.db's own listener, which then sees the transaction
    already begun; other databases are left alone.
    """
    global _IMMEDIATE_INSTALLED
    if _IMMEDIATE_INSTALLED:
        return
    from sqlalchemy import event, text
    from sqlalchemy.engine import Engine

    def begin(conn: Any) -> None:
        if conn.dialect.name == "sqlite" and "in_transaction" not in conn.info:
            conn.execute(text("BEGIN IMMEDIATE"))
            conn.info["in_transaction"] = True  # oslo.db's marker: it skips its BEGIN

    event.listen(Engine, "begin", begin, insert=True)
    _IMMEDIATE_INSTALLED = True


class NovaDatabase:
    """One nova cell database, reachable through nova.objects."""

    def __init__(self, connection: str):
        configure_nova(connection=connection)
        if connection.startswith("sqlite"):
            begin_immediate_on_sqlite()
        from nova.db.main import api as main_db_api
        self.connection = connection
        self._manager = main_db_api.create_context_manager(connection)

    @property
    def endpoint(self) -> str:
        """How error messages name this database (no password)."""
        from sqlalchemy.engine import make_url
        return "database " + make_url(self.connection).render_as_string(
            hide_password=True)

    def admin_context(self) -> Any:
        """A nova admin RequestContext that reads and writes this database."""
        from nova import context as nova_context
        ctx = nova_context.get_admin_context()
        ctx.db_connection = self._manager
        return ctx

    def sync(self) -> float:
        """Create or upgrade nova's main (cell) schema; returns seconds taken.

        Only the main database is needed: instances live there, and neither
        ``Instance.get_by_uuid`` nor ``Instance.create`` touches the API
        database (cell mappings, flavors of the API, request specs).
        """
        from nova.db import migration
        started = time.perf_counter()
        try:
            migration.db_sync(database="main", context=self.admin_context())
        except DB_ERRORS as exc:
            raise unavailable(self.endpoint, exc) from exc
        took = time.perf_counter() - started
        LOG.info("nova schema ready in %s (%.2f s)", self.endpoint, took)
        return took

    def version(self) -> str | None:
        """The alembic revision of the main schema (None before sync)."""
        from nova.db import migration
        return migration.db_version(database="main", context=self.admin_context())

    def dispose(self) -> None:
        """Close pooled connections (tests, and before moving the file)."""
        try:
            self._manager.writer.get_engine().dispose()
        except DB_ERRORS as exc:  # nothing to close if it never connected
            LOG.debug("dispose of %s: %s", self.endpoint, exc)


def build_sqlite(path: str | os.PathLike[str]) -> NovaDatabase:
    """Create (or upgrade) an sqlite nova database at ``path`` with nova's schema."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    db = NovaDatabase(sqlite_url(path))
    db.sync()
    return db
