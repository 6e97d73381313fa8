"""nova-compute for the simulated host, in its own process (test bed only).

    python -m lpar_eventd.testbed.compute --config-file nova-compute.conf

What runs is nova's own: ``nova.config.parse_args`` reads nova.conf (the
``[DEFAULT] host``, ``[database] connection`` of the sqlite cell database,
``transport_url``, ``[simhost]``), ``ComputeManager`` with our driver
(``simdriver.SimHostDriver``), its lifecycle handling registered on the
driver (``init_virt_events``) and an RPC server for the ``compute`` topic of
this host. A lifecycle event nova acts on therefore takes nova's whole path:
``handle_lifecycle_event`` -> ``_sync_instance_power_state`` ->
``compute_api.stop`` / ``force_stop`` (task_state, instance action) ->
``compute_rpcapi.stop_instance`` cast -> this RPC server ->
``ComputeManager.stop_instance`` -> ``driver.power_off`` -> the simulator.

The wire is oslo.messaging's ``fake://`` transport, in this process: the
cast is serialised, queued and dispatched by oslo.messaging exactly as over
RabbitMQ (the caller does not wait), at no broker's cost per run; nova-api,
the only other sender on that topic in a real cloud, is played by the
harness through nova objects. ``transport_url`` can be a real broker
instead; nothing else changes.

Left out, as nothing in the lifecycle path uses them: placement (its report
client is replaced by one that refuses every call), the service record and
the start-up recovery of ``init_host`` (``_init_instance`` of every
instance), the resource tracker and the periodic tasks (``_sync_power_states``
runs on demand, see below). Database access is direct, as in nova's own
functional tests: an indirection to nova-conductor needs a conductor
process of its own; the objects' calls are nova's either way.

The harness talks to the process on ``[simhost] control_port`` (loopback):

    GET  /status              {"ready", "engine": [ok, reason]}
    GET  /witness             what nova did so far (``witness.Witness``)
    POST /sync-power-states   run nova's periodic _sync_power_states once, wait
                              until its per-instance syncs are done
    POST /emit                {"instance", "transition"}: a lifecycle event
                              through the driver's emit_event, as a driver's
                              event handler would send it (tests of nova's
                              reactions without an engine)

SIGTERM stops it as nova-compute stops: ``cleanup_host`` (the driver stops
the embedded engine: pending settles cancelled), then the RPC server.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["main", "SimCompute", "DRIVER"]

LOG = logging.getLogger(__name__)

#: nova loads drivers from its nova.virt namespace only (an out-of-tree
#: driver ships a shim module there, as nova-powervm's powervm_ext did);
#: ours is registered there under this name before the manager is built.
DRIVER = "simhost.SimHostDriver"


class _RefusingReportClient:
    """Placement's report client, replaced: lifecycle handling never calls it,
    and any call that does is a loud error, not a silent success."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"placement is not part of the test bed (report client "
                           f"{name} called)")


class SimCompute:
    """nova's ComputeManager on the simulated host, served like nova-compute."""

    def __init__(self) -> None:
        from nova.compute import manager as compute_manager
        from nova.scheduler.client import report

        from lpar_eventd.testbed import simdriver
        sys.modules.setdefault("nova.virt.simhost", simdriver)
        report.SchedulerReportClient = _RefusingReportClient
        self.manager = compute_manager.ComputeManager(compute_driver=DRIVER)
        self.driver = self.manager.driver
        self._server: Any = None
        self._stopped = threading.Event()

    def start(self) -> "SimCompute":
        import oslo_messaging
        from nova import rpc
        from nova.compute import rpcapi
        from nova.conf import CONF
        from nova.objects import base as objects_base

        self.driver.witness.install(keep_debug=CONF.debug)
        self.driver.init_host(host=self.manager.host)
        self.manager.init_virt_events()
        target = oslo_messaging.Target(topic=rpcapi.RPC_TOPIC, server=self.manager.host)
        self._server = rpc.get_server(
            target, [self.manager, *self.manager.additional_endpoints],
            serializer=objects_base.NovaObjectSerializer())
        self._server.start()
        LOG.info("nova-compute for the simulated host %s is up", self.manager.host)
        return self

    def engine_health(self) -> tuple[bool, str]:
        eventd = self.driver.eventd
        if eventd is None:
            return True, "no engine in this process"
        return eventd.healthy()

    def sync_power_states(self, timeout: float = 120.0) -> dict[str, Any]:
        """nova's periodic power-state sync, once, waited for."""
        from nova import context as nova_context
        started = time.time()
        self.manager._sync_power_states(nova_context.get_admin_context())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.manager.syncs_in_progress() as syncs:
                if not syncs:
                    break
            time.sleep(0.05)
        return {"started": started, "ended": time.time()}

    def emit(self, instance: str, transition: str) -> dict[str, Any]:
        """One lifecycle event through ``driver.emit_event``; what nova said."""
        from nova.virt import event as virtevent
        codes = {"started": virtevent.EVENT_LIFECYCLE_STARTED,
                 "stopped": virtevent.EVENT_LIFECYCLE_STOPPED,
                 "suspended": virtevent.EVENT_LIFECYCLE_SUSPENDED,
                 "resumed": virtevent.EVENT_LIFECYCLE_RESUMED,
                 "paused": virtevent.EVENT_LIFECYCLE_PAUSED}
        if transition not in codes:
            raise ValueError(f"transition {transition!r}: choose from {', '.join(codes)}")
        record = self.driver.emit_event(
            virtevent.LifecycleEvent(instance.lower(), codes[transition]))
        return {"outcome": record.outcome, "said": list(record.said)}

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            self.manager.cleanup_host()
        finally:
            if self._server is not None:
                self._server.stop()
                self._server.wait()


def _control(compute: SimCompute, port: int) -> ThreadingHTTPServer:
    """The harness's endpoint: status, witness, on-demand periodic sync."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/status":
                self._answer(200, {"ready": True, "engine": list(compute.engine_health())})
            elif self.path == "/witness":
                self._answer(200, compute.driver.witness.snapshot())
            else:
                self._answer(404, {"error": "try /status, /witness"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/sync-power-states":
                self._answer(200, compute.sync_power_states())
            elif self.path == "/emit":
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    self._answer(200, compute.emit(str(body["instance"]),
                                                   str(body["transition"])))
                except (KeyError, ValueError) as exc:
                    self._answer(400, {"error": f"bad lifecycle event: {exc}"})
            else:
                self._answer(404, {"error": "try /sync-power-states, /emit"})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            LOG.debug("control: " + format, *args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    return server


def _sqlite_writers_queue(connection: str | None) -> None:
    """sqlite: transactions take the write lock up front (the harness's
    nova-api writes from another process; see nova.database)."""
    if connection and connection.startswith("sqlite"):
        from lpar_eventd.nova.database import begin_immediate_on_sqlite
        begin_immediate_on_sqlite()


def main(argv: Sequence[str] | None = None) -> int:
    import warnings
    warnings.simplefilter("ignore")
    from nova import config as nova_config
    from nova import objects
    from nova.conf import CONF
    from oslo_log import log as oslo_log

    from lpar_eventd.testbed import simdriver

    simdriver.register_opts(CONF)
    nova_config.parse_args(["nova-compute", *(sys.argv[1:] if argv is None else argv)])
    oslo_log.setup(CONF, "nova")
    objects.register_all()
    _sqlite_writers_queue(CONF.database.connection)
    compute = SimCompute()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        compute.start()
    except Exception as exc:  # start-up's boundary: one line, exit status
        LOG.exception("nova-compute for the simulated host failed to start")
        print(f"nova-compute (test bed): cannot start: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        compute.stop()
        return 1
    control = _control(compute, CONF.simhost.control_port)
    print(f"READY {control.server_address[1]}", flush=True)
    stop.wait()
    compute.stop()
    control.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
