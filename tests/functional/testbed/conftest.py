"""Host stacks for the functional tests: the simulator, nova's database and
nova's own nova-compute (with or without the engine embedded), started and
stopped by each test.

    def test_x(host_stack):
        stack = host_stack(scenario, mode="none", speed=10)   # started, healthy
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lpar_eventd.scale.scenarios import Scenario
from lpar_eventd.testbed.hoststack import HostOptions, HostStack, build_template


@pytest.fixture(scope="session")
def stack_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nova's schema once per session (WAL journal, as campaigns use it)."""
    path = tmp_path_factory.mktemp("stack-template") / "nova.sqlite"
    build_template(path)
    return path


@pytest.fixture
def host_stack(stack_template: Path, tmp_path: Path) -> Iterator[Callable[..., HostStack]]:
    """Factory of started, healthy host stacks; all stopped at teardown."""
    stacks: list[HostStack] = []

    def make(scenario: Scenario, **options: Any) -> HostStack:
        stack = HostStack(scenario, tmp_path / f"host-{len(stacks)}", stack_template,
                          HostOptions(**options), index=len(stacks))
        stacks.append(stack)
        return stack.start().healthy()

    yield make
    for stack in stacks:
        stack.stop()
