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
    engine = events.engine_config(conf)
    assert engine.settle_seconds == 5.0 and engine.max_wait_seconds == 60.0
