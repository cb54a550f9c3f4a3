"""Cheap multi-fidelity test functions in JAX, evaluated a whole rung at a time with one ``vmap``.

The multi-fidelity Branin and Hartmann-3/6 of the multi-fidelity BO literature (Kandasamy et al.
2017, "Multi-fidelity Bayesian optimisation with continuous approximations"): a fidelity
``z`` in [0, 1] perturbs the function's coefficients, and ``z = 1`` is the standard function with
its known minimum. Hyperband's resource maps to fidelity as ``z = resource / max_resource``.

    backend = FunctionBackend("hartmann6", max_resource=81)
    result = hb.Hyperband(backend.space(), max_resource=81, eta=3, seed=0).run(backend)

Comparisons take seconds: every rung is one jitted call (Hyperband, BOHB and random search over 30
seeds each, 4,050 resource units per run: 5-8 s on 2 CPU cores).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..space import Space, Uniform

__all__ = ["FUNCTIONS", "FunctionBackend", "branin", "hartmann3", "hartmann6"]


def branin(x, z):
    """x = (x1 in [-5, 10], x2 in [0, 15]); z = 1: Branin, minimum 0.397887 at three points."""
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - z)
    c = 5 / math.pi - 0.1 * (1 - z)
    t = 1 / (8 * math.pi) + 0.05 * (1 - z)
    x1, x2 = x[0], x[1]
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * jnp.cos(x1) + 10


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(a, p):
    def f(x, z):
        alpha = _H_ALPHA - 0.1 * (1 - z)
        return -jnp.sum(alpha * jnp.exp(-jnp.sum(a * (x - p) ** 2, axis=1)))

    return f


hartmann3 = _hartmann(_H3_A, _H3_P)
hartmann3.__doc__ = "x in [0, 1]^3; z = 1: Hartmann-3, minimum -3.86278."
hartmann6 = _hartmann(_H6_A, _H6_P)
hartmann6.__doc__ = "x in [0, 1]^6; z = 1: Hartmann-6, minimum -3.32237."

#: name -> (function, bounds per dimension, known minimum at full fidelity)
FUNCTIONS: dict[str, tuple[Callable, list[tuple[float, float]], float]] = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)], 0.397887),
    "hartmann3": (hartmann3, [(0.0, 1.0)] * 3, -3.86278),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6, -3.32237),
}


class FunctionBackend:
    """A Hyperband backend over a test function: ``train_rung(job)`` evaluates the job's configs at
    fidelity ``resource / max_resource`` in one jitted, vmapped call. ``noise``: standard deviation
    of Gaussian observation noise, drawn per (seed, config id, resource), so reruns agree.

    Evaluations do not continue (``continues = False``): each costs its resource, the accounting of
    the multi-fidelity literature."""

    continues = False

    def __init__(self, name: str, *, max_resource: float, noise: float = 0.0, seed: int = 0):
        if name not in FUNCTIONS:
            raise ValueError(f"unknown test function {name!r}; known: {', '.join(FUNCTIONS)}")
        if not max_resource > 0:
            raise ValueError(f"max_resource must be > 0, got {max_resource!r}")
        self.name, self.max_resource, self.noise, self.seed = name, float(max_resource), float(noise), int(seed)
        _, self.bounds, self.minimum = FUNCTIONS[name]
        self.evaluations = 0

    def space(self) -> Space:
        return Space({f"x{i + 1}": Uniform(lo, hi) for i, (lo, hi) in enumerate(self.bounds)})

    def train_rung(self, job) -> np.ndarray:
        return self.train_wave([job])[0]

    def train_wave(self, jobs) -> list[np.ndarray]:
        """Every config of every job at its own fidelity ``resource / max_resource`` in one
        jitted, vmapped call."""
        configs = [c for job in jobs for c in job.configs]
        xs = np.array([[float(c[f"x{i + 1}"]) for i in range(len(self.bounds))] for c in configs], dtype=np.float32)
        zs = np.array(
            [min(1.0, float(job.resource) / self.max_resource) for job in jobs for _ in job.config_ids],
            dtype=np.float32,
        )
        root = jax.random.PRNGKey(self.seed)
        keys = jnp.concatenate(
            [
                jax.vmap(
                    lambda c, base=jax.random.fold_in(root, int(round(job.resource * 1e6))): jax.random.fold_in(base, c)
                )(jnp.asarray(job.config_ids, dtype=jnp.uint32))
                for job in jobs
            ]
        )
        n = len(xs)
        self.evaluations += n
        size = 1 << max(0, (n - 1).bit_length())  # few shapes, so few compiles across rungs and seeds
        pad = lambda a: jnp.concatenate([jnp.asarray(a), jnp.repeat(jnp.asarray(a)[:1], size - n, axis=0)])
        values = np.asarray(
            _rung_program(self.name)(pad(xs), pad(zs), pad(keys), jnp.float32(self.noise)), dtype=np.float64
        )[:n]
        out, first = [], 0
        for job in jobs:
            out.append(values[first : first + len(job.config_ids)])
            first += len(job.config_ids)
        return out


@functools.cache
def _rung_program(name: str):
    fn = FUNCTIONS[name][0]

    def rung(xs, zs, keys, noise):  # one fidelity per config
        return jax.vmap(fn)(xs, zs) + noise * jax.vmap(lambda k: jax.random.normal(k))(keys)

    return jax.jit(rung)
