"""The NumPy / scikit-learn fallback, where users import it: ``SklearnBackend`` and its helpers
(``sklearn_cv.py``), ``HyperbandSearchCV`` (``sklearn_search.py``) and the SVC walkthrough
(``svc_walkthrough.py``). Imports no JAX."""

from __future__ import annotations

from .sklearn_cv import SklearnBackend, as_space, stratified_order
from .sklearn_search import HyperbandSearchCV
from .svc_walkthrough import svc_walkthrough

__all__ = ["HyperbandSearchCV", "SklearnBackend", "as_space", "stratified_order", "svc_walkthrough"]
