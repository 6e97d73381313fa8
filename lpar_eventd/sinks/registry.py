"""Sinks by name, through stevedore's ``lpar_eventd.sinks`` entry points.

    sink = make_sink("log")
    sink = make_sink("notification", transport_url="rabbit://...")
    sink = make_sink("nova-driver", process=NOVA_COMPUTE, driver=compute_driver)

With ``process``, a sink that cannot work there (its ``processes``, see
``base.py``) is refused before it is built: the daemon passes
``process=DAEMON``, so ``nova-driver`` there is one clear error naming the
sinks that can run, instead of a TypeError or a silent no-op.
"""

from __future__ import annotations

from typing import Any

from stevedore import ExtensionManager, driver
from stevedore.exception import NoMatches

from lpar_eventd.sinks.base import ANYWHERE, PROCESS_NAMES

__all__ = ["make_sink", "sink_names", "sink_plugin", "runs_in", "SinkNotFound",
           "SinkNotHere", "NAMESPACE"]

NAMESPACE = "lpar_eventd.sinks"


class SinkNotFound(ValueError):
    """The configured sink name is not an installed entry point."""


class SinkNotHere(SinkNotFound):
    """The sink exists but cannot work in this process."""


def runs_in(plugin: Any) -> frozenset[str]:
    """The processes a sink class (or factory) can work in."""
    return frozenset(getattr(plugin, "processes", ANYWHERE))


def sink_names(process: str | None = None) -> list[str]:
    """Installed sink names; with ``process``, only those that can run there."""
    mgr = ExtensionManager(NAMESPACE)
    return sorted(ext.name for ext in mgr
                  if process is None or process in runs_in(ext.plugin))


def sink_plugin(name: str, process: str | None = None) -> Any:
    """The class (or factory) registered as ``name``; SinkNotFound if none, or
    (with ``process``) SinkNotHere if it cannot work in that process. The
    message offers the names that can."""
    try:
        mgr: Any = driver.DriverManager(NAMESPACE, name, invoke_on_load=False)
    except (NoMatches, RuntimeError) as exc:
        raise SinkNotFound(f"unknown sink {name!r} (choose from: "
                           f"{', '.join(sink_names(process))})") from exc
    where = runs_in(mgr.driver)
    if process is not None and process not in where:
        only = " or ".join(PROCESS_NAMES.get(p, p) for p in sorted(where))
        raise SinkNotHere(f"sink {name!r} runs only in {only}, not in "
                          f"{PROCESS_NAMES.get(process, process)} (choose from: "
                          f"{', '.join(sink_names(process))})")
    return mgr.driver


def make_sink(name: str, *, process: str | None = None, **kwargs: Any) -> Any:
    """Build sink ``name`` with ``kwargs``; an unknown name (or, with
    ``process``, a sink that cannot run there) is one clear error."""
    return sink_plugin(name, process)(**kwargs)
