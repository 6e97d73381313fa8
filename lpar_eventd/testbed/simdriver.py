"""A nova virt driver for the simulated NovaLink host (test bed only).

What nova's lifecycle handling needs of a driver, done the way a PowerVM
driver does it, against the simulator:

* ``get_info``: the LPAR's ``PartitionState`` quick property read through the
  real pypowervm client, mapped to nova's power states: the truth nova's
  double check (``handle_lifecycle_event``) and its periodic sync read;
* ``power_off`` / ``power_on``: the simulator's management power call, which
  puts the LPAR through a shutdown's (a boot's) events and takes it over from
  its scenario (``SimCore.power``); answered when the LPAR got there, as a
  PowerVM power job is;
* ``init_host`` / ``cleanup_host``: lpar_eventd embedded in this process on
  the driver's own adapter (``lpar_eventd.embed``), ``[simhost] engine``.

Options are nova's, in a ``[simhost]`` group of nova.conf (a driver reads
nova's CONF); ``compute.py`` registers them before nova parses its files.
"""

from __future__ import annotations

from oslo_log import log as logging
import threading
import time
from pathlib import Path
from typing import Any

import requests
from nova import exception
from nova.conf import CONF
from nova.virt import driver, hardware
from oslo_config import cfg
from pypowervm import exceptions as pvm_exc
from pypowervm.utils import uuid as pvm_uuid

from lpar_eventd.scale.nova_rules import nova_power_state
from lpar_eventd.testbed.witness import EventRecord, PowerCall, Witness

__all__ = ["SimHostDriver", "SIMHOST_OPTS", "register_opts"]

LOG = logging.getLogger(__name__)

simhost_group = cfg.OptGroup("simhost", title="The simulated NovaLink host")
SIMHOST_OPTS = [
    cfg.StrOpt("host", default="127.0.0.1", help="The simulator's address."),
    cfg.PortOpt("port", help="The simulator's HTTP port (REST and /sim control)."),
    cfg.StrOpt("username", default="hscroot"),
    cfg.StrOpt("password", default="abc123", secret=True),
    cfg.FloatOpt("speed", default=1.0, min=0.001,
                 help="Time compression of power operations (the scenario's)."),
    cfg.StrOpt("engine", default="embedded", choices=["embedded", "standalone", "none"],
               help="embedded: lpar_eventd runs in this process (lpar_eventd.embed); "
                    "standalone: the lpar-eventd daemon delivers over RabbitMQ to a "
                    "receiver here; none: no lifecycle events at all."),
    cfg.StrOpt("engine_config", help="lpar-eventd.conf of the embedded engine."),
    cfg.PortOpt("control_port", default=0,
                help="The test bed's control endpoint (compute.py; 0: any)."),
    cfg.StrOpt("witness_journal",
               help="Where what nova did is appended (JSON lines; witness.py)."),
]

def register_opts(conf: cfg.ConfigOpts = CONF) -> None:
    conf.register_group(simhost_group)
    conf.register_opts(SIMHOST_OPTS, group=simhost_group)


class SimHostDriver(driver.ComputeDriver):
    """nova's driver for one simulated NovaLink host."""

    capabilities = dict(driver.ComputeDriver.capabilities)

    def __init__(self, virtapi: Any, read_only: bool = False):
        super().__init__(virtapi)
        self.adapter: Any = None
        self.host: str | None = None
        self.eventd: Any = None
        journal = CONF.simhost.witness_journal
        self.witness = Witness(Path(journal) if journal else None)
        self._http = requests.Session()
        self._lock = threading.Lock()

    # -- the host --------------------------------------------------------------
    def init_host(self, host: str) -> None:
        from lpar_eventd.sources.novalink import NovaLinkSettings, connect
        opts = CONF.simhost
        self.host = host
        self.adapter = connect(NovaLinkSettings(
            host=opts.host, port=opts.port, protocol="http", username=opts.username,
            password=opts.password, timeout=30.0))
        if opts.engine == "embedded":
            from lpar_eventd import embed
            files = [opts.engine_config] if opts.engine_config else []
            self.eventd = embed.start(self, self.adapter, host=host, config_files=files)
        elif opts.engine == "standalone":
            self.eventd = _start_receiver(self, host)

    def cleanup_host(self, host: str) -> None:
        if self.eventd is not None:
            self.eventd.stop()
            self.eventd = None

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        return [self.host or CONF.host]

    # -- what nova reads ----------------------------------------------------------
    def get_info(self, instance: Any, use_cache: bool = True) -> hardware.InstanceInfo:
        return hardware.InstanceInfo(state=nova_power_state(self._state(instance)))

    def _state(self, instance: Any) -> str:
        import json
        lpar = pvm_uuid.convert_uuid_to_pvm(instance.uuid)
        try:
            resp = self.adapter.read("LogicalPartition", root_id=lpar,
                                     suffix_type="quick", suffix_parm="PartitionState")
        except pvm_exc.HttpNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid) from None
        body = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
        return str(json.loads(body))

    def _lpars(self) -> list[Any]:
        from pypowervm.wrappers import logical_partition as pvm_lpar
        return pvm_lpar.LPAR.wrap(self.adapter.read("LogicalPartition"))

    def list_instances(self) -> list[str]:
        return [lpar.name for lpar in self._lpars()]

    def list_instance_uuids(self) -> list[str]:
        return [lpar.uuid.lower() for lpar in self._lpars()]

    def instance_exists(self, instance: Any) -> bool:
        try:
            self._state(instance)
        except exception.InstanceNotFound:
            return False
        return True

    # -- what nova does --------------------------------------------------------------
    def power_off(self, instance: Any, timeout: int = 0, retry_interval: int = 0) -> None:
        self._power(instance, "off")

    def power_on(self, context: Any, instance: Any, network_info: Any,
                 block_device_info: Any = None, accel_info: Any = None,
                 share_info: Any = None) -> None:
        self._power(instance, "on")

    def _power(self, instance: Any, action: str) -> None:
        opts = CONF.simhost
        lpar = pvm_uuid.convert_uuid_to_pvm(instance.uuid)
        url = f"http://{opts.host}:{opts.port}/sim/lpars/{lpar}/power"
        resp = self._http.post(url, json={"action": action, "speed": opts.speed},
                               timeout=60)
        if resp.status_code == 404:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        resp.raise_for_status()
        changed = bool(resp.json().get("changed"))
        self.witness.power_call(PowerCall(
            time.time(), f"power_{action}", instance.uuid, instance.vm_state,
            instance.task_state, changed))
        LOG.info("LPAR %s powered %s for nova (%s)", lpar, action,
                 "done" if changed else "it already was", instance=instance)

    # -- lifecycle events -------------------------------------------------------------
    def emit_event(self, event: Any) -> EventRecord:
        """nova's emit_event, with what nova says about the event witnessed
        (returned: nova's own emit_event returns nothing)."""
        with self.witness.handling(event.get_instance_uuid(), event.get_name()) as record:
            super().emit_event(event)
        return record


def _start_receiver(driver_: SimHostDriver, host: str) -> Any:
    """Standalone mode: the daemon's decisions arrive over nova's bus
    (``[DEFAULT] transport_url``, RabbitMQ) and the receiver started through
    lpar_eventd.embed hands each to emit_event."""
    from lpar_eventd import embed
    return embed.receive(driver_, CONF, host)
