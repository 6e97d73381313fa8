"""Properties over any interleaving: convergence, no leaks, no wasted nova calls."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nova.compute import power_state
from prometheus_client import CollectorRegistry

from lpar_eventd.engine import policy
from lpar_eventd.engine.events import Event
from lpar_eventd.engine.handler import DefaultHandler, EngineConfig, Ports
from lpar_eventd.engine.inmemory import (
    FakeClock, MemoryHost, MemoryNova, MemoryNvram, MemorySink, drive)
from lpar_eventd.metrics import Metrics
from tests.unit.engine.conftest import lpar_uri

STATES = ["not activated", "starting", "open firmware", "running", "shutting down",
          "error", "suspending", "suspended", "resuming", "migrating running",
          "not available", "Unknown"]
UUIDS = [f"{i:01X}{i:07X}-1111-4222-8333-{i:012X}" for i in range(6)]

lpar_setup = st.tuples(st.sampled_from(STATES), st.booleans())   # state, managed
step = st.one_of(
    st.tuples(st.just("state"), st.integers(0, 5), st.sampled_from(STATES),
              st.floats(0.0, 30.0)),
    st.tuples(st.just("chatter"), st.integers(0, 5), st.sampled_from(
        ["ReferenceCode,Other", "Other", ""]), st.floats(0.0, 5.0)),
    st.tuples(st.just("lost"), st.sampled_from(["CACHE_CLEARED", "MISSING_EVENTS",
                                                "NEW_CLIENT"]), st.just(""),
              st.floats(0.0, 5.0)),
    st.tuples(st.just("fail"), st.sampled_from(["nova", "host", "sink"]),
              st.integers(1, 3), st.floats(0.0, 5.0)),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(setup=st.lists(lpar_setup, min_size=6, max_size=6),
       steps=st.lists(step, max_size=60), batch=st.integers(1, 5))
def test_any_interleaving_converges_without_leaks(setup, steps, batch):
    clock = FakeClock()
    host = MemoryHost({u: s for u, (s, _) in zip(UUIDS, setup)})
    nova = MemoryNova()
    for uuid, (state, managed) in zip(UUIDS, setup):
        if managed:
            nova.add(uuid.lower(), policy.expected_power_state(state) or power_state.NOSTATE)
    sink = MemorySink(nova)
    metrics = Metrics(CollectorRegistry())
    handler = DefaultHandler(Ports(host, nova, sink, MemoryNvram()),
                             EngineConfig(retry_max_seconds=30.0), metrics, clock)
    pending: list[Event] = []
    for kind, a, b, gap in steps:
        if kind == "state":
            host.states[UUIDS[a]] = b
            pending.append(Event.parse("MODIFY_URI", lpar_uri(UUIDS[a]),
                                       "PartitionState,Other", clock.now()))
        elif kind == "chatter":
            pending.append(Event.parse("MODIFY_URI", lpar_uri(UUIDS[a]), b, clock.now()))
        elif kind == "lost":
            pending.append(Event.parse(a, "", "", clock.now()))
        else:
            target = {"nova": nova, "host": host, "sink": sink}[a]
            target.fail_next += b
        if len(pending) >= batch:
            handler.accept_batch(pending)
            pending = []
        drive(handler, clock, clock.now() + gap)
    handler.accept_batch(pending)
    drive(handler, clock, clock.now() + 3600.0)

    assert handler.idle() and len(handler.queue) == 0
    assert metrics.value("pending_settles") == 0
    assert not handler._attempts and not handler._chunks and not handler._chunk_of
    assert not handler.caches.events   # every counted event was answered for
    for uuid, (_, managed) in zip(UUIDS, setup):
        if not managed:
            continue
        expected = policy.expected_power_state(host.states[uuid])
        if expected is not None:
            assert nova.instances[uuid.lower()].power_state == expected, uuid
    # every event changed nova's view: nothing redundant was emitted
    emitted = metrics.total("lifecycle_events_emitted_total")
    assert emitted == len(sink.events)
    # answered nova calls never outnumber settles (failed ones are retried)
    calls = metrics.total("get_instance_calls_total") - metrics.value(
        "get_instance_calls_total", result="error")
    settles = metrics.total("state_reads_total") + metrics.value(
        "lpar_list_reads_total", result="ok")
    assert calls <= settles
