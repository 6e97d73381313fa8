"""The systemd units under a real systemd (PID 1 in a private pid and mount
namespace, see ``systemd_ns``), installed as deploy/README.md says, running
the real daemon against the NovaLink simulator.

Installed under a test-owned root instead of /opt and /etc, the way an
operator with another layout would: a drop-in (``systemctl edit``) replaces
ExecStart= with the venv's script and the config path, and moves the state
directory so the test never touches a real /var/lib/lpar-eventd:

    [Service]
    ExecStart=
    ExecStart=ROOT/opt/lpar-eventd/bin/lpar-eventd \
        --config-file ROOT/etc/lpar-eventd/lpar-eventd.conf
    ConfigurationDirectory=
    StateDirectory=
    StateDirectory=lpar-eventd-test-XXXX

plus the test's own lines (the log into a file, as there is no journald in
the namespace; a short watchdog where the test waits for it).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lpar_eventd.testbed.procs import free_port, scrape
from lpar_eventd.nova.database import NovaDatabase, sqlite_url
from lpar_eventd.nova.seed import InstanceSpec, instance_uuid_for, seed_instances
from lpar_eventd.simulator import SimConfig, Simulator
from tests.functional.deploy.install import DEPLOY, install_venv
from tests.functional.deploy.servers import wait_for
from tests.functional.deploy.systemd_ns import (
    PrivateSystemd, cannot_boot_reason, scratch_root)

pytestmark = pytest.mark.slow

USER = "lpar-eventd"
NOVALINK_USER, NOVALINK_PASSWORD = "hscroot", "abc123"
LPAR = "1A2B3C4D-0000-4000-8000-00000000AB01"
RUNNING = 1  # nova power_state


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    """The venv and the system user, as the guide installs them, for the module."""
    reason = cannot_boot_reason()
    if reason:
        pytest.skip(f"PID 1 systemd cannot start here: {reason}")
    root = scratch_root("lpar-eventd-systemd-")
    made_user = False
    try:
        install_venv(root)
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["systemd-sysusers",  # noqa: S607
                            str(DEPLOY / "lpar-eventd.sysusers")], check=True,
                           capture_output=True, timeout=60)
            made_user = True
        yield root
    finally:
        if made_user:
            subprocess.run(["userdel", USER], check=False, capture_output=True)  # noqa: S607
            subprocess.run(["groupdel", USER], check=False, capture_output=True)  # noqa: S607
        shutil.rmtree(root, ignore_errors=True)


class Install:
    """One test's units, configs and state directories under the module's root."""

    def __init__(self, root: Path, tag: str):
        self.root = root / tag
        self.units = self.root / "units"
        self.etc = self.root / "etc" / "lpar-eventd"
        self.logs = self.root / "logs"
        for path in (self.units, self.etc, self.logs):
            path.mkdir(parents=True)
        self.root.chmod(0o755)
        shutil.chown(self.etc, "root", USER)
        self.etc.chmod(0o750)
        #: StateDirectory= of the test's units, under /var/lib, removed at teardown
        self.state_name = f"lpar-eventd-test-{root.name[-8:]}-{tag}"
        self.state_dir = Path("/var/lib") / self.state_name
        self.venv = root / "opt" / "lpar-eventd"

    def unit(self, name: str, **drop_in: str) -> None:
        """Install deploy/systemd/NAME (install -m 0644) plus a drop-in."""
        shutil.copyfile(DEPLOY / name, self.units / name)
        (self.units / name).chmod(0o644)
        state = self.state_name
        instance = "%i" if name.endswith("@.service") else ""
        config = self.etc / (f"{instance}.conf" if instance else "lpar-eventd.conf")
        lines = ["[Service]", "ExecStart=",
                 f"ExecStart={self.venv}/bin/lpar-eventd --config-file {config}",
                 "ConfigurationDirectory=", "StateDirectory=",
                 f"StateDirectory={state}/{instance}" if instance else f"StateDirectory={state}",
                 "LogsDirectory=",
                 f"StandardOutput=append:{self.logs}/{instance or 'lpar-eventd'}.log",
                 f"StandardError=append:{self.logs}/{instance or 'lpar-eventd'}.log"]
        lines += [f"{key}={value}" for key, value in drop_in.items()]
        folder = self.units / f"{name}.d"
        folder.mkdir(exist_ok=True)
        (folder / "test.conf").write_text("\n".join(lines) + "\n")

    def config(self, name: str, text: str) -> Path:
        """install -o root -g lpar-eventd -m 0640"""
        path = self.etc / name
        path.write_text(text)
        shutil.chown(path, "root", USER)
        path.chmod(0o640)
        return path

    def log(self, name: str = "lpar-eventd") -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove_state(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture
def install(installed: Path, request: pytest.FixtureRequest) -> Iterator[Install]:
    inst = Install(installed, request.node.name[:40].replace("[", "-").rstrip("]"))
    try:
        yield inst
    finally:
        inst.remove_state()


@pytest.fixture
def systemd(install: Install) -> Iterator[PrivateSystemd]:
    """PID 1 systemd over the test's unit directory; SIGKILLed at teardown,
    whatever the test did."""
    sd = PrivateSystemd(install.units)
    try:
        sd.start()
        yield sd
    finally:
        sd.kill()


@pytest.fixture
def nova_sqlite(install: Install, nova_db_template) -> Path:
    """A nova database (nova's own schema) with one running instance for LPAR,
    readable by the service user (the unit's file system is read-only)."""
    folder = install.root / "nova"
    folder.mkdir()
    path = folder / "nova.sqlite"
    shutil.copyfile(nova_db_template.path, path)
    db = NovaDatabase(sqlite_url(path))
    try:
        seed_instances(db, [InstanceSpec(instance_uuid_for(LPAR), RUNNING, None,
                                         "vm-1", LPAR)])
    finally:
        db.dispose()
    path.chmod(0o644)
    return path


def simulator(port: int = 0) -> Simulator:
    return Simulator(SimConfig(port=port, long_poll=0.5,
                               users={NOVALINK_USER: NOVALINK_PASSWORD})).start()


def daemon_config(sim_port: int, metrics_port: int, nova: Path, extra: str = "") -> str:
    """A production-shaped config: the simulator over plain HTTP, the sqlite
    nova database, the log sink, short windows."""
    return f"""[novalink]
host = 127.0.0.1
port = {sim_port}
protocol = http
username = {NOVALINK_USER}
password = {NOVALINK_PASSWORD}
feed_stale_seconds = 30
reconnect_backoff_max_seconds = 1

[events]
settle_seconds = 0.5
max_wait_seconds = 3
nvram_settle_seconds = 0.2

[nova]
lookup = database
connection = {sqlite_url(nova)}

[sink]
driver = log

[metrics]
bind_host = 127.0.0.1
port = {metrics_port}
{extra}"""


def healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def service_uid(sd: PrivateSystemd, unit: str) -> int:
    pid = sd.host_pid(int(sd.show(unit, "MainPID")["MainPID"]))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


# -- the scenarios ----------------------------------------------------------------
def test_the_unit_starts_reports_reloads_and_stops_cleanly(install, systemd, nova_sqlite):
    sim = simulator()
    metrics_port = free_port()
    try:
        sim.add_lpar(LPAR, "running")
        conf = install.config("lpar-eventd.conf",
                              daemon_config(sim.http_port, metrics_port, nova_sqlite))
        install.unit("lpar-eventd.service")
        systemd.systemctl("daemon-reload")
        # Type=notify: start returns once the daemon sent READY=1
        systemd.systemctl("start", "lpar-eventd.service", timeout=120)
        unit = "lpar-eventd.service"
        assert systemd.show(unit, "ActiveState")["ActiveState"] == "active", install.log()
        assert service_uid(systemd, unit) == pwd.getpwnam(USER).pw_uid
        assert (conf.stat().st_mode & 0o777, conf.stat().st_gid) == (
            0o640, grp.getgrnam(USER).gr_gid)
        wait_for(lambda: "NovaLink feed ok" in systemd.show(unit, "StatusText")["StatusText"],
                 30, "STATUS=NovaLink feed ok")
        assert healthz(metrics_port)[0] == 200
        status = systemd.show(unit, "StatusText")["StatusText"]
        assert "pending" in status and "in flight" in status

        # a shutdown outside nova reaches the log sink through the sandbox
        sim.operate(LPAR, "shutdown", speed=20).result(timeout=30)
        wait_for(lambda: "lifecycle transition=stopped" in install.log(), 30,
                 "the STOPPED decision in the log")

        # reload: SIGHUP re-reads the file; the same process goes on
        pid = systemd.show(unit, "MainPID")["MainPID"]
        conf.write_text(conf.read_text().replace("settle_seconds = 0.5",
                                                 "settle_seconds = 0.25"))
        systemd.systemctl("reload", unit)
        wait_for(lambda: "Configuration reloaded: settle 0.2 s" in install.log()
                 or "Configuration reloaded: settle 0.3 s" in install.log(), 20,
                 "the reload in the log")
        assert systemd.show(unit, "MainPID")["MainPID"] == pid

        # stop: SIGTERM, exit 0 well within TimeoutStopSec
        started = time.monotonic()
        systemd.systemctl("stop", unit, timeout=60)
        took = time.monotonic() - started
        shown = systemd.show(unit, "ActiveState", "Result", "ExecMainStatus")
        assert shown == {"ActiveState": "inactive", "Result": "success",
                         "ExecMainStatus": "0"}, install.log()[-3000:]
        assert took < 30, took
        assert "lpar_eventd stopped (clean)" in install.log()
    finally:
        sim.stop()


_STALL = """
import ctypes, os, sys
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
tid = int(sys.argv[1])
for request in (PTRACE_SEIZE, PTRACE_INTERRUPT):
    if libc.ptrace(request, tid, None, None) != 0:
        sys.exit("ptrace: " + os.strerror(ctypes.get_errno()))
print("stopped", flush=True)
while True:  # keep the thread stopped; reap it when the process dies
    _, status = os.waitpid(tid, 0x40000000)  # __WALL
    if os.WIFEXITED(status) or os.WIFSIGNALED(status):
        break
"""


def _scheduler_tid(host_pid: int) -> int:
    for tid in os.listdir(f"/proc/{host_pid}/task"):
        if Path(f"/proc/{host_pid}/task/{tid}/comm").read_text().strip() == "scheduler":
            return int(tid)
    raise AssertionError("no thread named scheduler")


def test_the_watchdog_restarts_a_daemon_whose_scheduler_stalls(install, systemd, nova_sqlite):
    """Only the scheduler thread is stopped (ptrace stops one thread; SIGSTOP
    would stop them all): the feed and /metrics go on, the watchdog pings
    stop, systemd aborts the daemon (every thread's stack in its log) and
    starts a new one."""
    sim = simulator()
    metrics_port = free_port()
    stall = None
    try:
        install.config("lpar-eventd.conf",
                       daemon_config(sim.http_port, metrics_port, nova_sqlite))
        install.unit("lpar-eventd.service", WatchdogSec="4", RestartSec="2")
        unit = "lpar-eventd.service"
        systemd.systemctl("daemon-reload")
        systemd.systemctl("start", unit, timeout=120)
        first = systemd.show(unit, "MainPID")["MainPID"]
        host_pid = systemd.host_pid(int(first))
        stall = subprocess.Popen([sys.executable, "-c", _STALL,  # noqa: S603
                                  str(_scheduler_tid(host_pid))],
                                 stdout=subprocess.PIPE, text=True)
        assert stall.stdout.readline().strip() == "stopped"
        results: set[str] = set()

        def restarted() -> bool:
            shown = systemd.show(unit, "Result", "NRestarts", "MainPID", "ActiveState")
            results.add(shown["Result"])
            return (shown["NRestarts"] == "1" and shown["ActiveState"] == "active"
                    and shown["MainPID"] not in ("0", first))
        wait_for(restarted, 60, "the watchdog restart", interval=0.1)
        assert "watchdog" in results, results
        log = install.log()
        assert "Fatal Python error: Aborted" in log, log[-3000:]
        assert "in _loop" in log  # the stalled scheduler's stack
        wait_for(lambda: healthz(metrics_port)[0] == 200, 30, "the new daemon healthy")
    finally:
        if stall is not None:
            stall.kill()
            stall.wait(10)
        sim.stop()


def test_a_start_while_novalink_is_down_is_ready_and_says_why(install, systemd, nova_sqlite):
    """READY at once, /healthz 503 and a STATUS naming the failure; healthy
    once NovaLink answers (no start timeout, no restart loop)."""
    sim_port, metrics_port = free_port(), free_port()
    install.config("lpar-eventd.conf", daemon_config(sim_port, metrics_port, nova_sqlite))
    install.unit("lpar-eventd.service")
    unit = "lpar-eventd.service"
    systemd.systemctl("daemon-reload")
    started = time.monotonic()
    systemd.systemctl("start", unit, timeout=120)
    assert time.monotonic() - started < 60
    assert systemd.show(unit, "ActiveState")["ActiveState"] == "active"
    wait_for(lambda: "last try: ConnectionError" in
             systemd.show(unit, "StatusText")["StatusText"], 30, "the failure in STATUS")
    status = systemd.show(unit, "StatusText")["StatusText"]
    assert status.startswith("waiting for the first NovaLink feed read"), status
    code, body = healthz(metrics_port)
    assert code == 503 and "waiting for the first NovaLink feed read" in body
    sim = simulator(sim_port)
    try:
        wait_for(lambda: healthz(metrics_port)[0] == 200, 30, "healthy after NovaLink is up")
        wait_for(lambda: "NovaLink feed ok" in systemd.show(unit, "StatusText")["StatusText"],
                 30, "STATUS=NovaLink feed ok")
        assert systemd.show(unit, "NRestarts")["NRestarts"] == "0"
    finally:
        systemd.systemctl("stop", unit, timeout=60)
        sim.stop()


def test_the_template_runs_two_hosts_side_by_side(install, systemd, nova_sqlite):
    sims = {"novalink-a": simulator(), "novalink-b": simulator()}
    ports = {name: free_port() for name in sims}
    try:
        for name, sim in sims.items():
            state = install.state_dir / name
            install.config(f"{name}.conf", daemon_config(
                sim.http_port, ports[name], nova_sqlite,
                f"\n[nvram]\nstore = directory\npath = {state}/nvram\n"))
        install.unit("lpar-eventd@.service")
        systemd.systemctl("daemon-reload")
        units = [f"lpar-eventd@{name}.service" for name in sims]
        systemd.systemctl("start", *units, timeout=120)
        for name, unit in zip(sims, units, strict=True):
            assert systemd.show(unit, "ActiveState")["ActiveState"] == "active", \
                install.log(name)
            wait_for(lambda port=ports[name]: healthz(port)[0] == 200, 30, f"{name} healthy")
        assert (install.state_dir / "novalink-a").is_dir()
        assert (install.state_dir / "novalink-b").is_dir()
        # each daemon reads its own host: its simulator saw exactly one client
        for name, sim in sims.items():
            wait_for(lambda s=sim: s.status()["clients"] == 1, 20, f"{name}'s one client")
            samples = scrape(f"http://127.0.0.1:{ports[name]}/metrics")
            assert samples["lpar_eventd_source_up"] == 1
        pids = {systemd.show(u, "MainPID")["MainPID"] for u in units}
        assert len(pids) == 2
        systemd.systemctl("stop", *units, timeout=60)
        for unit in units:
            assert systemd.show(unit, "Result")["Result"] == "success"
    finally:
        for sim in sims.values():
            sim.stop()
