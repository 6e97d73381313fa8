"""The nova-driver sink against nova's own fake virt driver."""

from __future__ import annotations

import datetime

import pytest
from nova.virt import event as virtevent
from nova.virt import fake

from lpar_eventd.engine.ports import Transition
from lpar_eventd.sinks.base import SinkError
from lpar_eventd.sinks.driver import NOVA_TRANSITIONS, DriverSink
from tests.unit.sinks.events import INSTANCE, lifecycle


@pytest.fixture
def driver():
    return fake.FakeDriver(virtapi=None)


class TestDriverSink:
    @pytest.mark.parametrize("transition,nova", [
        (Transition.STARTED, virtevent.EVENT_LIFECYCLE_STARTED),
        (Transition.STOPPED, virtevent.EVENT_LIFECYCLE_STOPPED),
        (Transition.SUSPENDED, virtevent.EVENT_LIFECYCLE_SUSPENDED),
        (Transition.RESUMED, virtevent.EVENT_LIFECYCLE_RESUMED)])
    def test_reaches_the_compute_managers_callback(self, driver, transition, nova):
        heard: list[virtevent.LifecycleEvent] = []
        driver.register_event_listener(heard.append)
        DriverSink(driver, wall=lambda: 1_700_000_000.0).emit(lifecycle(transition))
        [event] = heard
        assert isinstance(event, virtevent.LifecycleEvent)
        assert (event.uuid, event.transition) == (INSTANCE, nova)
        assert event.timestamp == datetime.datetime(2023, 11, 14, 22, 13, 20)

    def test_every_transition_is_mapped(self):
        assert set(NOVA_TRANSITIONS) == set(Transition)

    def test_no_listener_yet_raises(self, driver):
        with pytest.raises(SinkError, match="not registered"):
            DriverSink(driver).emit(lifecycle())
