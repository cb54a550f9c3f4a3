"""The NumPy / scikit-learn fallback's backend: Hyperband over any scikit-learn estimator, without JAX.

* :class:`SklearnBackend` (here) runs the hbjax scheduler's rung jobs by cross-validating clones
  of an estimator (``train_rung(job) -> losses``, loss = -mean CV score, so lower is better).
* :class:`HyperbandSearchCV` (``search.py``) is the scikit-learn style front end (``fit`` /
  ``best_params_`` / ``cv_results_`` / ``predict``), a drop-in for ``HalvingGridSearchCV``-like use.
* :func:`svc_walkthrough` (``walkthrough.py``) is the reference case: an SVC grid on digits,
  compared with ``HalvingGridSearchCV`` and ``GridSearchCV`` on the same split and CV folds.

All three are importable from ``hbjax.sklearn`` (and ``hbjax``).

The resource
------------
``resource="n_samples"`` (the default, as in ``HalvingGridSearchCV``): the resource is measured in
units of ``n_train / max_resource`` training samples, so ``max_resource`` units (R) are the *whole*
training part of every CV split. A config at resource ``r`` is fit on the first
``ceil(n_train * r / R)`` samples of each split's training part, where the order is one fixed
shuffle per split drawn from ``random_state`` (stratified for classifiers: the first samples hold
one of every class, then the classes interleave in proportion, so even a tiny prefix contains every
class when there are at least as many samples as classes). Prefixes are nested, so a promoted config
sees a superset of its previous data. The test fold is never subsampled: every rung is scored on
the full held-out fold, so scores of different rungs estimate the same quantity.

Any other string names an estimator parameter (``"max_iter"``, ``"n_estimators"``...) that is set
to ``int(round(r))`` (the scheduler runs with ``integer_resource=True`` so every rung is an integer
<= R and the last rung of every bracket is R itself); the fit uses all training samples.

scikit-learn estimators cannot continue training, so every rung refits from scratch
(``SklearnBackend.continues = False``; the resource spent is the sum over rungs).

This module imports no JAX, directly or indirectly.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.multiclass import type_of_target

try:  # scikit-learn >= 1.2.2 propagates its config to the workers
    from sklearn.utils.parallel import Parallel, delayed
except ImportError:  # pragma: no cover - older scikit-learn
    from joblib import Parallel, delayed

from .. import scheduler as sched
from ..results import Result
from ..space import Choice, IntUniform, LogUniform, Space, Uniform

__all__ = ["SklearnBackend", "as_space", "estimator_name", "format_params", "seed_from", "stratified_order"]

_DIMENSIONS = (Uniform, LogUniform, IntUniform, Choice)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def as_space(space) -> Space:
    """An :class:`hbjax.Space` from a Space or a dict ``{param: list of values | dimension}``
    (a scikit-learn param grid; lists become :class:`Choice` dimensions)."""
    if isinstance(space, Space):
        return space
    if not isinstance(space, Mapping):
        raise ValueError(f"space must be an hbjax.Space or a dict of lists (a param grid), got {type(space).__name__}")
    if not space:
        raise ValueError("the search space is empty: give at least one parameter, e.g. {'C': [0.1, 1, 10]}")
    dims = {}
    for name, values in space.items():
        if not isinstance(name, str):
            raise ValueError(f"space keys must be parameter names (str), got {name!r}")
        if isinstance(values, _DIMENSIONS):
            dims[name] = values
            continue
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"space[{name!r}] must be a list of values or an hbjax dimension, got {values!r}")
        values = list(values)
        if not values:
            raise ValueError(f"space[{name!r}] is an empty list: give at least one value")
        try:
            dims[name] = Choice(values)
        except ValueError as err:
            raise ValueError(f"space[{name!r}]: {err}") from err
    return Space(dims)


def stratified_order(indices, labels=None, rng=None) -> np.ndarray:
    """``indices`` in one random order whose every prefix is as class-balanced as possible.

    Without ``labels``: a plain permutation. With labels: after one shuffle, the first sample of
    every class comes first (so a prefix of ``n_classes`` samples holds every class), then class
    ``c``'s ``k``-th sample is placed at key ``(k + 0.5) / n_c``, so any prefix holds each class
    in proportion to its frequency (up to one sample)."""
    rng = np.random.default_rng(rng)
    indices = np.asarray(indices)
    perm = rng.permutation(len(indices))
    idx = indices[perm]
    if labels is None:
        return idx
    labels = np.asarray(labels)[perm]
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse)
    rank = np.zeros(len(idx), dtype=np.int64)
    for c in range(len(counts)):
        where = np.flatnonzero(inverse == c)
        rank[where] = np.arange(len(where))
    key = np.where(rank == 0, -1.0, (rank + 0.5) / counts[inverse])
    return idx[np.lexsort((np.arange(len(idx)), key))]


def _fit_and_score(estimator, X, y, train, test, params, scorer):
    """One CV fold of one config: ``(score, fit_seconds, score_seconds, error or None)``."""
    fit_time = score_time = 0.0
    try:
        est = clone(estimator).set_params(**params)
        X_train, y_train = _safe_split(est, X, y, train)
        X_test, y_test = _safe_split(est, X, y, test, train)
        t0 = time.perf_counter()
        est.fit(X_train, y_train)
        fit_time = time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - like error_score=np.nan: the config loses
        return float("nan"), fit_time, score_time, f"{type(err).__name__}: {err}"
    try:
        t0 = time.perf_counter()
        score = scorer(est, X_test, y_test)
        score_time = time.perf_counter() - t0
        score = float(score)
    except Exception as err:  # noqa: BLE001
        return float("nan"), fit_time, score_time, f"scoring failed: {type(err).__name__}: {err}"
    return score, fit_time, score_time, None


def estimator_name(estimator) -> str:
    return type(estimator).__name__


def format_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v) if isinstance(v, str) else str(v)


def format_params(params: Mapping) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())


def seed_from(random_state) -> int:
    """A non-negative int seed for the scheduler from an sklearn-style ``random_state``."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


# --------------------------------------------------------------------------------------------
# backend
# --------------------------------------------------------------------------------------------
class SklearnBackend:
    """Trains a rung's configs by cross-validating clones of ``estimator`` (see the module doc).

    ``train_rung(job)`` returns ``-mean CV score`` per config (lower is better). A config whose
    fit (or scoring) raises on any fold gets a NaN score, hence a NaN loss (it loses, like
    scikit-learn's ``error_score=np.nan``), with a :class:`FitFailedWarning` naming the config
    and the error. Per-trial details (mean/std/split scores, fit and score times, training-set
    size) are kept in ``records[(config_id, rung)]`` and added to a Result's table by
    :meth:`annotate`.

    ``cache=True``: Hyperband draws every bracket's configs independently, so on a finite grid
    the same config comes back in several brackets at the same resource. Since the CV splits and
    the sample order are fixed, such a repeat would refit exactly the same models, so its
    recorded CV result is reused (``cached=True`` in the table; ``n_fits`` counts real fits).
    An estimator whose fit is random (``random_state=None``) then reuses its first draw.
    """

    continues = False  # scikit-learn estimators retrain from scratch at every rung

    def __init__(
        self,
        estimator,
        X,
        y=None,
        *,
        resource="n_samples",
        max_resource,
        cv=5,
        scoring=None,
        random_state=0,
        n_jobs=None,
        groups=None,
        cache=True,
    ):
        if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
            raise ValueError(f"estimator must be a scikit-learn estimator, got {estimator!r}")
        if not isinstance(resource, str):
            raise ValueError(f"resource must be 'n_samples' or the name of an estimator parameter, got {resource!r}")
        if (
            isinstance(max_resource, bool)
            or not isinstance(max_resource, numbers.Real)
            or not max_resource >= 1
            or not math.isfinite(max_resource)
        ):
            raise ValueError(f"max_resource (R) must be a finite number >= 1, got {max_resource!r}")
        self.estimator = estimator
        self.resource = resource
        self.max_resource = max_resource
        self._valid_params = set(estimator.get_params(deep=True))
        if resource != "n_samples" and resource not in self._valid_params:
            raise ValueError(
                f"resource={resource!r} is neither 'n_samples' nor a parameter of {estimator_name(estimator)} "
                f"(its parameters: {', '.join(sorted(estimator.get_params(deep=False)))})"
            )
        if isinstance(scoring, (list, tuple, set, dict)):
            raise ValueError("multi-metric scoring is not supported: give one scorer name or callable")
        self.X, self.y, self.groups = X, y, groups
        self.scorer = check_scoring(estimator, scoring=scoring)
        self.cv = check_cv(cv, y, classifier=is_classifier(estimator))
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.splits = [(np.asarray(tr), np.asarray(te)) for tr, te in self.cv.split(X, y, groups)]
        if not self.splits:
            raise ValueError("the cross-validator produced no splits")
        self.n_splits = len(self.splits)
        stratify = y is not None and is_classifier(estimator) and type_of_target(y) in ("binary", "multiclass")
        y_arr = np.asarray(y) if stratify else None
        seed_rng = np.random.default_rng(seed_from(random_state))
        # one fixed shuffle per split, drawn once: rungs see nested prefixes of the same order
        self._orders = [stratified_order(tr, None if y_arr is None else y_arr[tr], seed_rng) for tr, _ in self.splits]
        self.records: dict[tuple[int, int], dict] = {}
        self.cache = bool(cache)
        self._cache: dict = {}
        self.n_fits = 0

    # -- the resource ------------------------------------------------------------------------
    def n_train_samples(self, resource) -> list[int]:
        """Training samples per CV split at ``resource``: ``ceil(n_train * r / R)`` (1..n_train)."""
        out = []
        for order in self._orders:
            n = len(order)
            m = math.ceil(n * float(resource) / float(self.max_resource) - 1e-9)
            out.append(int(min(n, max(1, m))))
        return out

    def resource_value(self, resource):
        """What the estimator gets: the parameter value ``int(round(r))`` (parameter resource)."""
        return max(1, int(round(float(resource))))

    def _fold_splits(self, resource):
        if self.resource != "n_samples":
            return self.splits
        sizes = self.n_train_samples(resource)
        return [(np.sort(order[:m]), test) for order, m, (_, test) in zip(self._orders, sizes, self.splits)]

    # -- validation --------------------------------------------------------------------------
    def validate_space(self, space) -> None:
        """Raise a ValueError naming any space parameter the estimator does not have."""
        names = as_space(space).names if not isinstance(space, (list, tuple)) else tuple(space)
        self._check_names(names)

    def _check_names(self, names) -> None:
        unknown = [n for n in names if n not in self._valid_params]
        if unknown:
            est = estimator_name(self.estimator)
            raise ValueError(
                f"parameter {unknown[0]!r} is not a parameter of {est}"
                + (f" (nor are {unknown[1:]})" if len(unknown) > 1 else "")
                + f"; {est} has: {', '.join(sorted(self.estimator.get_params(deep=False)))}"
            )
        if self.resource != "n_samples" and self.resource in names:
            raise ValueError(
                f"{self.resource!r} is the resource (set by Hyperband at every rung); remove it from the space"
            )

    # -- training ----------------------------------------------------------------------------
    def train_rung(self, job: sched.RungJob) -> np.ndarray:
        names = {k for c in job.configs for k in c}
        self._check_names(sorted(names))  # before fitting anything
        splits = self._fold_splits(job.resource)
        extra = {} if self.resource == "n_samples" else {self.resource: self.resource_value(job.resource)}
        params = [dict(c, **extra) for c in job.configs]
        keys = [self._cache_key(p, job.resource) for p in params]
        todo, seen = [], set()  # with the cache: one evaluation per distinct (params, resource)
        for j, key in enumerate(keys):
            if self.cache and (key in self._cache or key in seen):
                continue
            seen.add(key)
            todo.append(j)
        n_f = len(splits)
        out = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_and_score)(self.estimator, self.X, self.y, splits[f][0], splits[f][1], params[j], self.scorer)
            for j in todo
            for f in range(n_f)
        )
        self.n_fits += len(out)
        fresh = {}
        for t, j in enumerate(todo):
            fresh[j] = self._summarise(out[t * n_f : (t + 1) * n_f], splits)
            if self.cache:
                self._cache[keys[j]] = fresh[j]
        losses = np.empty(len(params))
        for j, (cid, config) in enumerate(zip(job.config_ids, job.configs)):
            record = dict(fresh[j] if j in fresh else self._cache[keys[j]], cached=j not in fresh)
            if self.resource != "n_samples":
                record[self.resource] = extra[self.resource]
            self.records[(cid, job.rung)] = record
            if record["error"]:
                warnings.warn(
                    f"config {cid} ({format_params(config)}) of {estimator_name(self.estimator)} failed on "
                    f"{record['n_failed']}/{n_f} CV folds at resource {job.resource:g}: {record['error']} -- its "
                    f"score is NaN, so it loses (as with error_score=np.nan)",
                    FitFailedWarning,
                    stacklevel=2,
                )
            losses[j] = -record["mean_test_score"]
        return losses

    @staticmethod
    def _cache_key(params: Mapping, resource):
        return tuple((k, type(v).__name__, repr(v)) for k, v in sorted(params.items())), float(resource)

    @staticmethod
    def _summarise(rows, splits) -> dict:
        scores = np.array([r[0] for r in rows], dtype=np.float64)
        fit_t = np.array([r[1] for r in rows])
        score_t = np.array([r[2] for r in rows])
        errors = [r[3] for r in rows if r[3] is not None]
        mean = float(np.mean(scores)) if np.all(np.isfinite(scores)) else float("nan")
        return {
            "mean_test_score": mean,
            "std_test_score": float(np.std(scores)) if math.isfinite(mean) else float("nan"),
            "split_test_scores": [float(s) for s in scores],
            "mean_fit_time": float(np.mean(fit_t)),
            "std_fit_time": float(np.std(fit_t)),
            "mean_score_time": float(np.mean(score_t)),
            "std_score_time": float(np.std(score_t)),
            "n_samples": int(round(float(np.mean([len(tr) for tr, _ in splits])))),
            "error": errors[0] if errors else None,
            "n_failed": len(errors),
        }

    # -- results -----------------------------------------------------------------------------
    def annotate(self, result: Result) -> Result:
        """Add the recorded CV details (mean/std test score, fit time, samples...) to the table."""
        for row in result.trials.rows:
            rec = self.records.get((row["config_id"], row["rung"]))
            if rec is None:
                continue
            row.update({k: v for k, v in rec.items() if k not in ("split_test_scores", "error", "n_failed")})
            row["error"] = rec["error"] or ""
        return result
