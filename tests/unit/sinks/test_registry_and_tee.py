"""Loading sinks by name; the tee sink."""

from __future__ import annotations

import pytest
from nova.virt import fake

from lpar_eventd.engine.inmemory import MemorySink
from lpar_eventd.engine.ports import Transition
from lpar_eventd.sinks.base import Sink
from lpar_eventd.sinks.driver import DriverSink
from lpar_eventd.sinks.log import LogSink
from lpar_eventd.sinks.notifier import NotificationSink
from lpar_eventd.sinks.base import DAEMON, NOVA_COMPUTE
from lpar_eventd.sinks.registry import SinkNotFound, SinkNotHere, make_sink, sink_names
from lpar_eventd.sinks.tee import TeeSink
from tests.unit.sinks.events import lifecycle


class TestRegistry:
    def test_names(self):
        assert {"log", "notification", "nova-driver", "nova-compute", "memory"} <= set(
            sink_names())

    def test_each_by_name(self):
        assert isinstance(make_sink("log"), LogSink)
        assert isinstance(make_sink("memory"), MemorySink)
        note = make_sink("notification", transport_url="fake:/")
        assert isinstance(note, NotificationSink)
        note.close()
        assert isinstance(make_sink("nova-driver", driver=fake.FakeDriver(None)), DriverSink)

    def test_unknown(self):
        with pytest.raises(SinkNotFound, match="choose from: .*log"):
            make_sink("carrier-pigeon")

    def test_where_each_sink_can_run_is_its_own_property(self):
        assert "nova-driver" not in sink_names(DAEMON)
        assert "nova-compute" not in sink_names(NOVA_COMPUTE)
        assert {"log", "notification", "nova-compute"} <= set(sink_names(DAEMON))
        assert {"log", "notification", "nova-driver"} <= set(sink_names(NOVA_COMPUTE))

    def test_a_sink_is_refused_where_it_cannot_run(self):
        with pytest.raises(SinkNotHere) as err:
            make_sink("nova-driver", process=DAEMON, driver=fake.FakeDriver(None))
        assert str(err.value).startswith("sink 'nova-driver' runs only in nova-compute")
        assert "nova-driver" not in str(err.value).split("choose from")[1]
        sink = make_sink("nova-driver", process=NOVA_COMPUTE, driver=fake.FakeDriver(None))
        assert isinstance(sink, DriverSink)

    def test_base_is_abstract(self):
        with pytest.raises(TypeError):
            Sink()  # type: ignore[abstract]


class TestTee:
    def test_all_in_order(self):
        a, b = MemorySink(), MemorySink()
        TeeSink(a, b).emit(lifecycle())
        assert len(a.events) == len(b.events) == 1

    def test_first_failure_raises_and_stops(self):
        a, b = MemorySink(), MemorySink()
        a.fail_next = 1
        with pytest.raises(ConnectionError):
            TeeSink(a, b).emit(lifecycle())
        assert b.events == []

    def test_close_closes_those_that_can(self):
        closed = []

        class Closing(MemorySink):
            def close(self) -> None:
                closed.append(self)

        TeeSink(MemorySink(), Closing()).close()
        assert len(closed) == 1


class TestTeeRetry:
    def test_a_retry_reaches_only_the_sinks_that_failed(self):
        first, second = MemorySink(), MemorySink()
        second.fail_next = 1
        tee = TeeSink(first, second)
        with pytest.raises(ConnectionError):
            tee.emit(lifecycle())
        tee.emit(lifecycle())  # the engine's retry of the same decision
        assert len(first.events) == 1 and len(second.events) == 1

    def test_another_decision_goes_to_every_sink(self):
        first, second = MemorySink(), MemorySink()
        second.fail_next = 1
        tee = TeeSink(first, second)
        with pytest.raises(ConnectionError):
            tee.emit(lifecycle())
        tee.emit(lifecycle(Transition.STOPPED, "not activated"))
        assert len(first.events) == 2 and len(second.events) == 1
