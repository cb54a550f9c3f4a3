"""Multi-fidelity benchmarks the field shares, in JAX, a whole rung per vectorised call.

* **MFHartmann-3/6** as mf-prior-bench (``mfpbench.get("mfh3")``) defines them: at fidelity ``z``
  (an integer; 3..100 in mf-prior-bench 1.8.x, 1..100 from 1.9.0), ``s = ln z / ln 100``, each Hartmann alpha lowered by
  ``bias * (1 - s)`` and a half-normal noise ``|N(0, 1)| * noise * (1 - s)`` added; at z = 100
  the exact Hartmann function. Presets (bias, noise): default (0.5, 0.1), good (2.5, 2.0),
  moderate (3.0, 3.0), bad (3.5, 4.0), terrible (4.0, 5.0). mf-prior-bench seeds its noise by
  CPython's hash of the config; here it is drawn from ``fold_in(key(seed), config id, z)``: the
  same distribution (tests compare the moments), fixed per (seed, config, fidelity).
* **Counting Ones** (HPOlib, as DEHB's ``benchmarking/counting_ones`` uses it): ``n`` categorical
  bits and ``n`` continuous ``p_j`` in [0, 1]; at budget ``b`` the value is
  ``-(sum of bits + sum_j mean of int(b) Bernoulli(p_j) draws)`` (the mean drawn as a binomial
  count over ``int(b)``), minimised at ``-2n``.

Fidelity ranges. DEHB's own benchmark (its ``benchmarking/``, whose published table
``PUBLISHED`` quotes) pins mf-prior-bench 1.9.0, where MFHartmann's z runs from 1: with eta 3 its
rungs are z = 1, 3, 11, 33, 100 (``min_fidelity=1``; ``hbjax compare --task mfh*`` runs so by
default). This backend's own default starts at z = 3 (mf-prior-bench 1.8.x's range: rungs
3, 11, 33, 100), which is NOT the published protocol's; every table names its z range.
Counting Ones runs over b in 5.76..933.12 (rungs 11, 34, 103, 311, 933 draws), as DEHB's.
A backend's resource is a rung's budget in units of the lowest rung (Hyperband R = 27 and 81),
mapped back to the benchmark's own fidelity as DEHB does (``int(fidelity)``). Every evaluation
is one function evaluation, at any fidelity (``evaluations``), the unit of DEHB's table.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..space import IntChoice, Space, Uniform

__all__ = ["BENCHMARKS", "HARTMANN", "PRESETS", "MFBenchmarkBackend", "counting_ones_mean", "mfhartmann"]

#: mf-prior-bench's presets: (fidelity bias, fidelity noise)
PRESETS = {"default": (0.5, 0.1), "good": (2.5, 2.0), "moderate": (3.0, 3.0), "bad": (3.5, 4.0), "terrible": (4.0, 5.0)}

_ALPHA = (1.0, 1.2, 3.0, 3.2)
#: (A, P) of Hartmann-3 and -6 (mf-prior-bench's ``synthetic/hartmann/generators.py``)
HARTMANN = {
    3: (
        ((3.0, 10, 30), (0.1, 10, 35), (3.0, 10, 30), (0.1, 10, 35)),
        ((3689, 1170, 2673), (4699, 4387, 7470), (1091, 8732, 5547), (381, 5743, 8828)),
    ),
    6: (
        ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14), (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14)),
        (
            (1312, 1696, 5569, 124, 8283, 5886),
            (2329, 4135, 8307, 3736, 1004, 9991),
            (2348, 1451, 3522, 2883, 3047, 6650),
            (4047, 8828, 8732, 5743, 1091, 381),
        ),
    ),
}
OPTIMA = {3: -3.8627797869493365, 6: -3.322368011391339}  # at z = 100

#: name -> (kind, dimension, lowest fidelity, highest fidelity, Hyperband R in units of the lowest rung)
BENCHMARKS = {
    "mfh3": ("hartmann", 3, 3.0, 100.0, 27),
    "mfh6": ("hartmann", 6, 3.0, 100.0, 27),
    "counting-ones": ("counting", 50, 576 / 100, 93312 / 100, 81),
}


def mfhartmann(x, z, *, bias: float, dims: int):
    """The noise-free MFHartmann value of configs ``x`` [N, dims] at fidelities ``z`` [N] (JAX)."""
    a, p = (jnp.asarray(m, dtype=jnp.result_type(float)) for m in HARTMANN[dims])
    s = jnp.log(z) / jnp.log(100.0)
    alpha = jnp.asarray(_ALPHA, dtype=a.dtype)[None, :] - bias * (1.0 - s)[:, None]
    inner = jnp.sum(a[None] * (x[:, None, :] - 1e-4 * p[None]) ** 2, axis=-1)
    return -jnp.sum(alpha * jnp.exp(-inner), axis=-1)


def counting_ones_mean(bits, probs):
    """The expected Counting Ones value (any budget): ``-(sum of bits + sum of p)``."""
    return -(jnp.sum(bits, axis=-1) + jnp.sum(probs, axis=-1))


@functools.cache
def _program(kind: str, dims: int):
    if kind == "hartmann":

        def run(x, z, keys, bias, noise):
            s = jnp.log(z) / jnp.log(100.0)
            half_normal = jnp.abs(jax.vmap(lambda k: jax.random.normal(k, dtype=x.dtype))(keys))
            return mfhartmann(x, z, bias=bias, dims=dims) + half_normal * noise * (1.0 - s)
    else:

        def run(x, z, keys, bias, noise):  # x: [bits..., probs...]; z: draws per continuous dim
            bits, probs = x[:, :dims], x[:, dims:]
            n = jnp.floor(z)[:, None]
            counts = jax.vmap(lambda k, p, m: jax.random.binomial(k, m, p, dtype=x.dtype))(keys, probs, n)
            return -(jnp.sum(bits, axis=-1) + jnp.sum(counts / n, axis=-1))

    return jax.jit(run)


class MFBenchmarkBackend:
    """A Hyperband backend over one of ``BENCHMARKS`` (``preset``: MFHartmann only): each config's
    value at its job's fidelity, every config of every job of a wave in one jitted, vmapped call
    (float64). Evaluations do not continue (``continues = False``); ``evaluations`` counts them."""

    continues = False

    def __init__(
        self,
        name: str,
        *,
        preset: str = "default",
        seed: int = 0,
        noise: bool = True,
        min_fidelity: float | None = None,
    ):
        if name not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        self.name, self.preset, self.seed, self.noisy = name, preset, int(seed), bool(noise)
        self.kind, self.dims, self.min_fidelity, self.max_fidelity, self.max_resource = BENCHMARKS[name]
        if self.kind == "counting" and preset != "default":
            raise ValueError("presets are MFHartmann's; counting-ones has none")
        if min_fidelity is not None:  # DEHB's rungs from another lowest fidelity (mf-prior-bench 1.9.0: z from 1)
            if not 0 < float(min_fidelity) < self.max_fidelity:
                raise ValueError(f"min_fidelity must be in (0, {self.max_fidelity:g}), got {min_fidelity!r}")
            self.min_fidelity = float(min_fidelity)
            rungs = -int(math.log(self.min_fidelity / self.max_fidelity) / math.log(3)) + 1  # DEHB's max_SH_iter
            self.max_resource = 3 ** (rungs - 1)
        self.bias, self.noise = PRESETS[preset]
        self.evaluations = 0

    @property
    def min_resource(self) -> float:
        """DEHB's lowest rung in resource units (1: the fidelities are those of DEHB's protocol)."""
        return 1.0

    def space(self) -> Space:
        if self.kind == "hartmann":
            return Space({f"X_{i}": Uniform(0.0, 1.0) for i in range(self.dims)})
        return Space(
            {
                **{f"cat_{i}": IntChoice([0, 1]) for i in range(self.dims)},
                **{f"float_{i}": Uniform(0.0, 1.0) for i in range(self.dims)},
            }
        )

    def fidelity(self, resource: float) -> int:
        """The benchmark's own fidelity of a resource: DEHB's ``int(budget)``, where a rung's budget
        is ``max_fidelity * resource / R``."""
        return int(self.max_fidelity * float(resource) / self.max_resource + 1e-9)

    def _row(self, config) -> list[float]:
        names = self.space().names
        return [float(config[n]) for n in names]

    def evaluate(self, configs, fidelities, config_ids) -> np.ndarray:
        """Values of ``configs`` at their ``fidelities`` (the benchmark's own: z or b), the noise
        of config ``config_ids[i]`` at its fidelity drawn from the run's seed."""
        n = len(configs)
        if n == 0:
            return np.zeros(0)
        with jax.enable_x64(True):
            x = np.array([self._row(c) for c in configs], dtype=np.float64)
            z = np.asarray(fidelities, dtype=np.float64)
            root = jax.random.PRNGKey(self.seed)
            keys = jnp.stack(
                [
                    jax.random.fold_in(jax.random.fold_in(root, int(cid)), int(f))
                    for cid, f in zip(config_ids, fidelities)
                ]
            )
            size = 1 << max(0, (n - 1).bit_length())  # few shapes: few compiles across waves and seeds
            pad = lambda a: jnp.concatenate([jnp.asarray(a), jnp.repeat(jnp.asarray(a)[:1], size - n, axis=0)])
            noise = self.noise if self.noisy else 0.0
            values = _program(self.kind, self.dims)(pad(x), pad(z), pad(keys), float(self.bias), float(noise))
            out = np.asarray(values, dtype=np.float64)[:n]
        self.evaluations += n
        return out

    def train_wave(self, jobs) -> list[np.ndarray]:
        configs = [c for job in jobs for c in job.configs]
        fidelities = [self.fidelity(job.resource) for job in jobs for _ in job.config_ids]
        ids = [cid for job in jobs for cid in job.config_ids]
        values = self.evaluate(configs, fidelities, ids)
        out, first = [], 0
        for job in jobs:
            out.append(values[first : first + len(job.config_ids)])
            first += len(job.config_ids)
        return out

    def train_rung(self, job) -> np.ndarray:
        return self.train_wave([job])[0]

    def optimum(self) -> float:
        return OPTIMA[self.dims] if self.kind == "hartmann" else -2.0 * self.dims

    def true_value(self, config) -> float:
        """The noise-free value at the highest fidelity (the exact Hartmann function; Counting
        Ones' expectation)."""
        with jax.enable_x64(True):
            x = jnp.asarray([self._row(config)], dtype=jnp.float64)
            if self.kind == "hartmann":
                return float(mfhartmann(x, jnp.asarray([100.0]), bias=0.0, dims=self.dims)[0])
            return float(counting_ones_mean(x[:, : self.dims], x[:, self.dims :])[0])

    def describe(self) -> str:
        if self.kind == "hartmann":
            return (
                f"{self.name} ({self.preset}: bias {self.bias:g}, noise {self.noise:g}), z in "
                f"{self.min_fidelity:g}..{self.max_fidelity:g}"
            )
        return f"counting ones ({self.dims} bits + {self.dims} continuous), b in {self.min_fidelity:g}..{self.max_fidelity:g}"
