"""novalite: a compact, real OpenStack-Nova-style compute system."""

import warnings

# NOTE: futurist imports eventlet, which warns on import; novalite never uses it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# NOTE: eventlet imports dnspython, whose DSA module warns with the
# cryptography release installed; novalite signs nothing with DSA.
warnings.filterwarnings("ignore", message=r"DSA is deprecated")

from oslo_service import backend as _backend  # noqa: E402

# NOTE: the threading backend must be chosen before anything imports
# oslo_service.service; importing novalite first guarantees that, and we
# never monkey-patch with eventlet.
try:
    _backend.init_backend(_backend.BackendType.THREADING)
except _backend.exceptions.BackendAlreadySelected:  # pragma: no cover
    pass

__version__ = "0.1.0"
