"""A real systemd as PID 1, confined so that it starts only our units.

The confinement, exactly as the deploy tests must use it (never one without
the other):

* ``SYSTEMD_UNIT_PATH`` is a private unit directory: systemd loads no unit of
  the machine's, so it boots only what the test puts there;
* ``unshare --fork --pid --mount --mount-proc`` with tmpfs mounted on /tmp
  and /var/tmp before systemd starts: its boot-time clean-up of the temporary
  directories empties those tmpfs, not the machine's /tmp (where a CI
  checkout may live).

systemd mounts its own /run in that mount namespace, so its sockets
(``/run/systemd/private``, ``notify``) are private too. It does create
cgroups (``system.slice/...``) in the machine's hierarchy; ``kill()`` removes
those it made. SIGKILL to PID 1 ends the namespace: the kernel kills every
process in it. Two namespaces would share those cgroup names, so one runs at
a time (a lock file).

Files the units see must live outside /tmp and /var/tmp (hidden by the
tmpfs): ``scratch_root()`` makes a test-owned directory under /var/lib.

    with PrivateSystemd(unit_dir) as sd:
        sd.systemctl("start", "lpar-eventd.service")
        sd.show("lpar-eventd.service", "ActiveState", "StatusText")
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.functional.deploy.servers import wait_for

SYSTEMD = "/lib/systemd/systemd"
TARGET = "lpar-eventd-test.target"
LOCK = "/run/lock/lpar-eventd-systemd-test.lock"
CGROUP_ROOT = Path("/sys/fs/cgroup")

# The targets services depend on by default (DefaultDependencies=yes) and the
# ones our units name: empty, so the private unit path resolves them.
_STUB_TARGETS = ("sysinit.target", "basic.target", "shutdown.target",
                 "network.target", "network-online.target", "multi-user.target")


class CannotBoot(RuntimeError):
    """PID 1 systemd cannot start here (the reason says why)."""


def cannot_boot_reason() -> str | None:
    """Why PID 1 systemd in a namespace cannot start on this machine, if so."""
    if os.geteuid() != 0:
        return "needs root (pid and mount namespaces, PID 1 systemd)"
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is missing"
    probe = subprocess.run(  # noqa: S603
        ["unshare", "--fork", "--pid", "--mount", "--mount-proc", "true"],  # noqa: S607
        capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot create pid and mount namespaces: {probe.stderr.strip()}"
    return None


def scratch_root(prefix: str) -> Path:
    """A test-owned directory the confined units can see (not under /tmp)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/lib"))
    root.chmod(0o755)
    return root


def _cgroup_dirs() -> set[Path]:
    dirs: set[Path] = set()
    for hierarchy in CGROUP_ROOT.iterdir():
        for top in ("system.slice", "init.scope", "user.slice", "machine.slice"):
            base = hierarchy / top
            if base.is_dir():
                dirs.add(base)
                dirs.update(p for p in base.rglob("*") if p.is_dir())
    return dirs


class PrivateSystemd:
    """PID 1 systemd over ``unit_dir`` in its own pid and mount namespace."""

    def __init__(self, unit_dir: Path, target: str = TARGET):
        self.unit_dir = unit_dir
        self.target = target
        self.pid: int | None = None  # PID 1 of the namespace, as the machine sees it
        self._unshare: subprocess.Popen | None = None
        self._lock: Any = None
        self._cgroups_before: set[Path] = set()

    # -- life cycle -----------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "PrivateSystemd":
        for name in _STUB_TARGETS + (self.target,):
            unit = self.unit_dir / name
            if not unit.exists():
                unit.write_text(f"[Unit]\nDescription={name} (private test boot)\n")
        os.makedirs(os.path.dirname(LOCK), exist_ok=True)
        self._lock = open(LOCK, "w")  # noqa: SIM115 - closed in kill()
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._cgroups_before = _cgroup_dirs()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "SYSTEMD_UNIT_PATH": str(self.unit_dir)}
        script = ("mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/tmp && "
                  f"exec {SYSTEMD} --system --unit={self.target}")
        self._unshare = subprocess.Popen(  # noqa: S603
            ["unshare", "--fork", "--pid", "--mount", "--mount-proc",  # noqa: S607
             "sh", "-c", script],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self.pid = wait_for(self._systemd_pid, 10.0, "PID 1 systemd to exist", 0.1)
            wait_for(self._booted, timeout, f"systemd to reach {self.target}", 0.1)
        except BaseException:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL PID 1 (the kernel then kills the whole namespace), reap,
        remove the cgroups it made, release the lock. Safe to call twice."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._unshare is not None:
            try:
                self._unshare.wait(30)
            except subprocess.TimeoutExpired:
                self._unshare.kill()
                self._unshare.wait(10)
            self._unshare = None
        self.pid = None
        self._remove_cgroups()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "PrivateSystemd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # -- talking to it ----------------------------------------------------------
    def run(self, *argv: str, check: bool = True,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
        """A command inside the namespace (its /run, its PID numbers)."""
        assert self.pid is not None, "not started"
        proc = subprocess.run(  # noqa: S603
            ["nsenter", "-t", str(self.pid), "-m", "-p", *argv],  # noqa: S607
            capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}: "
                                 f"{proc.stdout.strip()} {proc.stderr.strip()}")
        return proc

    def systemctl(self, *args: str, check: bool = True,
                  timeout: float = 60.0) -> subprocess.CompletedProcess:
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl("show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def host_pid(self, ns_pid: int) -> int:
        """The machine's PID of a process known inside the namespace as ``ns_pid``."""
        assert self.pid is not None
        mine = os.readlink(f"/proc/{self.pid}/ns/pid")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != mine:
                    continue
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and line.split()[-1] == str(ns_pid):
                    return int(entry)
        raise LookupError(f"no process {ns_pid} in the namespace")

    # -- internals --------------------------------------------------------------
    def _systemd_pid(self) -> int | None:
        assert self._unshare is not None
        if self._unshare.poll() is not None:
            raise CannotBoot(f"unshare exited with {self._unshare.returncode}")
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
        try:
            pids = children.read_text().split()
        except OSError:
            return None
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/exe").resolve() == Path(SYSTEMD).resolve():
                    return int(pid)
            except OSError:
                continue
        return None

    def _booted(self) -> bool:
        state = self.run("systemctl", "is-system-running", check=False, timeout=10)
        return state.stdout.strip() in ("running", "degraded")

    def _remove_cgroups(self) -> None:
        made = sorted(_cgroup_dirs() - self._cgroups_before,
                      key=lambda p: len(p.parts), reverse=True)
        deadline = time.monotonic() + 10
        for path in made:
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last processes exit
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
