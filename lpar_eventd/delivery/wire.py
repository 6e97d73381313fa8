"""The delivery wire: where a decision for a compute host goes, and its payload.

One notification per decision, ``event_type`` ``lpar_eventd.lifecycle``,
priority INFO, the payload of the ``notification`` sink (``payload_of``)::

    {"instance_uuid": "...", "pvm_uuid": "...", "transition": "stopped",
     "observed_state": "not activated", "first_event_time": "...+00:00",
     "decided_time": "2026-...+00:00", "settle_delay_seconds": 15.2}

sent to topic ``lpar_eventd_lifecycle.<host>`` of nova's exchange; the rabbit
driver routes it (key ``<topic>.info``) to the queue of the same name, one
per compute host. ``host`` is nova-compute's ``[DEFAULT] host`` (the compute
host name nova records on its instances and services).

    lifecycle_target("compute-01")  # exchange 'nova', topic 'lpar_eventd_lifecycle.compute-01'
    queue_name("compute-01")        # 'lpar_eventd_lifecycle.compute-01.info'
    decision_of(payload)            # (LifecycleEvent, decided UTC seconds)
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import oslo_messaging
from oslo_config import cfg

from lpar_eventd.engine.ports import LifecycleEvent, Transition
from lpar_eventd.sinks.notifier import EVENT_TYPE, PRIORITY

__all__ = ["EXCHANGE", "TOPIC", "EVENT_TYPE", "lifecycle_topic", "lifecycle_target",
           "queue_name", "decision_of", "MalformedDecision", "rpc_transport_url"]

#: nova's control exchange (nova sets oslo.messaging's ``control_exchange``
#: default to it); the queue lives next to nova's own ``compute.<host>``.
EXCHANGE = "nova"
#: Topic prefix; the host name follows.
TOPIC = "lpar_eventd_lifecycle"


class MalformedDecision(ValueError):
    """A message on the queue that is not a decision this version understands."""


def lifecycle_topic(host: str) -> str:
    """The per-host topic (the notification sink's ``topics`` entry)."""
    if not host or any(c in host for c in "#*"):
        raise ValueError(f"compute host {host!r}: must be a host name")
    return f"{TOPIC}.{host}"


def lifecycle_target(host: str, exchange: str = EXCHANGE) -> oslo_messaging.Target:
    """What a listener for ``host`` listens on."""
    return oslo_messaging.Target(exchange=exchange, topic=lifecycle_topic(host))


def queue_name(host: str) -> str:
    """The broker queue holding ``host``'s decisions (what rabbitmqctl lists)."""
    return f"{lifecycle_topic(host)}.{PRIORITY.lower()}"


def rpc_transport_url(conf: cfg.ConfigOpts) -> str:
    """``[DEFAULT] transport_url`` of ``conf``: nova's RPC bus, which both sides
    use (oslo.messaging registers the option, and ``control_exchange``, when
    it first parses a URL; unset, it is oslo's ``rabbit://`` on localhost)."""
    oslo_messaging.TransportURL.parse(conf)
    return conf.transport_url


def decision_of(payload: Mapping[str, Any]) -> tuple[LifecycleEvent, float]:
    """The decision in a payload and when it was decided (UTC epoch seconds).

    Raises MalformedDecision on a payload that lacks a field or names an
    unknown transition (a newer sender's, or a stray message).
    """
    try:
        transition = Transition(payload["transition"])
        decided = datetime.datetime.fromisoformat(payload["decided_time"])
        event = LifecycleEvent(str(payload["instance_uuid"]), str(payload["pvm_uuid"]),
                               transition, str(payload.get("observed_state", "")),
                               0.0, float(payload.get("settle_delay_seconds", 0.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedDecision(f"not a lifecycle decision ({type(exc).__name__}: "
                                f"{exc})") from None
    if decided.tzinfo is None:
        decided = decided.replace(tzinfo=datetime.UTC)
    return event, decided.timestamp()
