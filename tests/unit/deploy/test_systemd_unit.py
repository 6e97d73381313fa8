"""The systemd units verify offline and keep their exposure figure at or under
2.0 ("OK"); the template is the unit with the instance in its paths.
(tests/functional/deploy/test_systemd.py runs them under a real systemd.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.debian_tools import require

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
UNIT = DEPLOY / "lpar-eventd.service"
TEMPLATE = DEPLOY / "lpar-eventd@.service"
SYSUSERS = DEPLOY / "lpar-eventd.sysusers"

# What lpar-eventd@.service changes in lpar-eventd.service, and nothing else.
TEMPLATE_CHANGES = (
    ("Description=lpar_eventd: NovaLink event reduction for nova",
     "Description=lpar_eventd for NovaLink host %i: event reduction for nova"),
    ("--config-file /etc/lpar-eventd/lpar-eventd.conf",
     "--config-file /etc/lpar-eventd/%i.conf"),
    ("StateDirectory=lpar-eventd\n", "StateDirectory=lpar-eventd/%i\n"),
    ("LogsDirectory=lpar-eventd\n", "LogsDirectory=lpar-eventd/%i\n"),
)


def analyze() -> str:
    return require("systemd-analyze", "systemd")


@pytest.mark.parametrize("unit", [UNIT, TEMPLATE], ids=lambda p: p.name)
def test_exposure_is_ok(unit):
    proc = subprocess.run([analyze(), "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", proc.stdout)
    assert match, proc.stdout[-2000:] + proc.stderr
    assert float(match.group(1)) <= 2.0, match.group(0)
    assert match.group(2) == "OK"


@pytest.mark.parametrize("source", [UNIT, TEMPLATE], ids=lambda p: p.name)
def test_unit_verifies_with_the_installed_console_script(tmp_path, source):
    script = Path(sys.prefix) / "bin" / "lpar-eventd"
    assert script.exists(), script
    unit = tmp_path / source.name.replace("@.service", "@host1.service")
    unit.write_text(source.read_text().replace("/usr/bin/lpar-eventd", str(script)))
    proc = subprocess.run([analyze(), "verify", str(unit)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_is_type_notify_with_a_watchdog_and_reload():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                 "StateDirectory=lpar-eventd", "NoNewPrivileges=yes",
                 "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n"):
        assert line in text, line


def test_the_template_is_the_unit_with_the_instance_in_its_paths():
    expected = UNIT.read_text()
    for old, new in TEMPLATE_CHANGES:
        assert expected.count(old) == 1, old
        expected = expected.replace(old, new)
    header, body = TEMPLATE.read_text().split("[Unit]", 1)
    assert all(line.startswith("#") for line in header.splitlines())
    assert "[Unit]" + body == expected


def test_the_unit_runs_as_the_static_user_sysusers_creates():
    """The config is root:lpar-eventd 0640: a DynamicUser= could not read it."""
    text = UNIT.read_text()
    settings = [line for line in text.splitlines() if not line.startswith("#")]
    assert not any(line.startswith("DynamicUser=") for line in settings)
    assert "User=lpar-eventd\n" in text and "Group=lpar-eventd\n" in text
    entries = [line.split() for line in SYSUSERS.read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert [e[:2] for e in entries] == [["u", "lpar-eventd"]]
