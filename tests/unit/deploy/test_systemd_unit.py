"""The systemd unit verifies and keeps its exposure figure at or under 2.0 ("OK")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.debian_tools import require

UNIT = Path(__file__).resolve().parents[3] / "deploy" / "systemd" / "lpar-eventd.service"


def analyze() -> str:
    return require("systemd-analyze", "systemd")


def test_exposure_is_ok():
    proc = subprocess.run([analyze(), "security", "--offline=true", str(UNIT)],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", proc.stdout)
    assert match, proc.stdout[-2000:] + proc.stderr
    assert float(match.group(1)) <= 2.0, match.group(0)
    assert match.group(2) == "OK"


def test_unit_verifies_with_the_installed_console_script(tmp_path):
    script = Path(sys.prefix) / "bin" / "lpar-eventd"
    assert script.exists(), script
    unit = tmp_path / "lpar-eventd.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/lpar-eventd", str(script)))
    proc = subprocess.run([analyze(), "verify", str(unit)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_is_type_notify_with_a_watchdog_and_reload():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                 "StateDirectory=lpar-eventd", "NoNewPrivileges=yes",
                 "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n"):
        assert line in text, line
