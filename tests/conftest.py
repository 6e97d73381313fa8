"""Fixtures shared across the test tree, as pytest plugins."""

pytest_plugins = ["tests.fixtures_nova"]
