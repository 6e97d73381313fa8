"""Options are discoverable by oslo-config-generator and map onto the engine."""

from oslo_config import cfg
from stevedore import driver

from lpar_eventd.conf import events, opts


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
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    generator = Path(sys.prefix) / "bin" / "oslo-config-generator"
    out = tmp_path / "sample.conf"
    # the namespaces of tox -e genconfig, read from tox.ini so they cannot drift
    command = next(line for line in (root / "tox.ini").read_text().splitlines()
                   if "oslo-config-generator" in line).split()
    namespaces = [command[i + 1] for i, arg in enumerate(command) if arg == "--namespace"]
    assert {"lpar_eventd", "oslo.log", "oslo.messaging"} <= set(namespaces)
    subprocess.run([str(generator), *[a for ns in namespaces for a in ("--namespace", ns)],
                    "--output-file", str(out)], check=True, capture_output=True,
                   timeout=120)
    committed = root / "etc" / "lpar-eventd.conf.sample"
    assert out.read_text() == committed.read_text(), "run: tox -e genconfig"


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
