"""Search spaces: named dimensions with vectorised sampling.

``Space(lr=LogUniform(1e-4, 1e-1), hidden=IntChoice([16, 32, 64]))``; ``space.sample(key, n)``
returns one NumPy column per dimension; ``space.configs(columns)`` turns columns into plain
dicts of Python scalars (JSON-safe, usable as estimator parameters).

``key`` may be an int seed, a ``numpy.random.Generator`` or a JAX PRNG key (JAX is imported
only in that case, so the scikit-learn fallback runs without it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Choice",
    "IntChoice",
    "IntUniform",
    "LogUniform",
    "Space",
    "Uniform",
    "as_generator",
    "config_token",
    "python_scalar",
]


def as_generator(key) -> np.random.Generator:
    """A NumPy generator from an int seed, a generator, or a JAX PRNG key."""
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return np.random.default_rng(int(key))
    if isinstance(key, (tuple, list)) and all(isinstance(k, (int, np.integer)) for k in key):
        return np.random.default_rng([int(k) for k in key])
    try:  # a JAX key (typed or raw uint32)
        import jax

        data = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        return np.random.default_rng(np.asarray(data, dtype=np.uint32).ravel().tolist())
    except Exception as err:
        raise TypeError(f"key must be an int seed, numpy Generator or JAX PRNG key, got {type(key).__name__}") from err


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self):
        _number("Uniform low", self.low), _number("Uniform high", self.high)
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=n)

    def contains(self, value) -> bool:
        return self.low <= value <= self.high

    values = None


@dataclass(frozen=True)
class LogUniform:
    """``exp(U(log low, log high))``: e.g. learning rate 10^U(-6, -1) is LogUniform(1e-6, 1e-1)."""

    low: float
    high: float

    def __post_init__(self):
        _number("LogUniform low", self.low), _number("LogUniform high", self.high)
        if self.low <= 0:
            raise ValueError(f"LogUniform needs low > 0, got low={self.low}")
        if not self.low < self.high:
            raise ValueError(f"LogUniform needs low < high, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), size=n))

    def contains(self, value) -> bool:
        return self.low * (1 - 1e-12) <= value <= self.high * (1 + 1e-12)

    values = None


@dataclass(frozen=True)
class IntUniform:
    """Integers low..high, both included."""

    low: int
    high: int

    def __post_init__(self):
        for name, v in (("IntUniform low", self.low), ("IntUniform high", self.high)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {v!r}")
        if not self.low <= self.high:
            raise ValueError(f"IntUniform needs low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.low, self.high + 1, size=n)

    def contains(self, value) -> bool:
        return float(value).is_integer() and self.low <= value <= self.high

    @property
    def values(self) -> tuple:
        return tuple(range(int(self.low), int(self.high) + 1))


@dataclass(frozen=True)
class Choice:
    """One of a finite set of values of any type: ``Choice(['scale', 'auto', 0.1])``."""

    options: tuple

    def __init__(self, options: Iterable[Any]):
        if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
            raise ValueError(f"Choice needs a list of values, got {options!r}")
        opts = tuple(options)
        if not opts:
            raise ValueError("Choice needs at least one value, got an empty list")
        if len(set(map(repr, opts))) != len(opts):
            raise ValueError(f"Choice values must be distinct, got {list(opts)}")
        object.__setattr__(self, "options", opts)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        idx = rng.integers(0, len(self.options), size=n)
        out = np.empty(n, dtype=object)
        out[:] = [self.options[i] for i in idx]
        return out

    def contains(self, value) -> bool:
        return any(type(value) is type(o) and value == o for o in self.options) or value in self.options

    @property
    def values(self) -> tuple:
        return self.options


class IntChoice(Choice):
    """A Choice of integers (hidden units, layers, batch size...)."""

    def __init__(self, options: Iterable[int]):
        super().__init__(options)
        bad = [o for o in self.options if isinstance(o, bool) or not isinstance(o, (int, np.integer))]
        if bad:
            raise ValueError(f"IntChoice values must be integers, got {bad}")


Dimension = Uniform | LogUniform | IntUniform | Choice


def python_scalar(value):
    """A NumPy scalar as the Python scalar it holds (configs stay JSON-safe); anything else as is."""
    return value.item() if isinstance(value, np.generic) else value


class Space:
    """An ordered set of named dimensions: ``Space(lr=LogUniform(1e-4, 1e-1), width=IntChoice([32, 64]))``.

    Args:
        dims: dimensions by name (a mapping), merged with ``kwargs``.
        **kwargs: dimensions by name: ``Uniform``, ``LogUniform``, ``IntUniform``, ``Choice`` or
            ``IntChoice``.

    Raises:
        ValueError: an empty space, or a value that is not a dimension.

    ``sample_configs(rng, n)`` draws configs (dicts); ``grid()`` lists a finite space's configs.
    """

    def __init__(self, dims: Mapping[str, Dimension] | None = None, **kwargs: Dimension):
        merged = dict(dims or {}, **kwargs)
        if not merged:
            raise ValueError(
                "the search space is empty: give at least one dimension, e.g. Space(lr=LogUniform(1e-4, 1e-1))"
            )
        for name, dim in merged.items():
            if not isinstance(dim, (Uniform, LogUniform, IntUniform, Choice)):
                raise ValueError(f"dimension {name!r} must be Uniform, LogUniform, IntUniform or Choice, got {dim!r}")
        self.dims: dict[str, Dimension] = merged

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.dims.items())
        return f"Space({inner})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Space) and self.dims == other.dims

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.dims)

    @property
    def size(self) -> int | None:
        """Number of distinct configurations, or None when a dimension is continuous."""
        total = 1
        for dim in self.dims.values():
            if dim.values is None:
                return None
            total *= len(dim.values)
        return total

    def grid(self) -> list[dict]:
        """Every configuration of a finite space, in a fixed order."""
        if self.size is None:
            raise ValueError("grid() needs a finite space (Choice / IntUniform dimensions only)")
        names = self.names
        return [
            {k: python_scalar(v) for k, v in zip(names, combo)}
            for combo in itertools.product(*(finite_values(self.dims[k]) for k in names))
        ]

    def sample(self, key, n: int) -> dict[str, np.ndarray]:
        """``n`` independent draws, one column per dimension (vectorised)."""
        rng = as_generator(key)
        return {name: dim.sample(rng, n) for name, dim in self.dims.items()}

    def configs(self, columns: Mapping[str, np.ndarray]) -> list[dict]:
        """Columns from ``sample`` -> a list of dicts of Python scalars."""
        n = len(next(iter(columns.values())))
        return [{k: python_scalar(columns[k][i]) for k in self.names} for i in range(n)]

    def sample_configs(self, key, n: int, *, unique: bool | None = None) -> list[dict]:
        """``n`` configs as dicts. Finite spaces are sampled without replacement (``n`` is capped
        at the grid size), continuous ones with replacement."""
        rng = as_generator(key)
        size = self.size
        if unique is None:
            unique = size is not None
        if unique:
            if size is None:
                raise ValueError(
                    "sampling without replacement needs a finite space (Choice / IntUniform dimensions only)"
                )
            idx = rng.permutation(size) if n >= size else rng.choice(size, n, replace=False)
            return [self.grid_point(int(i)) for i in idx]
        return self.configs(self.sample(rng, n))

    def grid_point(self, index: int) -> dict:
        """The ``index``-th point of ``grid()`` without building the grid (mixed-radix decode)."""
        out = {}
        for name in reversed(self.names):
            values = finite_values(self.dims[name])
            index, pos = divmod(index, len(values))
            out[name] = python_scalar(values[pos])
        return {k: out[k] for k in self.names}

    def contains(self, config: Mapping[str, Any]) -> bool:
        return set(config) == set(self.dims) and all(self.dims[k].contains(v) for k, v in config.items())

    def validate(self, config: Mapping[str, Any]) -> None:
        unknown = set(config) - set(self.dims)
        missing = set(self.dims) - set(config)
        if unknown or missing:
            raise ValueError(
                f"config keys do not match the space: unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        for k, v in config.items():
            if not self.dims[k].contains(v):
                raise ValueError(f"value {v!r} of {k!r} is outside {self.dims[k]!r}")


def config_token(config: Mapping) -> tuple:
    """A config as a hashable key (values by ``repr``: exact for floats)."""
    return tuple(sorted((str(k), repr(v)) for k, v in config.items()))


def finite_values(dim) -> tuple:
    """A finite dimension's values (callers check the space is finite first)."""
    values = dim.values
    if values is None:
        raise ValueError(f"{dim!r} has no finite set of values")
    return values
