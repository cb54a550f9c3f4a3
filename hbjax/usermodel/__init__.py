"""Your own flax model (``flax.linen`` or ``flax.nnx``) with any optax optimizer, on the engine.

``FlaxBackend`` (``backend.py``) is what users create (``hb.FlaxBackend``); ``FlaxModel``
(``client.py``) is the engine's client for it: each config's functions traced to jaxprs right after
its own factory calls, shared programs evaluating those very jaxprs (``sharing.py``). ``modules.py``
turns a linen or nnx module into pure functions with its train flag; ``checks.py`` converts and
checks the user's data and names a module's errors by their cause; ``spec.py`` loads
``--model FILE.py:factory``.
"""

from .backend import FlaxBackend, SharingError
from .client import FlaxModel

__all__ = ["FlaxBackend", "FlaxModel", "SharingError"]
