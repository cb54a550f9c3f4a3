"""hbjax: vectorised Hyperband. Every rung's configs train together as a few compiled programs of
Flax models (the built-in LSTM, or your own module with your own optax optimizer).

The scheduler, spaces and the scikit-learn fallback import no JAX; the engine's backends
(``LSTMBackend``, ``FlaxBackend``) and the data helpers load on first use.
"""

from __future__ import annotations

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
    "Engine": ("hbjax.engine.core", "Engine"),
    "EngineSettings": ("hbjax.engine.settings", "EngineSettings"),
    "Model": ("hbjax.engine.client", "Model"),
    "EngineBackend": ("hbjax.engine.backend", "EngineBackend"),
    "ShapeKey": ("hbjax.engine.keys", "ShapeKey"),
    "ProgramKey": ("hbjax.engine.keys", "ProgramKey"),
    "Sizes": ("hbjax.engine.client", "Sizes"),
    "FoldArrays": ("hbjax.engine.program", "FoldArrays"),
    "ProgramFns": ("hbjax.engine.program", "ProgramFns"),
    "MFBenchmarkBackend": ("hbjax.problems.mfbench", "MFBenchmarkBackend"),
    "UserMethod": ("hbjax.strategies.asktell", "UserMethod"),
    "HyperbandSearchCV": ("hbjax.sklearn.search", "HyperbandSearchCV"),
    "SklearnBackend": ("hbjax.sklearn.cv", "SklearnBackend"),
    "data": ("hbjax.data", None),
    "lstm": ("hbjax.lstm", None),
    "nn": ("hbjax.nn", None),
}


def __getattr__(name):  # lazy: keep `import hbjax` free of JAX for the scikit-learn fallback
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'hbjax' has no attribute {name!r}")


__all__ = [
    "Bracket",
    "Rung",
    "RungJob",
    "Hyperband",
    "SuccessiveHalving",
    "Result",
    "Trials",
    "Space",
    "Choice",
    "IntChoice",
    "IntUniform",
    "LogUniform",
    "Uniform",
    "hyperband_plan",
    "s_max",
    "successive_halving_plan",
    "run_scheduler",
    "run_waves",
    "Repeats",
    "brackets",
    "scheduler",
    "waves",
    *_LAZY,
]
