"""Sinks by name, through stevedore's ``lpar_eventd.sinks`` entry points.

    sink = make_sink("log")
    sink = make_sink("notification", transport_url="rabbit://...")
    sink = make_sink("nova-driver", driver=compute_driver)
"""

from __future__ import annotations

from typing import Any

from stevedore import driver
from stevedore.exception import NoMatches

__all__ = ["make_sink", "sink_names", "SinkNotFound", "NAMESPACE"]

NAMESPACE = "lpar_eventd.sinks"


class SinkNotFound(ValueError):
    """The configured sink name is not an installed entry point."""


def sink_names() -> list[str]:
    from stevedore import ExtensionManager
    return sorted(ExtensionManager(NAMESPACE).names())


def make_sink(name: str, **kwargs: Any) -> Any:
    """Build sink ``name`` with ``kwargs``; an unknown name is one clear error."""
    try:
        mgr: Any = driver.DriverManager(NAMESPACE, name, invoke_on_load=False)
    except (NoMatches, RuntimeError) as exc:
        raise SinkNotFound(f"unknown sink {name!r} (choose from: "
                           f"{', '.join(sink_names())})") from exc
    return mgr.driver(**kwargs)
