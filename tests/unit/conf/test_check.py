"""The daemon refuses a configuration it does not understand, in one line:
unknown groups and options (typos), bad values with the option, the value
and the reason, unknown plugin names; oslo.log's own options are known."""

from __future__ import annotations

import logging

import pytest
from oslo_config import cfg

from lpar_eventd.cmd.daemon import make_conf, run_daemon
from lpar_eventd.conf import check

GOOD = """[novalink]
host = 127.0.0.1
port = 1
protocol = http
username = u
password = sekret-pw

[nova]
lookup = database
connection = sqlite:///{db}

[sink]
driver = log

[metrics]
port = 0
"""


def write(tmp_path, extra: str = "", text: str | None = None):
    path = tmp_path / "lpar-eventd.conf"
    path.write_text((GOOD.format(db=tmp_path / "nova.sqlite") if text is None else text)
                    + extra)
    return path


def parsed(path) -> cfg.ConfigOpts:
    conf = make_conf()
    conf(["--config-file", str(path)], project="lpar-eventd")
    return conf


def start(path, capsys) -> str:
    """run_daemon's exit status must be 2; returns its one stderr line."""
    assert run_daemon(["--config-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("lpar-eventd: configuration error: ")
    assert "sekret-pw" not in err
    return err.strip()


def test_a_typo_in_an_option_and_a_group_stops_start_up_naming_both(tmp_path, capsys):
    path = write(tmp_path, "\n[events]\nsettle_secs = 3\n\n[event]\nmax_pending = 5\n")
    err = start(path, capsys)
    assert err == (f"lpar-eventd: configuration error: {path}: unknown option [events] "
                   "settle_secs (did you mean settle_seconds?); unknown group [event] "
                   "(did you mean [events]?)")


def test_an_option_in_the_wrong_group_is_unknown_there(tmp_path, capsys):
    err = start(write(tmp_path, "\n[metrics]\nsettle_seconds = 3\n"), capsys)
    assert "unknown option [metrics] settle_seconds" in err


def test_oslo_log_options_and_their_deprecated_names_are_known(tmp_path):
    path = write(tmp_path, "\n[DEFAULT]\ndebug = true\nuse_journal = false\n"
                           "log_config = /dev/null\nlog-date-format = %H:%M\n")
    check.check_known(parsed(path))  # no error


def test_a_library_the_daemon_does_not_read_is_unknown(tmp_path, capsys):
    """[keystone_authtoken] copied from nova.conf would be ignored: refused."""
    err = start(write(tmp_path, "\n[keystone_authtoken]\nauth_type = password\n"), capsys)
    assert "unknown group [keystone_authtoken]" in err


def test_the_message_bus_options_nova_compute_delivery_reads_are_known(tmp_path):
    """[oslo_messaging_rabbit] and [DEFAULT] transport_url, as in nova.conf."""
    path = write(tmp_path, "\n[oslo_messaging_rabbit]\nssl = true\n"
                           "rabbit_quorum_queue = true\n\n[DEFAULT]\n"
                           "transport_url = rabbit://nova:pw@127.0.0.1:5672/\n")
    assert check.unknown_options(parsed(path)) == []


def test_config_dir_files_are_checked_too(tmp_path, capsys):
    path = write(tmp_path)
    extra = tmp_path / "conf.d"
    extra.mkdir()
    (extra / "10-windows.conf").write_text("[events]\nsettle_sec = 3\n")
    assert run_daemon(["--config-file", str(path), "--config-dir", str(extra)]) == 2
    assert f"{extra / '10-windows.conf'}: unknown option [events] settle_sec" in \
        capsys.readouterr().err


@pytest.mark.parametrize("extra,expected", [
    ("[novalink]\nport = 99999\n",
     "[novalink] port = 99999: should be less than or equal to 65535"),
    ("[novalink]\nprotocol = ftp\n",
     "[novalink] protocol = ftp: valid values are [https, http], but found 'ftp'"),
    ("[events]\nsettle_seconds = soon\n",
     "[events] settle_seconds = soon: could not convert string to float: 'soon'"),
    ("[events]\nmax_pending = -3\n",
     "[events] max_pending = -3: should be greater than or equal to 1"),
])
def test_a_bad_value_is_the_file_the_option_the_value_and_the_reason(
        tmp_path, capsys, extra, expected):
    path = write(tmp_path, text=f"{extra}\n" + GOOD.format(db=tmp_path / "n.sqlite")
                 .replace("port = 1\n", "").replace("protocol = http\n", ""))
    err = start(path, capsys)
    assert err == f"lpar-eventd: configuration error: {path}: {expected}"
    assert "LocationInfo" not in err


def test_a_bad_secret_is_named_but_not_shown(tmp_path):
    group = cfg.OptGroup("vault")
    opt = cfg.IntOpt("pin", secret=True)
    path = tmp_path / "c.conf"
    path.write_text("[vault]\npin = 12a4\n")
    conf = cfg.ConfigOpts()
    conf.register_opt(opt, group)
    conf(["--config-file", str(path)])
    with pytest.raises(cfg.Error) as err:
        check.check_values(conf, [("vault", [opt])])
    assert str(err.value).startswith(f"{path}: [vault] pin = ****: ")
    assert "12a4" not in str(err.value)


@pytest.mark.parametrize("extra,expected", [
    ("[events]\npolicy = fastest\n",
     "[events] policy = fastest: unknown policy (choose from default, legacy, reference)"),
    ("", "[sink] driver = log,carrier-pigeon: unknown sink carrier-pigeon (choose from "),
])
def test_an_unknown_plugin_is_one_line_without_a_stevedore_warning(
        tmp_path, capsys, caplog, extra, expected):
    text = GOOD.format(db=tmp_path / "n.sqlite").replace(
        "driver = log", "driver = log,carrier-pigeon" if not extra else "driver = log")
    path = write(tmp_path, extra, text)
    with caplog.at_level(logging.WARNING):
        err = start(path, capsys)
    assert expected in err
    assert not [r for r in caplog.records if r.name.startswith("stevedore")]


def test_an_unreadable_ca_file_names_the_option_and_the_path(tmp_path, capsys):
    err = start(write(tmp_path, "\n[novalink]\nca_file = /nonexistent/ca.pem\n"), capsys)
    assert err.endswith("[novalink] ca_file = /nonexistent/ca.pem: not a readable file")


def test_a_line_that_is_no_assignment_names_the_file(tmp_path, capsys):
    err = start(write(tmp_path, "\nthis is not ini\n"), capsys)
    assert f"{tmp_path / 'lpar-eventd.conf'}: " in err and "this is not ini" in err
