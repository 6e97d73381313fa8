"""The delivery wire: per-host names and the payload's round trip."""

from __future__ import annotations

import datetime

import pytest
from oslo_config import cfg

from lpar_eventd.conf import opts
from lpar_eventd.delivery.wire import (
    EXCHANGE, MalformedDecision, decision_of, lifecycle_target, queue_name,
    rpc_transport_url)
from lpar_eventd.engine.ports import Transition
from lpar_eventd.sinks.notifier import payload_of
from tests.unit.sinks.events import INSTANCE, LPAR, lifecycle


def test_one_queue_per_compute_host_on_novas_exchange():
    target = lifecycle_target("compute-01.example.com")
    assert (target.exchange, target.topic) == (
        "nova", "lpar_eventd_lifecycle.compute-01.example.com")
    assert EXCHANGE == "nova"
    assert queue_name("compute-01") == "lpar_eventd_lifecycle.compute-01.info"


@pytest.mark.parametrize("host", ["", "compute.*", "#"])
def test_a_host_that_is_not_a_name_is_refused(host):
    with pytest.raises(ValueError, match="compute host"):
        lifecycle_target(host)


def test_a_decision_survives_the_payload():
    sent = lifecycle(Transition.STOPPED, "not activated")
    payload = payload_of(sent, 1_700_000_000.0)
    event, decided = decision_of(payload)
    assert (event.instance_uuid, event.lpar_uuid, event.transition,
            event.observed_state) == (INSTANCE, LPAR, Transition.STOPPED, "not activated")
    assert decided == 1_700_000_000.0


def test_a_naive_decided_time_is_utc():
    payload = payload_of(lifecycle(), 0.0) | {"decided_time": "2023-11-14T22:13:20"}
    _, decided = decision_of(payload)
    assert decided == datetime.datetime(2023, 11, 14, 22, 13, 20,
                                        tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize("change", [
    {"transition": "exploded"}, {"decided_time": "yesterday"}, {"instance_uuid": None},
])
def test_a_payload_that_is_not_a_decision_is_malformed(change):
    payload = {k: v for k, v in (payload_of(lifecycle(), 0.0) | change).items()
               if v is not None}
    with pytest.raises(MalformedDecision, match="not a lifecycle decision"):
        decision_of(payload)


def test_the_transport_url_is_oslo_messagings_default_option(tmp_path):
    path = tmp_path / "lpar-eventd.conf"
    path.write_text("[DEFAULT]\ntransport_url = rabbit://nova:pw@ctl:5672/\n")
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    conf(["--config-file", str(path)], project="lpar-eventd")
    assert rpc_transport_url(conf) == "rabbit://nova:pw@ctl:5672/"
    assert conf.control_exchange == "nova"  # as nova sets it
