"""nova adapters: instance lookup (database or conductor), seeding, nova-compute player."""
