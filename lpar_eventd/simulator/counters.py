"""Counters of what the simulator did: the ground truth tests compare with.

Plain named counters and labelled counters (events sent per EventType,
responses per status) kept on the event loop thread; ``snapshot`` returns a
copy safe to hand to another thread. No prometheus here: the simulator
stands in for NovaLink, which exports nothing to the daemon's registry.

    c = Counters(); c.add("events_produced"); c.add_label("responses", "204")
    c.snapshot()["responses"]["204"]   # 1
"""

from __future__ import annotations

from collections import Counter, defaultdict

__all__ = ["Counters"]


class Counters:
    """Named totals plus per-label totals."""

    def __init__(self) -> None:
        self._totals: Counter[str] = Counter()
        self._labelled: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def add(self, name: str, amount: int = 1) -> None:
        self._totals[name] += amount

    def add_label(self, name: str, label: str, amount: int = 1) -> None:
        self._labelled[name][label] += amount

    def get(self, name: str, label: str | None = None) -> int:
        if label is None:
            return self._totals[name]
        return self._labelled[name][label]

    def snapshot(self) -> dict[str, object]:
        out: dict[str, object] = dict(self._totals)
        out.update({k: dict(v) for k, v in self._labelled.items()})
        return out

    def reset(self) -> None:
        self._totals.clear()
        self._labelled.clear()
