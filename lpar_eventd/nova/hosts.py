"""Naming nova compute hosts in seeds and scenarios.

nova records the compute host that runs an instance in ``instance.host``
(None when it has none: unscheduled, or shelved offloaded). A seed or a
scenario is written before anyone knows which host will play it, so it
names "this host" with ``THIS_HOST`` (whoever plays it: by default this
machine's name, which is also nova-compute's and the daemon's default host)
and nova's None with ``NO_HOST``; any other string is another host's name.

    resolve_host(THIS_HOST)            # 'novalink-a' (socket.gethostname())
    resolve_host(NO_HOST)              # None
    resolve_host("compute-b")          # 'compute-b'
"""

from __future__ import annotations

from lpar_eventd.engine.ports import local_compute_host

__all__ = ["THIS_HOST", "NO_HOST", "resolve_host"]

THIS_HOST = "<this host>"   # the compute host the rows are written for
NO_HOST = "<no host>"       # nova's host None (unscheduled, shelved offloaded)


def resolve_host(value: str, this_host: str | None = None) -> str | None:
    """A host as nova stores it: THIS_HOST is ``this_host`` (default: this
    machine's name, nova's own default CONF.host), NO_HOST is None."""
    if value == THIS_HOST:
        return this_host or local_compute_host()
    if value == NO_HOST:
        return None
    return value
