"""promtool for the deploy tests: missing fails under CI, skips elsewhere."""

from __future__ import annotations

import pytest

from tests.debian_tools import require


@pytest.fixture(scope="session")
def promtool() -> str:
    return require("promtool", "prometheus")
