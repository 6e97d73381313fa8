"""Start-up checks: a bad or missing option is one clear error naming it."""

from __future__ import annotations

import pytest
from oslo_config import cfg
from prometheus_client import CollectorRegistry

from lpar_eventd.cmd.daemon import make_conf, run_daemon
from lpar_eventd.service import ConfigError, build
from lpar_eventd.sinks.base import SinkError
from tests.unit.sinks.events import lifecycle


def conf_with(tmp_path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "lpar-eventd.conf"
    path.write_text(text)
    conf = make_conf()
    conf(["--config-file", str(path)], project="lpar-eventd")
    return conf


GOOD = """
[novalink]
host = 127.0.0.1
port = 1
protocol = http
username = u
password = sekret-pw
[nova]
lookup = database
connection = sqlite:///{db}
create_schema = false
[sink]
driver = log
[metrics]
bind_host = 127.0.0.1
port = 0
"""


def test_a_good_config_builds_every_part(tmp_path):
    conf = conf_with(tmp_path, GOOD.format(db=tmp_path / "nova.sqlite"))
    daemon = build(conf, registry=CollectorRegistry())
    assert daemon.handler.name == "default"
    assert daemon.handler.config.settle_seconds == 15.0


@pytest.mark.parametrize("change,message", [
    (("\nhost = 127.0.0.1", "\n"), "[novalink] host is required"),
    (("password = sekret-pw", ""), "[novalink] username and password are required"),
    (("[nova]", "[events]\npolicy = fastest\n[nova]"), "unknown policy 'fastest'"),
    (("[metrics]", "[sink]\ndriver = carrier-pigeon\n[metrics]"),
     "unknown sink 'carrier-pigeon'"),
    (("lookup = database", "lookup = conductor"), "[nova] transport_url is required"),
    (("connection = sqlite", "#"), "[nova] connection is required with lookup = database"),
    (("[metrics]", "[sink]\ndriver = notification\n[metrics]"),
     "[sink] transport_url is required"),
    (("[metrics]", "[sink]\ndriver = nova-compute\n[metrics]"),
     "[DEFAULT] transport_url is required for the nova-compute sink"),
])
def test_bad_configuration_is_one_clear_error(tmp_path, change, message):
    text = GOOD.format(db=tmp_path / "nova.sqlite").replace(*change)
    conf = conf_with(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        build(conf, registry=CollectorRegistry())
    assert message in str(err.value)
    assert "\n" not in str(err.value) and "sekret-pw" not in str(err.value)


def test_a_sink_that_cannot_work_in_the_daemon_is_refused_in_one_line(tmp_path):
    """nova-driver needs nova-compute's driver object: in the daemon it is a
    configuration error naming the option, the value and the choices."""
    text = GOOD.format(db=tmp_path / "n.sqlite") + "[sink]\ndriver = log,nova-driver\n"
    with pytest.raises(ConfigError) as err:
        build(conf_with(tmp_path, text), registry=CollectorRegistry())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("[sink] driver = nova-driver: sink 'nova-driver' runs only "
                              "in nova-compute")
    choices = message.split("choose from: ")[1].rstrip(")").split(", ")
    assert "nova-compute" in choices and "log" in choices and "nova-driver" not in choices


def test_the_nova_compute_sink_is_built_from_the_standard_messaging_options(tmp_path):
    text = GOOD.format(db=tmp_path / "nova.sqlite") + (
        "[sink]\ndriver = nova-compute\n[nova]\ncompute_host = compute-07\n"
        "[DEFAULT]\ntransport_url = rabbit://nova:sekret-pw@127.0.0.1:9/\n"
        "[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n")
    daemon = build(conf_with(tmp_path, text), registry=CollectorRegistry())
    try:  # nothing listens on port 9: the send fails at once, naming where it went
        with pytest.raises(SinkError, match="not delivered to nova-compute on compute-07: "):
            daemon.sink.emit(lifecycle())
    finally:
        daemon.sink.close()


def test_malformed_basic_auth_file_is_refused(tmp_path):
    auth = tmp_path / "htpasswd"
    auth.write_text("alice:plaintext\n")
    text = GOOD.format(db=tmp_path / "nova.sqlite") + f"basic_auth_file = {auth}\n"
    with pytest.raises(ConfigError, match="expected user:bcrypt-hash"):
        build(conf_with(tmp_path, text), registry=CollectorRegistry())


@pytest.mark.parametrize("line,name", [
    ("settle_seconds = soon", "settle_seconds"),
    ("max_pending = -3", "max_pending"),
    ("shutdown_mode = abandon", "shutdown_mode"),
])
def test_bad_values_exit_2_naming_the_option(tmp_path, capsys, line, name):
    path = tmp_path / "c.conf"
    path.write_text(GOOD.format(db=tmp_path / "n.sqlite") + f"[events]\n{line}\n")
    assert run_daemon(["--config-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpar-eventd: configuration error") and name in err
    assert err.count("\n") == 1


def test_a_missing_config_file_exits_2(tmp_path, capsys):
    assert run_daemon(["--config-file", str(tmp_path / "absent.conf")]) == 2
    assert "absent.conf" in capsys.readouterr().err


def test_passwords_are_secret_options():
    conf = make_conf()
    assert conf._opts  # registered
    for group, name in (("novalink", "password"), ("nova", "connection"),
                        ("nova", "transport_url"), ("sink", "transport_url")):
        assert conf._get_opt_info(name, group)["opt"].secret, (group, name)
