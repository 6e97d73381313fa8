"""Policies by name, through stevedore's ``lpar_eventd.policies`` entry points."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from stevedore import driver
from stevedore.exception import NoMatches

from lpar_eventd.engine.handler import BaseHandler, EngineConfig, Ports
from lpar_eventd.engine.ports import Clock
from lpar_eventd.metrics import Metrics

__all__ = ["make_handler", "policy_names", "PolicyNotFound"]

NAMESPACE = "lpar_eventd.policies"


class PolicyNotFound(ValueError):
    """The configured policy name is not an installed entry point."""


def policy_names() -> list[str]:
    from stevedore import ExtensionManager
    return sorted(ExtensionManager(NAMESPACE).names())


def make_handler(name: str, ports: Ports, config: EngineConfig | None = None,
                 metrics: Metrics | None = None, clock: Clock | None = None,
                 executor: Executor | None = None) -> BaseHandler:
    """Build the handler of policy ``name`` (default, reference, legacy)."""
    try:
        mgr: Any = driver.DriverManager(NAMESPACE, name, invoke_on_load=False)
    except (NoMatches, RuntimeError) as exc:
        raise PolicyNotFound(
            f"unknown policy {name!r} (choose from: {', '.join(policy_names())})"
        ) from exc
    return mgr.driver(ports, config, metrics, clock, executor)
