"""Start-up checks: a bad or missing option is one clear error naming it."""

from __future__ import annotations

import pytest
from oslo_config import cfg
from prometheus_client import CollectorRegistry

from lpar_eventd.cmd.daemon import make_conf, run_daemon
from lpar_eventd.service import ConfigError, build


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
])
def test_bad_configuration_is_one_clear_error(tmp_path, change, message):
    text = GOOD.format(db=tmp_path / "nova.sqlite").replace(*change)
    conf = conf_with(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        build(conf, registry=CollectorRegistry())
    assert message in str(err.value)
    assert "\n" not in str(err.value) and "sekret-pw" not in str(err.value)


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
