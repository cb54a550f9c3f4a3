"""Gaussian-process Bayesian optimisation with expected improvement, in batches.

The GP (scikit-learn ``GaussianProcessRegressor``: constant x Matern(nu=2.5) with one length
scale per feature (``ard=False``: one shared length scale, for spaces of many dimensions where
fitting one per feature dominates the run), + WhiteKernel for the noise, ``normalize_y``) models the loss over the unit-cube
features of :class:`~hbjax.strategies.encoding.Codec` (log scale for ``LogUniform``, one-hot for
``Choice``, scaled integers). Expected improvement is maximised by scoring ``n_candidates``
random configs plus local perturbations of the best ones seen.

A batch of ``batch_size`` configs trains as ONE job: its points are chosen one by one, each
time pretending the previous picks were observed (kriging believer: at the GP mean; or a constant
liar: at the min / mean / max loss), refitting the GP with its kernel fixed.
Non-finite losses (diverged training) are replaced by the worst finite loss for fitting.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..results import Result
from ..space import Space
from .base import (
    BatchRunner,
    check_budget,
    check_int,
    check_max_resource,
    check_real,
    check_seed,
    check_space,
    losses_for_fit,
)
from .encoding import Codec

__all__ = ["BayesianOptimization", "expected_improvement"]

LIARS = ("believer", "min", "mean", "max")


def _one_blas_thread():
    """The GP's matrices are tiny: threaded BLAS only adds overhead (4x slower L-BFGS on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def expected_improvement(mu, sigma, best, xi=0.01):
    """EI for minimisation: ``E[max(best - xi - f, 0)]`` with ``f ~ N(mu, sigma^2)``."""
    from scipy.stats import norm

    mu, sigma = np.asarray(mu, dtype=np.float64), np.maximum(np.asarray(sigma, dtype=np.float64), 1e-12)
    improvement = best - xi - mu
    z = improvement / sigma
    return improvement * norm.cdf(z) + sigma * norm.pdf(z)


class BayesianOptimization:
    """GP-BO: ``n_initial`` random configs (one job), then batches of ``batch_size`` chosen by
    expected improvement (``xi`` = exploration margin in loss units), all at ``max_resource``."""

    name = "bo"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        seed: int = 0,
        batch_size: int = 4,
        n_initial: int = 8,
        xi: float = 0.01,
        n_candidates: int = 2048,
        liar: str = "believer",
        n_restarts: int = 2,
        ard: bool = True,
    ):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.seed = check_seed(seed)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.n_initial = check_int("n_initial", n_initial, 2)
        self.xi = check_real("xi", xi, low=0.0)
        self.n_candidates = check_int("n_candidates", n_candidates, 16)
        if liar not in LIARS:
            raise ValueError(f"liar must be one of {LIARS}, got {liar!r}")
        self.liar = liar
        self.n_restarts = check_int("n_restarts", n_restarts, 0)
        if not isinstance(ard, bool):
            raise ValueError(f"ard must be True or False, got {ard!r}")
        self.ard = ard
        self.codec = Codec(space)

    def describe(self) -> str:
        return (
            f"GP Bayesian optimisation R={self.max_resource:g} initial={self.n_initial} "
            f"batch={self.batch_size} xi={self.xi:g}{'' if self.ard else ' one length scale'} seed={self.seed}"
        )

    # -- the model ---------------------------------------------------------------------------------
    def _gp(self, n_features: int, rng: np.random.Generator, kernel=None):
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        if kernel is None:
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
                length_scale=np.full(n_features, 0.5) if self.ard else 0.5, length_scale_bounds=(1e-2, 1e2), nu=2.5
            ) + WhiteKernel(1e-2, (1e-6, 1e1))
            return GaussianProcessRegressor(
                kernel=kernel,
                normalize_y=True,
                n_restarts_optimizer=self.n_restarts,
                random_state=int(rng.integers(2**31 - 1)),
            )
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None)

    @staticmethod
    def _fit(gp, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # length scales at their bounds, lbfgs iteration limits
            gp.fit(X, y)
        return gp

    def _candidates(self, rng, V, y) -> np.ndarray:
        """Random vectors plus Gaussian steps around the best points seen."""
        codec = self.codec
        n_local = self.n_candidates // 4
        random = codec.sample(rng, self.n_candidates - n_local)
        top = V[np.argsort(y, kind="stable")[: min(5, len(y))]]
        local = top[rng.integers(0, len(top), size=n_local)].copy()
        scale = rng.choice([0.02, 0.05, 0.15], size=(n_local, 1))
        local[:, codec.numeric] += rng.normal(size=(n_local, int(codec.numeric.sum()))) * scale
        for j in np.flatnonzero(codec.categorical):
            flip = rng.random(n_local) < 1.0 / codec.n_dims
            local[flip, j] = rng.integers(0, codec.n_options[j], size=int(flip.sum()))
        return codec.snap(np.concatenate([random, local]))

    def propose(self, rng: np.random.Generator, V: np.ndarray, losses, k: int) -> np.ndarray:
        """``k`` new vectors given the evaluated vectors ``V`` and their ``losses``."""
        codec = self.codec
        y = losses_for_fit(losses)
        if y is None:  # nothing finite to learn from
            return codec.sample(rng, k)
        X = codec.features(V)
        gp = self._fit(self._gp(X.shape[1], rng), X, y)
        cands = self._candidates(rng, V, y)
        C = codec.features(cands)
        taken = {tuple(v) for v in codec.snap(V)}
        picks = []
        X_aug, y_aug = X, y
        for i in range(k):
            mu, sigma = gp.predict(C, return_std=True)
            ei = expected_improvement(mu, sigma, y_aug.min(), self.xi)
            order = np.argsort(-ei, kind="stable")
            choice = next((c for c in order[:64] if tuple(cands[c]) not in taken), order[0])
            picks.append(cands[choice])
            taken.add(tuple(cands[choice]))
            if i == k - 1:
                break
            lie = {"believer": mu[choice], "min": y.min(), "mean": y.mean(), "max": y.max()}[self.liar]
            X_aug = np.vstack([X_aug, C[choice]])
            y_aug = np.append(y_aug, lie)
            gp = self._fit(self._gp(X.shape[1], rng, kernel=gp.kernel_), X_aug, y_aug)
        return np.array(picks)

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = BatchRunner(
            self.name, self.space, backend, budget=budget, max_resource=self.max_resource, callbacks=callbacks
        )
        rng = np.random.default_rng(self.seed)
        codec = self.codec
        V = np.empty((0, codec.n_dims))
        batch = 0
        while True:
            k = min(self.n_initial if batch == 0 else self.batch_size, runner.affordable())
            if k <= 0:
                break
            if batch == 0:
                new = codec.sample(rng, k)
                model = False
            else:
                model = losses_for_fit(runner.state.losses) is not None
                with _one_blas_thread():
                    new = self.propose(rng, V, runner.state.losses, k)
            configs = codec.decode(new)
            runner.evaluate(configs, iteration=batch, columns=[{"from_model": model}] * k)
            V = np.vstack([V, codec.encode(configs)])
            batch += 1
        return runner.result(batches=batch)
