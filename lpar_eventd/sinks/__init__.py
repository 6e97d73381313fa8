"""Lifecycle sinks (the LifecycleSink port): nova driver, notifications, log.

Load them by name with ``registry.make_sink``; each lives in its own module
so importing one never imports another's dependencies.
"""
