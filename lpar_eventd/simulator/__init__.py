"""NovaLink REST simulator: a real HTTP(S) server speaking NovaLink's wire format.

The real pypowervm client (Session, Adapter, EventListener) talks to it
unchanged; it plays the shared scenarios (``scale.scenarios``), replays
recorded feeds, and injects the faults a real host has. See ``server`` for
the Python API and ``control`` for the HTTP control API.

    from lpar_eventd.simulator import Simulator, SimConfig
    with Simulator(SimConfig(port=0, long_poll=0.5)) as sim:
        session = pypowervm.adapter.Session("127.0.0.1", "hscroot", "abc123",
                                            protocol="http", port=sim.http_port)
"""

from lpar_eventd.simulator.config import SimConfig
from lpar_eventd.simulator.faults import Fault
from lpar_eventd.simulator.server import Simulator

__all__ = ["Simulator", "SimConfig", "Fault"]
