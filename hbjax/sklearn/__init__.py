"""The NumPy / scikit-learn fallback: ``SklearnBackend`` and its helpers (``cv.py``),
``HyperbandSearchCV`` (``search.py``) and the SVC walkthrough (``walkthrough.py``). Imports no JAX."""

from __future__ import annotations

from .cv import SklearnBackend, as_space, stratified_order
from .search import HyperbandSearchCV
from .walkthrough import svc_walkthrough

__all__ = ["HyperbandSearchCV", "SklearnBackend", "as_space", "stratified_order", "svc_walkthrough"]
