"""Standalone mode: the daemon's decisions delivered to nova-compute over oslo.messaging.

The standalone daemon decides; nova-compute of the same host acts (its
``handle_lifecycle_event``, exactly as for its driver's own events). Between
them is nova's message bus:

    lpar-eventd  --[sink] driver = nova-compute-->  RabbitMQ, exchange "nova",
    (NovaComputeSink, sender.py)                    queue lpar_eventd_lifecycle.<host>.info
                                                          |
    nova-compute <-- driver.emit_event(LifecycleEvent) -- ComputeReceiver (receiver.py),
                                                          started by the compute driver

The wire (``wire.py``): one oslo.messaging *notification* per decision
(event_type ``lpar_eventd.lifecycle``, the payload of the ``notification``
sink), on a per-host topic ``lpar_eventd_lifecycle.<host>`` of nova's
exchange, consumed by a notification listener in nova-compute.

Why a notification listener and not an RPC cast to a per-host topic
---------------------------------------------------------------------
* **Acknowledged after the work, not before.** oslo.messaging's RPC server
  acknowledges each message *before* dispatching it (``rpc/server.py``,
  ``_process_incoming``: ``message.acknowledge()`` then ``dispatch``), so a
  nova-compute killed while handling an event has lost it. A notification
  listener acknowledges after the endpoint returns, and requeues when the
  endpoint asks (``notify/listener.py``; ``allow_requeue=True``): a crash
  leaves the message unacknowledged and the broker delivers it again.
* **The queue exists before anyone consumes it.** A cast publishes to the
  exchange without declaring a queue (the rabbit driver's ``topic_send``);
  until nova-compute has declared its queue once (a new host, a fresh broker,
  a non-durable queue lost in a broker restart) casts are routed nowhere and
  dropped. A notification send declares its queue first
  (``_publish_and_creates_default_queue``), so decisions wait even for a
  nova-compute that has never run.
* **No nova change.** nova-compute's own RPC server on ``compute.<host>``
  dispatches to nova's ComputeManager, which has no lifecycle-event method;
  a second RPC server on our own topic would still ack first.
* **Order.** Both servers dispatch on a thread pool
  (``executor_thread_pool_size``, 64 in nova), which reorders. The receiver
  starts its listener with ``override_pool_size=1``: one thread takes the
  queue in order.

The guarantees and what they rest on
------------------------------------
* **At least once.** Messages are persistent (kombu's default delivery mode)
  and the sender waits for the broker's publisher confirm (the rabbit driver
  turns confirms on), so ``emit`` returns only once the broker holds the
  decision; a failed send raises (see below). The queue outlives nova-compute
  (not auto-delete: ``[oslo_messaging_rabbit] amqp_auto_delete = false``, the
  default) and survives a broker restart when it is durable
  (``amqp_durable_queues = true``) or a quorum queue (``rabbit_quorum_queue =
  true``, which also makes it durable and replicated). With oslo's default, a
  non-durable classic queue, decisions survive nova-compute restarts but not a
  broker restart: the daemon warns at start. A message is acknowledged only
  after ``emit_event`` returned.
* **Per-instance order.** The engine settles one LPAR at a time and ``emit``
  returns after the confirm, so decision N of an instance is in the queue
  before N+1 is sent; one queue, one consumer thread. After a crash the
  unacknowledged messages come back in their order.
* **Duplicates are harmless.** oslo.messaging sends the acknowledgement
  from its polling thread, up to ``ACK_REQUEUE_EVERY_SECONDS_MAX`` (5 s)
  after the endpoint returned, so a nova-compute killed gets again what it
  handled in its last seconds; a confirm lost with the connection makes the
  engine send again. The listener drops redeliveries it already saw in this
  process. nova re-checks everything itself
  (``ComputeManager.handle_lifecycle_event``): it reads the instance (one
  conductor call) and asks the driver for the VM's power state (one
  hypervisor read); an event that no longer matches the driver is dropped as
  stale. One that matches goes to ``_sync_instance_power_state``, which
  refreshes the instance (a second conductor call) and finds it already in
  sync, or, when the first copy made nova stop the instance, finds that stop
  in progress (task_state set: skipped) or done (vm_state STOPPED: nothing to
  do). A duplicate costs two conductor calls and one hypervisor read, never
  an action nova would not take on the current state.
* **Failures are counted and retried, nothing lost.** The sender does not
  retry inside oslo.messaging (``retry=0``): a dead broker fails the send at
  once, the sink raises, and the engine logs one line naming the LPAR, counts
  ``lpar_eventd_retries_total{stage="sink"}`` and settles the LPAR again with
  backoff (``[events] retry_base_seconds`` .. ``retry_max_seconds``). The
  retry re-reads the LPAR's state and looks the instance up again, so what is
  finally delivered is the current decision, not the one from before the
  outage. In nova-compute, an event that arrives before the compute manager
  registered its listener (``init_host`` starts the driver first) is held
  and retried in place, keeping the queue's order; on stop it is requeued.

Configuration (both sides read the standard oslo.messaging options)
--------------------------------------------------------------------
The daemon: ``[sink] driver = nova-compute``, ``[nova] compute_host`` (the
nova-compute ``[DEFAULT] host`` of this NovaLink host), ``[DEFAULT]
transport_url`` and ``control_exchange`` (default ``nova``, as nova sets it)
and ``[oslo_messaging_rabbit]`` (TLS: ``ssl``, ``ssl_ca_file``...; heartbeat:
``heartbeat_timeout_threshold``; ``rabbit_quorum_queue``,
``amqp_durable_queues``): copy them from nova.conf. Both sides declare the
same queue on nova's exchange, and RabbitMQ refuses a redeclaration with
other arguments, so the queue options must match nova's.

``transport_url`` is oslo.messaging's own ``[DEFAULT]`` option, not one of
ours: the delivery goes to nova-compute on nova's RPC bus, which is exactly
what ``[DEFAULT] transport_url`` names in nova.conf and every OpenStack
service, so an operator (or a deployment tool's template) copies the line
and ``[oslo_messaging_rabbit]`` unchanged. Both sides pass that URL
explicitly, so a separate notification bus (``[oslo_messaging_notifications]
transport_url``) is never used for it.

nova-compute: nothing to configure; the driver starts the receiver (see
``receiver.py`` and deploy/README.md).
"""

from lpar_eventd.delivery.receiver import ComputeReceiver
from lpar_eventd.delivery.sender import NovaComputeSink
from lpar_eventd.delivery.wire import EXCHANGE, TOPIC, lifecycle_target, queue_name

__all__ = ["ComputeReceiver", "NovaComputeSink", "EXCHANGE", "TOPIC", "lifecycle_target",
           "queue_name"]
