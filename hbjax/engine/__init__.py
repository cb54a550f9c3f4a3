"""The engine every model trains on: rung plans, compiled programs, dispatch, states; and the
client protocol a model implements to train on it (docs/architecture.md, "Adding a model")."""

from .backend import EngineBackend
from .client import Model, Sizes
from .core import Engine
from .keys import ProgramKey, ShapeKey
from .program import FoldArrays, ProgramFns
from .settings import EngineSettings

__all__ = [
    "Engine",
    "EngineBackend",
    "EngineSettings",
    "FoldArrays",
    "Model",
    "ProgramFns",
    "ProgramKey",
    "ShapeKey",
    "Sizes",
]
