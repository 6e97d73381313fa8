"""Install lpar_eventd as deploy/README.md says, under a test-owned root.

The guide's steps, with every machine path moved under ``root`` (the confined
systemd cannot see /tmp, where the checkout and its .venv may live):

* ``python3 -m venv /opt/lpar-eventd && pip install /path/to/lpar_eventd``:
  a venv at ``root/opt/lpar-eventd`` with the product installed from a wheel
  built from this checkout. Its dependencies are not downloaded again: the
  checkout's .venv site-packages are hard-linked (copied across file systems)
  into ``root/deps`` and put on the venv's path with a .pth file; the
  checkout's own editable install is left out, so the daemon runs the wheel.
* ``systemd-sysusers deploy/systemd/lpar-eventd.sysusers``: the system user;
* the unit files into the private unit directory, and the configuration as
  root:lpar-eventd 0640 in a 0750 directory.

    venv = install_venv(root)          # root/opt/lpar-eventd/bin/lpar-eventd
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import lpar_eventd

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy" / "systemd"


def _link_tree(src: Path, dst: Path) -> None:
    """Hard links where the file systems allow (fast), copies elsewhere; the
    checkout's own editable install stays out."""
    def own_install(directory: str, names: list[str]) -> set[str]:
        if Path(directory) != src:
            return set()
        return {n for n in names if n.startswith(("__editable__", "lpar_eventd"))}

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    shutil.copytree(src, dst, ignore=own_install, copy_function=link, symlinks=True)


def system_python() -> str:
    """The distribution's python3 when it is this Python's version (the
    guide's ``python3 -m venv``): a Python under /root or /home, as pyenv
    installs, is hidden from the unit by ProtectHome=yes."""
    wanted = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in ("/usr/bin/python3", f"/usr/bin/python{wanted}"):
        if Path(candidate).exists():
            found = subprocess.run(  # noqa: S603
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, check=False).stdout.strip()
            if found == wanted:
                return candidate
    return getattr(sys, "_base_executable", None) or sys.executable


def install_venv(root: Path) -> Path:
    """root/opt/lpar-eventd with this checkout installed; returns the venv path."""
    # Built from a copy: a build in the checkout writes lpar_eventd.egg-info
    # there, which importlib.metadata in the test process would then find.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", "build", "dist"))
    wheels = root / "wheels"
    env = dict(os.environ, SETUPTOOLS_SCM_PRETEND_VERSION=lpar_eventd.__version__)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",  # noqa: S603
                    "-w", str(wheels), str(source)], check=True, timeout=600,
                   capture_output=True, env=env)
    deps = root / "deps"
    _link_tree(Path(sysconfig.get_paths()["purelib"]), deps)
    venv = root / "opt" / "lpar-eventd"
    subprocess.run([system_python(), "-m", "venv", str(venv)], check=True,  # noqa: S603
                   timeout=300, capture_output=True)
    purelib = subprocess.run(  # noqa: S603
        [str(venv / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "lpar-eventd-test-deps.pth").write_text(f"{deps}\n")
    wheel = next(wheels.glob("lpar_eventd-*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps",  # noqa: S603
                    "--no-index", str(wheel)], check=True, timeout=300,
                   capture_output=True)
    return venv
