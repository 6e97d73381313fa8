"""Console scripts.

lpar_eventd never uses eventlet: oslo.service runs on its threading backend.
Importing oslo.messaging selects oslo.service's default backend (eventlet)
as a side effect, so the console scripts make threading the default before
anything else is imported (a library user, e.g. nova-compute, keeps its
own choice). Importing nova also pulls in futurist, which warns that eventlet
is deprecated; the console scripts silence that one warning.
"""

import warnings

from oslo_service import backend as _backend

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
_backend.register_backend_default_hook(lambda: _backend.BackendType.THREADING)


def use_threading_backend() -> None:
    """Select oslo.service's threading backend (fine if it already is)."""
    try:
        _backend.init_backend(_backend.BackendType.THREADING)
    except _backend.exceptions.BackendAlreadySelected:
        if _backend.get_backend_type() is not _backend.BackendType.THREADING:
            raise
