"""Fixtures shared across the test tree, as pytest plugins.

The test process is like our console scripts: oslo.service's threading
backend is the default (importing lpar_eventd.cmd registers it) before any
test module imports oslo.messaging.
"""

import lpar_eventd.cmd  # noqa: F401 - registers the threading backend default

pytest_plugins = ["tests.fixtures_nova"]
