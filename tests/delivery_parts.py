"""Parts the delivery tests share: a nova driver that records what its compute
manager would be handed, and a ConfigOpts read from a file as the daemon (or
nova-compute) reads its own.

    driver = RecordingDriver(); driver.listen()        # the manager registered
    heard = driver.wait_for(5)                          # nova.virt.event.LifecycleEvents
    conf = messaging_conf(tmp_path, "rabbit://...", "amqp_durable_queues = true")
"""

from __future__ import annotations

import threading
from pathlib import Path

from nova.virt import event as virtevent
from nova.virt import fake
from oslo_config import cfg

from lpar_eventd.conf import opts


class RecordingDriver(fake.FakeDriver):
    """nova's fake driver; what its compute manager would have been handed."""

    def __init__(self) -> None:
        super().__init__(virtapi=None)
        self.heard: list[virtevent.LifecycleEvent] = []
        self.changed = threading.Condition()

    def listen(self) -> None:
        """Register a listener, as ComputeManager.init_virt_events does."""
        self.register_event_listener(self._hear)

    def _hear(self, event: virtevent.LifecycleEvent) -> None:
        with self.changed:
            self.heard.append(event)
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[virtevent.LifecycleEvent]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.heard) >= n, timeout), (
                f"heard {len(self.heard)} of {n}")
            return list(self.heard)


def messaging_conf(directory: Path, transport_url: str, rabbit: str = "") -> cfg.ConfigOpts:
    """lpar_eventd's options read from a file with [DEFAULT] transport_url and
    the given [oslo_messaging_rabbit] lines."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "lpar-eventd.conf"
    path.write_text(f"[DEFAULT]\ntransport_url = {transport_url}\n"
                    f"[oslo_messaging_rabbit]\n{rabbit}\n")
    conf = cfg.ConfigOpts()
    opts.register_all(conf)
    conf(["--config-file", str(path)], project="lpar-eventd")
    return conf
