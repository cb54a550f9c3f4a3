"""Encoding a :class:`~hbjax.space.Space` to numbers, for the model-based strategies.

Two views of a config:

* a *vector*: one float per dimension. ``LogUniform`` -> ``(log v - log low) / (log high - log low)``,
  ``Uniform`` -> ``(v - low) / (high - low)``, ``IntUniform`` -> the same scaling of the integer, all
  in [0, 1]; ``Choice`` -> the index of the option (0, 1, ...). The GA mutates and crosses vectors,
  BOHB's kernel densities live on them.
* *features*: the vector with every ``Choice`` index replaced by a one-hot block, so the whole
  point lies in the unit cube (what the Gaussian process of BO sees).

``decode`` maps a vector back to a config of the space: numbers clipped to the bounds, integers
rounded, indices clipped, so a decoded config always satisfies ``space.contains``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import Choice, IntUniform, LogUniform, Space, Uniform, python_scalar

__all__ = ["CATEGORICAL", "INTEGER", "LINEAR", "LOG", "Codec"]

LOG, LINEAR, INTEGER, CATEGORICAL = "log", "linear", "integer", "categorical"


class Codec:
    """Vectors and features of the configs of ``space`` (see the module docstring)."""

    def __init__(self, space: Space):
        if not isinstance(space, Space):
            raise TypeError(f"space must be an hbjax.Space, got {type(space).__name__}")
        self.space = space
        self.names = space.names
        self.kinds: list[str] = []
        self.n_options: list[int] = []  # options of a Choice, 0 for numeric dimensions
        for dim in space.dims.values():
            if isinstance(dim, Choice):
                self.kinds.append(CATEGORICAL)
                self.n_options.append(len(dim.options))
            elif isinstance(dim, LogUniform):
                self.kinds.append(LOG)
                self.n_options.append(0)
            elif isinstance(dim, Uniform):
                self.kinds.append(LINEAR)
                self.n_options.append(0)
            elif isinstance(dim, IntUniform):
                self.kinds.append(INTEGER)
                self.n_options.append(0)
            else:  # pragma: no cover - Space already checks its dimensions
                raise ValueError(f"unsupported dimension {dim!r}")
        self.categorical = np.array([k == CATEGORICAL for k in self.kinds])
        self.numeric = ~self.categorical
        self.n_features = sum(n if k == CATEGORICAL else 1 for k, n in zip(self.kinds, self.n_options))

    @property
    def n_dims(self) -> int:
        return len(self.names)

    # -- configs <-> vectors ---------------------------------------------------------------------
    def _encode_value(self, j: int, value) -> float:
        dim: Any = self.space.dims[self.names[j]]
        kind = self.kinds[j]
        if kind == CATEGORICAL:
            for i, option in enumerate(dim.options):
                if type(option) is type(value) and option == value:
                    return float(i)
            for i, option in enumerate(dim.options):
                if option == value:
                    return float(i)
            raise ValueError(f"value {value!r} of {self.names[j]!r} is not one of {list(dim.options)}")
        if kind == LOG:
            span = math.log(dim.high) - math.log(dim.low)
            return float(np.clip((math.log(value) - math.log(dim.low)) / span, 0.0, 1.0))
        span = dim.high - dim.low
        if span == 0:  # IntUniform(k, k)
            return 0.5
        return float(np.clip((value - dim.low) / span, 0.0, 1.0))

    def encode(self, configs: Sequence[dict]) -> np.ndarray:
        """Configs -> an (n, d) array of vectors."""
        out = np.empty((len(configs), self.n_dims))
        for i, config in enumerate(configs):
            for j, name in enumerate(self.names):
                out[i, j] = self._encode_value(j, config[name])
        return out

    def snap(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors moved onto the space: numbers clipped to [0, 1], integers onto their grid,
        indices rounded into range."""
        v = np.array(vectors, dtype=np.float64, copy=True).reshape(-1, self.n_dims)
        for j, kind in enumerate(self.kinds):
            if kind == CATEGORICAL:
                v[:, j] = np.clip(np.rint(v[:, j]), 0, self.n_options[j] - 1)
            elif kind == INTEGER:
                dim: Any = self.space.dims[self.names[j]]
                span = dim.high - dim.low
                if span == 0:
                    v[:, j] = 0.5
                else:
                    v[:, j] = np.rint(np.clip(v[:, j], 0.0, 1.0) * span) / span
            else:
                v[:, j] = np.clip(v[:, j], 0.0, 1.0)
        return v

    def decode(self, vectors: np.ndarray) -> list[dict]:
        """Vectors -> configs of the space (plain Python scalars)."""
        v = self.snap(vectors)
        configs = []
        for row in v:
            config = {}
            for j, name in enumerate(self.names):
                dim: Any = self.space.dims[name]
                kind, u = self.kinds[j], float(row[j])
                if kind == CATEGORICAL:
                    config[name] = python_scalar(dim.options[int(u)])
                elif kind == LOG:
                    value = math.exp(math.log(dim.low) + u * (math.log(dim.high) - math.log(dim.low)))
                    config[name] = float(min(max(value, dim.low), dim.high))
                elif kind == LINEAR:
                    config[name] = float(min(max(dim.low + u * (dim.high - dim.low), dim.low), dim.high))
                else:
                    config[name] = int(min(max(int(round(dim.low + u * (dim.high - dim.low))), dim.low), dim.high))
            configs.append(config)
        return configs

    # -- sampling and features -------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` vectors drawn from the space's own distribution (log-uniform, uniform, ...)."""
        out = np.empty((n, self.n_dims))
        for j, kind in enumerate(self.kinds):
            if kind == CATEGORICAL:
                out[:, j] = rng.integers(0, self.n_options[j], size=n)
            elif kind == INTEGER:
                dim: Any = self.space.dims[self.names[j]]
                span = dim.high - dim.low
                ints = rng.integers(dim.low, dim.high + 1, size=n)
                out[:, j] = 0.5 if span == 0 else (ints - dim.low) / span
            else:
                out[:, j] = rng.uniform(0.0, 1.0, size=n)
        return out

    def features(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors -> points of the unit cube, one-hot for every ``Choice``."""
        v = np.asarray(vectors, dtype=np.float64).reshape(-1, self.n_dims)
        cols = []
        for j, kind in enumerate(self.kinds):
            if kind == CATEGORICAL:
                idx = np.clip(np.rint(v[:, j]).astype(int), 0, self.n_options[j] - 1)
                cols.append(np.eye(self.n_options[j])[idx])
            else:
                cols.append(v[:, j : j + 1])
        return np.concatenate(cols, axis=1) if cols else np.empty((len(v), 0))

    def n_values(self, j: int) -> int | None:
        """Distinct values of dimension ``j`` (None when continuous)."""
        kind = self.kinds[j]
        if kind == CATEGORICAL:
            return self.n_options[j]
        if kind == INTEGER:
            dim: Any = self.space.dims[self.names[j]]
            return int(dim.high - dim.low + 1)
        return None

    def other_value(self, j: int, u: float, rng: np.random.Generator) -> float:
        """A uniformly random *other* value of the discrete dimension ``j`` (as a vector entry)."""
        k = self.n_values(j)
        if k is None or k < 2:
            return u
        if self.kinds[j] == CATEGORICAL:
            current = int(round(u))
            pick = int(rng.integers(0, k - 1))
            return float(pick + (pick >= current))
        dim: Any = self.space.dims[self.names[j]]
        span = dim.high - dim.low
        current = int(round(u * span))
        pick = int(rng.integers(0, k - 1))
        return float(pick + (pick >= current)) / span
