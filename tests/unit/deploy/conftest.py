"""promtool for the deploy tests: missing fails under CI, skips elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing: tools/bootstrap installs Debian's prometheus")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path
