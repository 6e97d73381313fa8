"""Lifecycle events for sink tests."""

from lpar_eventd.engine.ports import LifecycleEvent, Transition

INSTANCE = "8e6c1a2b-0000-4000-8000-000000000001"
LPAR = "0E6C1A2B-0000-4000-8000-000000000001"


def lifecycle(transition: Transition = Transition.STARTED,
              state: str = "running") -> LifecycleEvent:
    return LifecycleEvent(INSTANCE, LPAR, transition, state, 100.0, 115.25)
