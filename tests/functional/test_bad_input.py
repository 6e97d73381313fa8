"""Bad arguments and bad configuration: one line on stderr, non-zero, nothing started.

In process where the command returns before starting anything (fast); the
installed console scripts once each in a subprocess (the real entry points).
"Nothing started": the port asked for is still free afterwards and no file
named by the arguments (log, record, output) was created.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lpar_eventd.cmd import daemon as daemon_cmd
from lpar_eventd.cmd import sim as sim_cmd
from lpar_eventd.testbed.procs import free_port, write_engine_config
from lpar_eventd.nova.database import sqlite_url

BIN = Path(sys.executable).parent


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _one_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith((prog + ":", prog + " ")), lines[0]
    return lines[0]


# -- lpar-eventd-sim ---------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--bogus"], "unrecognized arguments"),
    (["--port", "99999"], "port out of range"),
    (["--port", "-1"], "port out of range"),
    (["--port", "x"], "not a port number"),
    (["--speed", "0"], "must be > 0"),
    (["--speed", "nan"], "must be > 0"),
    (["--lpars", "-5", "--scenario", "mixed"], "must be >= 1"),
    (["--long-poll", "-1"], "must be >= 0"),
    (["--max-queue", "0"], "must be >= 1"),
    (["--token-ttl", "-1"], "must be > 0"),
    (["--scenario", "nosuch"], "unknown scenario"),
    (["--replay", "/nonexistent/events.jsonl"], "No such file"),
    (["--https-port", "0", "--cert", "/etc/hostname"], "--cert and --key go together"),
    (["--https-port", "0", "--cert", "/nonexistent", "--key", "/nonexistent"],
     "not a readable file"),
    (["--host", "no-such-host.invalid"], "not an address"),
    (["--no-http"], "--no-http needs --https-port"),
    (["record"], "required: --out"),
    (["record", "--out", "/nonexistent-dir/x.jsonl"], "not writable"),
    (["record", "--out", "x", "--port", "70000"], "port out of range"),
])
def test_sim_bad_arguments(args, words, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("logging.basicConfig", lambda **kw: None)  # the test's logging
    port = free_port()
    if "--port" not in args and args[:1] != ["record"]:
        args = [*args, "--port", str(port)]
    with pytest.raises(SystemExit) as exc:
        sys.exit(sim_cmd.main(args))
    assert exc.value.code == 2
    out = capsys.readouterr()
    line = _one_line(out.err, "lpar-eventd-sim")
    assert words in line
    assert _port_free(port)
    assert list(tmp_path.iterdir()) == []


# -- lpar-eventd ----------------------------------------------------------------
@pytest.fixture(autouse=True)
def _in_process_daemon(monkeypatch) -> None:
    """run_daemon in this process: a fresh metrics registry per call, and no
    oslo.log set-up of the test process's logging (the checks come first)."""
    from prometheus_client import CollectorRegistry
    monkeypatch.setattr("lpar_eventd.service.REGISTRY", CollectorRegistry(), raising=False)
    monkeypatch.setattr(daemon_cmd.oslo_log, "setup", lambda *a, **k: None)


@pytest.fixture
def conf_file(tmp_path: Path):
    """Write a daemon config with ``extra`` appended (later keys win per group)."""
    def write(extra: str = "", drop: str = "") -> Path:
        path = tmp_path / "bad.conf"
        write_engine_config(path, sim_port=1, nova_url=sqlite_url(tmp_path / "nova.sqlite"),
                            metrics_port=free_port(), speed=1.0, extra=extra)
        if drop:
            path.write_text("\n".join(line for line in path.read_text().splitlines()
                                      if not line.startswith(drop)))
        return path
    return write


@pytest.mark.parametrize("extra, drop, words", [
    ("", "host =", "[novalink] host is required"),
    ("", "password =", "username and password are required"),
    ("[novalink]\nprotocol = gopher\n", "", "protocol"),
    ("[novalink]\nca_file = /nonexistent/ca.pem\n", "", "[novalink] ca_file"),
    ("[novalink]\ntimeout = -3\n", "", "timeout"),
    ("[metrics]\nport = 70000\n", "", "port"),
    ("[metrics]\nbind_host = 999.1.1.1\n", "", "bind_host"),
    ("[metrics]\ncert_file = /etc/hostname\n", "", "cert_file and key_file go together"),
    ("[metrics]\nbasic_auth_file = /nonexistent/users\n", "", "basic_auth_file"),
    ("[events]\npolicy = nosuch\n", "", "policy"),
    ("[events]\nsettle_seconds = soon\n", "", "settle_seconds"),
    ("[nova]\nlookup = conductor\n", "", "transport_url is required"),
    ("[sink]\ndriver = nosuch\n", "", "nosuch"),
    ("[sink]\ndriver = log,nova-driver\n", "",
     "[sink] driver = nova-driver: sink 'nova-driver' runs only in nova-compute"),
    ("[sink]\ndriver = nova-compute\n", "",
     "[DEFAULT] transport_url is required for the nova-compute sink"),
    ("[sink]\ndriver = nova-compute\n[DEFAULT]\ntransport_url = rabbit://nova:pw@127.0.0.1:9/\n"
     "[oslo_messaging_rabbit]\nssl = true\nssl_ca_file = /nonexistent/ca.pem\n", "",
     "[oslo_messaging_rabbit] ssl_ca_file"),
])
def test_daemon_bad_configuration(extra, drop, words, conf_file, capsys, tmp_path) -> None:
    conf = conf_file(extra, drop)
    log = tmp_path / "daemon.log"
    record = tmp_path / "record.jsonl"
    text = conf.read_text()
    port = int(text.split("[metrics]", 1)[1].split("port = ", 1)[1].split()[0])
    rc = daemon_cmd.run_daemon(["--config-file", str(conf), "--log-file", str(log),
                                "--record", str(record)])
    assert rc == 2
    line = _one_line(capsys.readouterr().err, "lpar-eventd")
    assert "configuration error" in line and words in line, line
    assert not record.exists()
    assert _port_free(port)


@pytest.mark.parametrize("args, words", [
    (["--bogus"], "unrecognized arguments"),
    (["--config-file", "/nonexistent.conf"], "no such file: /nonexistent.conf"),
    (["--config-file", "/etc/hostname"], "/etc/hostname: "),
])
def test_daemon_bad_arguments(args, words, capsys) -> None:
    assert daemon_cmd.run_daemon(args) == 2
    assert words in _one_line(capsys.readouterr().err, "lpar-eventd")


def test_basic_auth_file_with_no_hash_is_refused(conf_file, tmp_path, capsys) -> None:
    users = tmp_path / "users"
    users.write_text("admin:plaintext-password\n")
    conf = conf_file(f"[metrics]\nbasic_auth_file = {users}\n")
    assert daemon_cmd.run_daemon(["--config-file", str(conf)]) == 2
    line = _one_line(capsys.readouterr().err, "lpar-eventd")
    assert "bcrypt" in line and "plaintext-password" not in line


@pytest.mark.parametrize("args", [["demo", "--lpars", "x"], ["demo", "--bogus"],
                                  ["seed-nova", "--bogus"], ["demo", "--lpars", "0"]])
def test_helper_commands_bad_arguments(args, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        sys.exit(daemon_cmd.main(args))
    assert exc.value.code == 2
    _one_line(capsys.readouterr().err, f"lpar-eventd {args[0]}")


# -- the installed console scripts --------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("script, args, prog", [
    ("lpar-eventd", ["--bogus"], "lpar-eventd"),
    ("lpar-eventd", ["demo", "--bogus"], "lpar-eventd demo"),
    ("lpar-eventd-sim", ["--port", "99999"], "lpar-eventd-sim"),
])
def test_console_scripts(script, args, prog) -> None:
    proc = subprocess.run([str(BIN / script), *args], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    err = "\n".join(line for line in proc.stderr.splitlines()
                    if "ventlet" not in line and line.strip()
                    and not line.startswith(("  ", "we strongly", "If you are", "framework",
                                             "https://eventlet")))
    _one_line(err, prog)


@pytest.mark.slow
def test_metrics_port_in_use_is_one_line_and_exit_1(conf_file, nova_db_path, tmp_path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    conf = tmp_path / "busy.conf"
    write_engine_config(conf, sim_port=1, nova_url=sqlite_url(nova_db_path),
                        metrics_port=port, speed=1.0)
    try:
        proc = subprocess.run([sys.executable, "-m", "lpar_eventd.cmd.daemon",
                               "--config-file", str(conf)], capture_output=True,
                              text=True, timeout=60, check=False)
    finally:
        busy.close()
    assert proc.returncode == 1
    assert "cannot serve metrics" in proc.stderr.splitlines()[-1]
