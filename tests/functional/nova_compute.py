"""A nova-compute for the delivery tests: nova's own ComputeManager, in its own process.

nova's ``ComputeManager`` is built as nova-compute builds it, from a nova.conf
(``[DEFAULT] host``, ``transport_url``, ``[oslo_messaging_rabbit]``), on an
sqlite nova database made by nova's own schema code (direct database access
instead of nova-conductor, as a single-cell test bed). Its compute driver is
``FileStateDriver``, nova's fake driver whose ``get_info`` answers from a
JSON file the test writes (``{instance uuid: nova power_state}``): the
hypervisor's truth. nova's placement report client discovers placement's API
version when the manager is built (and lifecycle handling never calls
placement), so the process answers that one discovery request itself on a
loopback port; nothing else of placement is played. The driver does what a PowerVM driver adopting
lpar_eventd does: it starts a ``ComputeReceiver`` in ``init_host`` and stops
it in ``cleanup_host``. The manager then registers its event listener
(``init_virt_events``), so lifecycle events go through nova's own
``handle_lifecycle_event`` / ``_sync_instance_power_state``: a STOPPED for
an ACTIVE instance the driver reports SHUTDOWN makes nova call its stop API,
a stale one is dropped.

Every event handed to the manager is appended, after ``emit_event``
returned, to a JSON-lines file the test reads::

    {"uuid": ..., "transition": "stopped", "decided": <UTC epoch>, "handled": <UTC epoch>}

Run: ``python -m tests.functional.nova_compute NOVA_CONF STATES_JSON HANDLED_JSONL``;
prints READY once it takes messages; SIGTERM stops it as nova-compute stops
(``cleanup_host``); the tests also SIGKILL it.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from nova import exception
from nova.virt import event as virtevent
from nova.virt import fake, hardware

from lpar_eventd.delivery import ComputeReceiver

#: Set by main() before nova loads the driver (nova builds it by class path).
FILES: dict[str, Path] = {}

TRANSITION_NAMES = {virtevent.EVENT_LIFECYCLE_STARTED: "started",
                    virtevent.EVENT_LIFECYCLE_STOPPED: "stopped",
                    virtevent.EVENT_LIFECYCLE_SUSPENDED: "suspended",
                    virtevent.EVENT_LIFECYCLE_RESUMED: "resumed"}


def write_states(path: Path, states: dict[str, int]) -> None:
    """The hypervisor's truth, replaced atomically (the driver may be reading)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(states))
    os.replace(tmp, path)


def read_handled(path: Path) -> list[dict[str, Any]]:
    """What the manager was handed, in order (a torn last line is skipped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class FileStateDriver(fake.FakeDriver):
    """nova's fake driver, VM power states from a file, lpar_eventd's receiver."""

    def __init__(self, virtapi: Any, read_only: bool = False):
        super().__init__(virtapi, read_only)
        self._lifecycle: ComputeReceiver | None = None
        self._handled = open(FILES["handled"], "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()

    def init_host(self, host: str) -> None:
        super().init_host(host)
        import nova.conf
        self._lifecycle = ComputeReceiver.from_conf(self, nova.conf.CONF).start()

    def cleanup_host(self, host: str) -> None:
        if self._lifecycle is not None:
            self._lifecycle.stop()
            self._lifecycle.wait()
        super().cleanup_host(host)

    def get_info(self, instance: Any, use_cache: bool = True) -> hardware.InstanceInfo:
        states = json.loads(FILES["states"].read_text())
        if instance.uuid not in states:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return hardware.InstanceInfo(state=states[instance.uuid])

    def emit_event(self, event: virtevent.Event) -> None:
        super().emit_event(event)
        decided = event.timestamp.replace(tzinfo=datetime.UTC).timestamp()
        line = json.dumps({"uuid": event.uuid, "handled": time.time(), "decided": decided,
                           "transition": TRANSITION_NAMES.get(event.transition)})
        with self._lock:
            self._handled.write(line + "\n")
            self._handled.flush()


_PLACEMENT_ROOT = json.dumps({"versions": [{
    "id": "v1.0", "min_version": "1.0", "max_version": "1.39", "status": "CURRENT",
    "links": [{"rel": "self", "href": ""}]}]}).encode()


def placement_version_document() -> str:
    """Serve placement's version discovery document on loopback; its URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Root(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(_PLACEMENT_ROOT)))
            self.end_headers()
            self.wfile.write(_PLACEMENT_ROOT)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def main(argv: list[str]) -> int:
    conf_path, states, handled = argv
    FILES.update(states=Path(states), handled=Path(handled))
    sys.modules["nova.virt.lpar_eventd_test_driver"] = sys.modules[__name__]

    import nova.conf
    from nova import config
    from nova.compute import manager
    from nova.db.main import api as main_db_api

    from lpar_eventd.nova.database import NovaDatabase

    config.parse_args(["nova-compute", "--config-file", conf_path], configure_db=False)
    conf = nova.conf.CONF
    NovaDatabase(conf.database.connection)  # sqlite writers that queue, not fail
    main_db_api.configure(conf)
    conf.set_override("compute_driver", "lpar_eventd_test_driver.FileStateDriver")
    conf.set_override("auth_type", "none", group="placement")
    conf.set_override("endpoint_override", placement_version_document(), group="placement")
    compute = manager.ComputeManager()
    compute.driver.init_host(host=compute.host)  # as ComputeManager.init_host: driver first,
    compute.init_virt_events()                    # then the manager's event listener
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    compute.cleanup_host()
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    sys.exit(main(sys.argv[1:]))
