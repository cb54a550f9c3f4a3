"""hbjax: vectorised Hyperband. Every rung's configs train together as a few compiled programs of
Flax models (the built-in LSTM, or your own module with your own optax optimizer).

The scheduler, spaces and the scikit-learn fallback import no JAX; the engine's backends
(``LSTMBackend``, ``FlaxBackend``) and the data helpers load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import brackets, scheduler, waves
from .brackets import Bracket, Rung, hyperband_plan, s_max, successive_halving_plan
from .hyperband import Hyperband, SuccessiveHalving, run_scheduler, run_waves
from .repeats import Repeats
from .results import Result, Trials
from .scheduler import RungJob
from .space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform

__version__ = "0.1.0"

_LAZY = {
    "LSTMBackend": ("hbjax.lstm.backend", "LSTMBackend"),
    "FlaxBackend": ("hbjax.usermodel.backend", "FlaxBackend"),
    "SharingError": ("hbjax.engine.verify", "SharingError"),
    "MFBenchmarkBackend": ("hbjax.problems.mfbench", "MFBenchmarkBackend"),
    "UserMethod": ("hbjax.strategies.asktell", "UserMethod"),
    "HyperbandSearchCV": ("hbjax.sklearn.search", "HyperbandSearchCV"),
    "SklearnBackend": ("hbjax.sklearn.cv", "SklearnBackend"),
    "data": ("hbjax.data", None),
    "lstm": ("hbjax.lstm", None),
    "nn": ("hbjax.nn", None),
    "engine": ("hbjax.engine", None),
}


if TYPE_CHECKING:  # the lazy names, as type checkers and IDEs see them
    from . import data, engine, lstm, nn
    from .engine.verify import SharingError
    from .lstm.backend import LSTMBackend
    from .problems.mfbench import MFBenchmarkBackend
    from .sklearn.cv import SklearnBackend
    from .sklearn.search import HyperbandSearchCV
    from .strategies.asktell import UserMethod
    from .usermodel.backend import FlaxBackend


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name):  # lazy: keep `import hbjax` free of JAX for the scikit-learn fallback
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'hbjax' has no attribute {name!r}")


__all__ = [
    "Bracket",
    "Choice",
    "FlaxBackend",
    "Hyperband",
    "HyperbandSearchCV",
    "IntChoice",
    "IntUniform",
    "LSTMBackend",
    "LogUniform",
    "MFBenchmarkBackend",
    "Repeats",
    "Result",
    "Rung",
    "RungJob",
    "SharingError",
    "SklearnBackend",
    "Space",
    "SuccessiveHalving",
    "Trials",
    "Uniform",
    "UserMethod",
    "brackets",
    "data",
    "engine",
    "hyperband_plan",
    "lstm",
    "nn",
    "run_scheduler",
    "run_waves",
    "s_max",
    "scheduler",
    "successive_halving_plan",
    "waves",
]
