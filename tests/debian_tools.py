"""Binaries from Debian packages that tests run: required in CI, optional elsewhere.

tools/bootstrap installs the packages, so under CI a missing binary is a
broken set-up and fails the test; on a developer's machine it skips.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require(name: str, package: str) -> str:
    """Path of ``name`` (on PATH, or in /usr/bin, where Debian puts daemons
    that PATH of a minimal environment may miss); fail under CI, else skip."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} missing: tools/bootstrap installs Debian's {package}")
        pytest.skip(f"{name} not installed (Debian package {package})")
    return path
