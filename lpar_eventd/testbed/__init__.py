"""The test bed around the product: a nova-compute for the simulated host and
the one host stack every campaign, the demo and the functional tests run.

Only the test bed imports these modules (the harness, the demo, the tests);
the product (daemon, engine, sources, sinks, nova lookups, embed) never does.

* ``simdriver``: a nova virt driver for the simulated NovaLink host (pypowervm
  reads, power calls to the simulator), embedding the engine;
* ``compute``: nova-compute for that host, in its own process: nova's own
  ComputeManager, compute API and compute RPC (oslo.messaging's fake
  transport, in process);
* ``witness``: what nova did, counted from nova's own logs and the driver's
  power calls;
* ``novaapi``: the nova-api side of a scenario, written through nova objects;
* ``hoststack``: simulator + nova database + nova-compute (+ the engine,
  embedded or standalone) for one host: start, wait, scrape, judge, stop.
"""
