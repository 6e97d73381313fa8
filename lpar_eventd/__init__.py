"""lpar_eventd: turns a storm of NovaLink PartitionState events into the few
lifecycle events nova needs, with as few nova and NovaLink calls as
correctness allows, and counts all of it."""

from importlib import metadata as _metadata


def _version() -> str:
    """The installed distribution's version (from git tags at build time,
    see pyproject.toml); 0.0.0, which no release is, from a tree never installed."""
    try:
        return _metadata.version("lpar_eventd")
    except _metadata.PackageNotFoundError:
        return "0.0.0"


__version__ = _version()
