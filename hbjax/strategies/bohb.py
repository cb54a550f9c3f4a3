"""BOHB (Falkner, Klein & Hutter 2018): Hyperband whose new configs come from a TPE-style model.

The brackets, rungs and promotions are Hyperband's (the scheduler, run within the budget as
:class:`~hbjax.strategies.bracketed.HyperbandStrategy`); only where a bracket's new configs come
from changes (the scheduler's ``propose`` hook):

* the model is fitted on the observations of the LARGEST resource that has at least
  ``min_points + 2`` finite losses (``min_points`` defaults to d + 1, d = number of dimensions);
  with no such resource yet, every config is random;
* the observations at that resource are ranked; the best ``max(min_points, top_fraction * N)``
  form the good set, the rest (diverged ones included) the bad set; each gets a product-kernel
  density over the encoded space (Gaussian kernels on the [0, 1] coordinates of numeric
  dimensions, Aitchison-Aitken kernels on the index of a ``Choice``), with normal-reference (Scott)
  bandwidths ``1.06 * std * N^(-1/(d+4))``, at least ``min_bandwidth``;
* each model-based config is the best, by ``l(x) / g(x)``, of ``n_samples`` candidates drawn from
  the good density with its numeric bandwidths widened by ``bandwidth_factor``;
* every config is random (drawn from the space) with probability ``random_fraction``, model or not.

The trials table has a ``from_model`` column (was the config proposed by the model) and
``model_resource`` (the resource whose observations the model was fitted on; NaN for random
configs), and ``result.extras`` counts both kinds.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .. import scheduler as sched
from ..results import Result
from ..space import Space
from .base import check_budget, check_int, check_real
from .bracketed import HyperbandStrategy, run_within_budget
from .encoding import CATEGORICAL, Codec

__all__ = ["BOHB", "ProductKDE"]


class ProductKDE:
    """Product-kernel density over encoded vectors (see the module docstring)."""

    def __init__(self, data: np.ndarray, codec: Codec, *, min_bandwidth: float = 1e-3):
        data = np.asarray(data, dtype=np.float64)
        n, d = data.shape
        if n < 1:
            raise ValueError("a kernel density needs at least one point")
        self.data, self.codec = data, codec
        bw = 1.06 * data.std(axis=0) * n ** (-1.0 / (d + 4))
        bw = np.maximum(bw, min_bandwidth)
        for j, kind in enumerate(codec.kinds):
            if kind == CATEGORICAL:
                c = codec.n_options[j]
                bw[j] = min(bw[j], (c - 1) / c) if c > 1 else min_bandwidth
        self.bandwidth = bw

    def logpdf(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.data.shape[1])
        total = np.zeros((points.shape[0], self.data.shape[0]))
        for j, kind in enumerate(self.codec.kinds):
            h = self.bandwidth[j]
            if kind == CATEGORICAL:
                c = self.codec.n_options[j]
                if c < 2:
                    continue
                same = np.rint(points[:, j : j + 1]) == np.rint(self.data[None, :, j])
                total += np.where(same, math.log1p(-h), math.log(h / (c - 1)))
            else:
                z = (points[:, j : j + 1] - self.data[None, :, j]) / h
                total += -0.5 * z * z - math.log(h * math.sqrt(2 * math.pi))
        top = total.max(axis=1, keepdims=True)
        return (top[:, 0] + np.log(np.exp(total - top).sum(axis=1))) - math.log(self.data.shape[0])

    def sample(self, rng: np.random.Generator, m: int, *, widen: float = 1.0) -> np.ndarray:
        """``m`` draws: a random data point, perturbed dimension by dimension (numeric kernels
        widened by ``widen`` and truncated to [0, 1])."""
        from scipy.stats import truncnorm

        centres = self.data[rng.integers(0, self.data.shape[0], size=m)]
        out = centres.copy()
        for j, kind in enumerate(self.codec.kinds):
            if kind == CATEGORICAL:
                c = self.codec.n_options[j]
                resample = rng.random(m) < self.bandwidth[j]
                out[resample, j] = rng.integers(0, c, size=int(resample.sum()))
            else:
                s = self.bandwidth[j] * widen
                mu = np.clip(centres[:, j], 0.0, 1.0)
                out[:, j] = truncnorm.rvs((0.0 - mu) / s, (1.0 - mu) / s, loc=mu, scale=s, size=m, random_state=rng)
        return self.codec.snap(out)


class BOHB(HyperbandStrategy):
    """Hyperband brackets + a TPE-style density model for new configs (Falkner et al. 2018)."""

    name = "bohb"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        random_fraction: float = 1 / 3,
        min_points: int | None = None,
        top_fraction: float = 0.15,
        bandwidth_factor: float = 3,
        n_samples: int = 64,
        min_bandwidth: float = 1e-3,
        integer_resource: bool = False,
        max_iterations: int | None = None,
    ):
        super().__init__(
            space,
            max_resource=max_resource,
            eta=eta,
            seed=seed,
            integer_resource=integer_resource,
            max_iterations=max_iterations,
        )
        self.codec = Codec(space)
        self.random_fraction = check_real("random_fraction", random_fraction, low=0.0, high=1.0)
        self.min_points = self.codec.n_dims + 1 if min_points is None else check_int("min_points", min_points, 1)
        self.top_fraction = check_real("top_fraction", top_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        self.bandwidth_factor = check_real("bandwidth_factor", bandwidth_factor, low=0.0, low_open=True)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.min_bandwidth = check_real("min_bandwidth", min_bandwidth, low=0.0, low_open=True)

    def describe(self) -> str:
        return (
            f"BOHB R={self.max_resource:g} eta={self.eta} seed={self.seed} random_fraction={self.random_fraction:.3g} "
            f"min_points={self.min_points} top_fraction={self.top_fraction:g} "
            f"bandwidth_factor={self.bandwidth_factor:g} n_samples={self.n_samples}\n"
            f"{self.hyperband.describe().split(chr(10), 1)[1]}"
        )

    # -- the model -------------------------------------------------------------------------------
    def model_resource(self, state: sched.SchedulerState):
        """The largest resource with >= min_points + 2 finite observations, with its observations
        [(loss, config_id)]; None when no resource has enough yet."""
        by_resource = defaultdict(list)
        for o in state.history:
            by_resource[o.resource].append((o.loss, o.config_id))
        for resource in sorted(by_resource, reverse=True):
            obs = by_resource[resource]
            if sum(math.isfinite(loss) for loss, _ in obs) >= self.min_points + 2:
                return resource, obs
        return None

    def fit(self, state: sched.SchedulerState):
        """(good density, bad density, resource) or None."""
        found = self.model_resource(state)
        if found is None:
            return None
        resource, obs = found
        ranked = sorted(obs, key=lambda o: (o[0] if math.isfinite(o[0]) else math.inf, o[1]))
        n_finite = sum(math.isfinite(loss) for loss, _ in obs)
        n_good = min(max(self.min_points, int(self.top_fraction * n_finite)), n_finite - 1)
        vectors = self.codec.encode([state.configs[cid] for _, cid in ranked])
        good = ProductKDE(vectors[:n_good], self.codec, min_bandwidth=self.min_bandwidth)
        bad = ProductKDE(vectors[n_good:], self.codec, min_bandwidth=self.min_bandwidth)
        return good, bad, resource

    def sample_from_model(self, rng, good: ProductKDE, bad: ProductKDE, k: int) -> np.ndarray:
        """``k`` vectors, each the max of l/g over ``n_samples`` draws from the widened good density."""
        cands = good.sample(rng, k * self.n_samples, widen=self.bandwidth_factor)
        score = (good.logpdf(cands) - bad.logpdf(cands)).reshape(k, self.n_samples)
        score = np.where(np.isfinite(score), score, -np.inf)
        best = np.argmax(score, axis=1)
        return cands.reshape(k, self.n_samples, -1)[np.arange(k), best]

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        info: dict[int, tuple[bool, float]] = {}  # config id -> (from model, model resource)

        def propose(rng, n, state):
            model = self.fit(state) if self.random_fraction < 1 else None  # 1: exactly Hyperband
            first = len(state.configs)
            if model is None:
                configs = state.space.sample_configs(rng, n)  # exactly what Hyperband draws
                info.update((first + i, (False, math.nan)) for i in range(len(configs)))
                return configs
            good, bad, resource = model
            use_model = rng.random(n) >= self.random_fraction
            k = int(use_model.sum())
            from_model = self.codec.decode(self.sample_from_model(rng, good, bad, k)) if k else []
            random = state.space.sample_configs(rng, n - k, unique=False) if n - k else []
            configs, it_m, it_r = [], iter(from_model), iter(random)
            for i, flag in enumerate(use_model):
                configs.append(next(it_m) if flag else next(it_r))
                info[first + i] = (bool(flag), float(resource) if flag else math.nan)
            return configs

        result = run_within_budget(self.initial_state(), backend, budget=budget, propose=propose, callbacks=callbacks)
        for row in result.trials.rows:
            flag, resource = info.get(row["config_id"], (False, math.nan))
            row["from_model"] = flag
            row["model_resource"] = resource
        n_model = sum(flag for flag, _ in info.values())
        result.extras.update(strategy=self.name, model_configs=n_model, random_configs=len(info) - n_model)
        return result
