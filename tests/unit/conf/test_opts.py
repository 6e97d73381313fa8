"""Options are discoverable by oslo-config-generator and map onto the engine."""

import re
import subprocess
import sys
from pathlib import Path

from oslo_config import cfg
from stevedore import driver

from lpar_eventd.cmd.daemon import make_conf
from lpar_eventd.conf import check, events, opts

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "etc" / "lpar-eventd.conf.sample"


def test_list_opts_is_published_under_oslo_config_opts():
    mgr = driver.DriverManager("oslo.config.opts", "lpar_eventd")
    groups = dict(mgr.driver())
    assert {"events", "cache"} <= set(groups)
    names = {o.name for o in groups["events"]}
    assert {"settle_seconds", "max_wait_seconds", "max_pending",
            "nvram_settle_seconds", "policy"} <= names


def test_list_opts_returns_copies():
    first = dict(opts.list_opts())["events"][0]
    assert first is not events.EVENTS_OPTS[0]


def test_engine_config_from_options():
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    conf([], project="lpar-eventd")
    conf.set_override("settle_seconds", 5.0, group="events")
    try:
        engine = events.engine_config(conf)
    finally:
        conf.clear_override("settle_seconds", group="events")
    assert engine.settle_seconds == 5.0 and engine.max_wait_seconds == 60.0


def test_the_committed_sample_config_is_current(tmp_path):
    """tox -e genconfig writes etc/lpar-eventd.conf.sample; it must not drift."""
    out = tmp_path / "sample.conf"
    subprocess.run([sys.executable, str(ROOT / "tools" / "genconfig.py"), "--output-file",
                    str(out)], check=True, capture_output=True, timeout=120)
    assert out.read_text() == SAMPLE.read_text(), "run: tox -e genconfig"


def test_the_sample_leads_with_our_groups_and_ends_with_the_libraries_default():
    sections = re.findall(r"^\[(\w+)\]$", SAMPLE.read_text(), re.MULTILINE)
    ours = [group for group, _ in opts.list_opts()]
    assert sections[:len(ours)] == ours and sections[0] == "novalink"
    assert "oslo_messaging_rabbit" in sections[len(ours):-1]
    assert sections[-1] == "DEFAULT" and sections.count("DEFAULT") == 1


def test_every_option_the_sample_describes_is_one_the_daemon_accepts(tmp_path):
    """Uncomment every option line of the sample: start-up knows each one."""
    text = re.sub(r"^#(\w[\w-]* = )", r"\1", SAMPLE.read_text(), flags=re.MULTILINE)
    path = tmp_path / "all.conf"
    path.write_text(text)
    conf = make_conf()
    conf(["--config-file", str(path)], project="lpar-eventd")
    assert check.unknown_options(conf) == []
    assert text.count("\n[") >= 7 and "\nhost = <None>" in text


def test_the_sample_defaults_are_production_ones():
    text = SAMPLE.read_text()
    for line in ("#lookup = conductor", "#driver = nova-compute", "#bind_host = 0.0.0.0",
                 "#protocol = https", "#insecure = false"):
        assert f"\n{line}\n" in text, line
    assert "sqlite" not in text.split("[DEFAULT]")[0]


def test_compute_host_defaults_to_what_nova_compute_uses_and_reaches_the_engine():
    """nova's [DEFAULT] host defaults to socket.gethostname(): so does ours,
    so the default is right on a NovaLink partition running nova-compute."""
    import socket

    from lpar_eventd.engine.handler import EngineConfig
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    conf([], project="lpar-eventd")
    assert conf.nova.compute_host == socket.gethostname()
    assert events.engine_config(conf).compute_host == socket.gethostname()
    assert EngineConfig().compute_host == socket.gethostname()
    conf.set_override("compute_host", "novalink-a.example.com", group="nova")
    try:
        assert events.engine_config(conf).compute_host == "novalink-a.example.com"
    finally:
        conf.clear_override("compute_host", group="nova")
