"""lpar_eventd: turns a storm of NovaLink PartitionState events into the few
lifecycle events nova needs, with as few nova and NovaLink calls as
correctness allows, and counts all of it."""
