"""The version comes from the repository: a tag, a clone without tags, an sdist
built elsewhere, an export with no git metadata all build with a sensible one.

Each build is pip's own (an isolated build environment with setuptools and
setuptools-scm from the index), as an operator's ``pip install`` does.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,  # noqa: S607
                          text=True, timeout=120).stdout.strip()


def built_version(source: Path, out: Path, kind: str = "wheel") -> str:
    """Build a wheel (or an sdist) of ``source`` into ``out``; its version."""
    out.mkdir(parents=True, exist_ok=True)
    if kind == "wheel":
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
               str(source)]
    else:
        cmd = [sys.executable, "-m", "build", "--sdist", "-o", str(out), str(source)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)  # noqa: S603
    (built,) = out.iterdir()
    match = re.match(r"lpar_eventd-(.+?)(-py3-none-any\.whl|\.tar\.gz)$", built.name)
    assert match, built.name
    return match.group(1)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    path = tmp_path / "clone"
    git("clone", "-q", "--no-tags", str(REPO), str(path), cwd=tmp_path)
    return path


def test_a_clone_without_tags_counts_up_from_0_0_0(clone, tmp_path):
    version = built_version(clone, tmp_path / "wheel")
    commit = git("rev-parse", "--short=7", "HEAD", cwd=clone)
    assert re.fullmatch(r"0\.0\.1\.dev\d+\+g[0-9a-f]+", version), version
    assert version.split("+g")[1].startswith(commit[:7])


def test_a_tag_is_the_version_and_an_sdist_keeps_it_without_git(clone, tmp_path):
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "tag", "-a", "7.8.9",
        "-m", "release", cwd=clone)
    assert built_version(clone, tmp_path / "sdist", "sdist") == "7.8.9"
    (sdist,) = (tmp_path / "sdist").iterdir()
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert not (unpacked / ".git").exists()
    assert (unpacked / "deploy" / "systemd" / "lpar-eventd@.service").exists()
    assert built_version(unpacked, tmp_path / "from-sdist") == "7.8.9"


def test_an_export_without_git_metadata_builds_as_0_0_0(clone, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=clone, check=True,  # noqa: S607
                             capture_output=True, timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True,  # noqa: S607
                   timeout=120)
    assert built_version(export, tmp_path / "wheel") == "0.0.0"
