"""Play time-ordered steps onto the simulated host, ``speed`` times faster.

Scenarios, replayed logs and live operations all become a list of steps
with times in uncompressed seconds; the player sleeps until each step is due
(``at / speed`` after the start) and applies every step due by then in one
go, so a high speed turns a long scenario into bursts that fill the feed the
way a busy host does. NovaChange steps are the nova side of a scenario: the
simulator does not own nova, so they go to ``on_nova_change`` (called on the
loop thread, at the step's time) for a harness to apply.

    await play(steps, speed=100, host=host, on_nova_change=print)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Sequence

from lpar_eventd.scale.scenarios import HostEvent, NovaChange
from lpar_eventd.simulator.host import Host

__all__ = ["play", "NovaCallback", "Gate"]

LOG = logging.getLogger(__name__)

NovaCallback = Callable[[NovaChange], None]
#: Given a host event about to be played, what it must wait for first (a
#: harness's pending nova write that causes it), or None.
Gate = Callable[[HostEvent], "concurrent.futures.Future[object] | None"]


async def play(steps: Sequence[HostEvent | NovaChange], speed: float, host: Host,
               on_nova_change: NovaCallback | None = None, scripted: bool = True,
               gate: Gate | None = None) -> int:
    """Apply every step at its (compressed) time; returns host events applied.

    ``scripted=False`` for the steps of a management call (``SimCore.power``),
    which apply even to an LPAR whose script that call superseded. ``gate``
    keeps causality with the harness's nova: a host event that an operation
    of nova's causes (the host powers an LPAR off because nova set
    powering-off) is not played before nova's write of it is done.
    """
    if speed <= 0:
        raise ValueError("speed must be > 0")
    loop = asyncio.get_running_loop()
    start = loop.time()
    applied = 0
    # The harness's callback writes to a nova database and may block (an
    # sqlite lock, a slow conductor): it runs on one worker thread, in step
    # order, so it can never stall the simulated host's feed.
    nova = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sim-nova")
    pending: list[concurrent.futures.Future[None]] = []
    try:
        for step in steps:
            delay = start + step.at / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if isinstance(step, HostEvent):
                cause = gate(step) if gate is not None else None
                if cause is not None and not cause.done():
                    await asyncio.wrap_future(cause)
                host.apply(step, scripted)
                applied += 1
            elif on_nova_change is not None:
                pending.append(nova.submit(_call_nova, on_nova_change, step))
        if pending:
            await asyncio.wrap_future(pending[-1])
    finally:
        nova.shutdown(wait=False)
    return applied


def _call_nova(callback: NovaCallback, step: NovaChange) -> None:
    """The harness's callback must not stop the host: log and go on."""
    try:
        callback(step)
    except Exception:  # a logged boundary: the harness's code, not ours
        LOG.exception("on_nova_change failed for %s", step)
