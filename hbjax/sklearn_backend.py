"""The NumPy / scikit-learn fallback: Hyperband over any scikit-learn estimator, without JAX.

* :class:`SklearnBackend` runs the hbjax scheduler's rung jobs by cross-validating clones of an
  estimator (``train_rung(job) -> losses``, loss = -mean CV score, so lower is better).
* :class:`HyperbandSearchCV` is the scikit-learn style front end (``fit`` / ``best_params_`` /
  ``cv_results_`` / ``predict``), a drop-in for ``HalvingGridSearchCV``-like use.
* :func:`svc_walkthrough` is the reference case: an SVC grid on digits, compared with
  ``HalvingGridSearchCV`` and ``GridSearchCV`` on the same split and CV folds.

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

import contextlib
import copy
import math
import numbers
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import _safe_split, available_if
from sklearn.utils.multiclass import type_of_target

try:  # scikit-learn >= 1.2.2 propagates its config to the workers
    from sklearn.utils.parallel import Parallel, delayed
except ImportError:  # pragma: no cover - older scikit-learn
    from joblib import Parallel, delayed

from . import scheduler as sched
from .brackets import format_plan, validate_resource_and_eta
from .hyperband import run_scheduler
from .results import Result
from .space import Choice, IntUniform, LogUniform, Space, Uniform

__all__ = ["SklearnBackend", "HyperbandSearchCV", "svc_walkthrough", "as_space", "stratified_order"]

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
        raise ValueError(
            f"space must be an hbjax.Space or a dict of lists (a param grid), got {type(space).__name__}"
        )
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
            raise ValueError(
                f"space[{name!r}] must be a list of values or an hbjax dimension, got {values!r}"
            )
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


def _estimator_name(estimator) -> str:
    return type(estimator).__name__


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v) if isinstance(v, str) else str(v)


def _fmt_params(params: Mapping) -> str:
    return ", ".join(f"{k}={_fmt_value(v)}" for k, v in params.items())


def _seed_from(random_state) -> int:
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

    def __init__(self, estimator, X, y=None, *, resource="n_samples", max_resource, cv=5, scoring=None,
                 random_state=0, n_jobs=None, groups=None, cache=True):
        if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
            raise ValueError(f"estimator must be a scikit-learn estimator, got {estimator!r}")
        if not isinstance(resource, str):
            raise ValueError(f"resource must be 'n_samples' or the name of an estimator parameter, got {resource!r}")
        if isinstance(max_resource, bool) or not isinstance(max_resource, numbers.Real) or not max_resource >= 1 \
                or not math.isfinite(max_resource):
            raise ValueError(f"max_resource (R) must be a finite number >= 1, got {max_resource!r}")
        self.estimator = estimator
        self.resource = resource
        self.max_resource = max_resource
        self._valid_params = set(estimator.get_params(deep=True))
        if resource != "n_samples" and resource not in self._valid_params:
            raise ValueError(
                f"resource={resource!r} is neither 'n_samples' nor a parameter of {_estimator_name(estimator)} "
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
        stratify = (
            y is not None and is_classifier(estimator)
            and type_of_target(y) in ("binary", "multiclass")
        )
        y_arr = np.asarray(y) if stratify else None
        seed_rng = np.random.default_rng(_seed_from(random_state))
        # one fixed shuffle per split, drawn once: rungs see nested prefixes of the same order
        self._orders = [
            stratified_order(tr, None if y_arr is None else y_arr[tr], seed_rng) for tr, _ in self.splits
        ]
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
            est = _estimator_name(self.estimator)
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
            for j in todo for f in range(n_f)
        )
        self.n_fits += len(out)
        fresh = {}
        for t, j in enumerate(todo):
            fresh[j] = self._summarise(out[t * n_f:(t + 1) * n_f], splits)
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
                    f"config {cid} ({_fmt_params(config)}) of {_estimator_name(self.estimator)} failed on "
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


# --------------------------------------------------------------------------------------------
# the scikit-learn style front end
# --------------------------------------------------------------------------------------------
def _estimator_has(attr):
    def check(self):
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class HyperbandSearchCV(BaseEstimator):
    """Hyperband (Li et al. 2018) over a scikit-learn estimator, scikit-learn style.

    ``space`` is an :class:`hbjax.Space` or a dict of lists (a param grid; each list becomes a
    ``Choice``). A finite grid smaller than a bracket is sampled without replacement and the
    bracket shrunk (the scheduler warns). ``resource`` and ``max_resource``: see the module doc
    (by default R=81 units of ``n_train/81`` training samples, i.e. R = the full training part of
    each CV split). ``random_state`` seeds both the configs drawn and the sample order.

    After ``fit``:

    * ``best_params_``, ``best_score_`` (mean CV score), ``best_index_`` (row of ``cv_results_``):
      the best score among the configs evaluated at the **largest resource reached** (R). Scores
      at lower resources come from models fit on a fraction of the data (or of the iterations),
      so they are systematically lower and noisier, and not comparable with full-resource scores;
      picking the best over all rungs would reward a lucky small subsample. Falls back to the best
      finite score overall if nothing at the largest resource has one.
    * ``cv_results_``: a dict of equal-length columns (``pandas.DataFrame(search.cv_results_)``),
      one row per config per rung, in the order they ran: ``config_id, iteration, bracket, rung,
      resource, n_samples`` (mean training samples per split; plus the parameter column, e.g.
      ``max_iter``, for a parameter resource), ``mean_test_score, std_test_score,
      split<k>_test_score, mean_fit_time, std_fit_time, mean_score_time, std_score_time,
      promoted, cached, params, param_<name>`` (``cached``: a repeat of the same config at the
      same resource in another bracket, whose CV result was reused -- see :class:`SklearnBackend`).
    * ``best_estimator_`` (refit on all X, y at the full resource, if ``refit``), ``refit_time_``,
      ``n_resources_`` (sorted distinct training-set sizes, or parameter values, used),
      ``result_`` (the hbjax :class:`Result`, its table annotated with the CV scores),
      ``scorer_``, ``n_splits_``, ``plan_``, ``n_fits_``.
    """

    def __init__(self, estimator, space, *, max_resource=81, eta=3, resource="n_samples", cv=5, scoring=None,
                 random_state=None, hyperband_iterations=1, refit=True, n_jobs=None, verbose=0):
        self.estimator = estimator
        self.space = space
        self.max_resource = max_resource
        self.eta = eta
        self.resource = resource
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.hyperband_iterations = hyperband_iterations
        self.refit = refit
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- tags: behave like the wrapped estimator (classifier / regressor) ---------------------
    @property
    def _estimator_type(self):  # scikit-learn < 1.6
        return getattr(self.estimator, "_estimator_type", None)

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    # -- fit ---------------------------------------------------------------------------------
    def _validate(self):
        validate_resource_and_eta(self.max_resource, self.eta)
        if not isinstance(self.resource, str):
            raise ValueError(f"resource must be 'n_samples' or an estimator parameter name, got {self.resource!r}")
        integer = self.resource != "n_samples"
        if integer and not float(self.max_resource).is_integer():
            raise ValueError(
                f"max_resource must be an integer when the resource is the parameter {self.resource!r}, "
                f"got {self.max_resource!r}"
            )
        it = self.hyperband_iterations
        if isinstance(it, bool) or not isinstance(it, numbers.Integral) or it < 1:
            raise ValueError(f"hyperband_iterations must be a positive integer, got {it!r}")
        return as_space(self.space), integer

    def fit(self, X, y=None, *, groups=None, callbacks=(), log=None):
        """Run Hyperband on ``X, y``. ``callbacks``: ``cb(job, losses, state, seconds)`` after each
        rung; ``log``: where ``verbose`` lines go (default ``print``)."""
        space, integer = self._validate()
        seed = _seed_from(self.random_state)
        backend = SklearnBackend(
            self.estimator, X, y, resource=self.resource, max_resource=self.max_resource, cv=self.cv,
            scoring=self.scoring, random_state=seed, n_jobs=self.n_jobs, groups=groups,
        )
        backend.validate_space(space)
        state = sched.hyperband(space, self.max_resource, self.eta, seed=seed, iterations=self.hyperband_iterations,
                                integer_resource=integer)
        log = log or print
        callbacks = list(callbacks)
        if self.verbose:
            log(self._describe_plan(state, backend))
            callbacks.insert(0, _RungLogger(backend, log, detail=self.verbose >= 2))
        result = run_scheduler(state, backend, callbacks=callbacks)
        backend.annotate(result)

        self.plan_ = state.plan
        self.result_ = result
        self.scorer_ = backend.scorer
        self.n_splits_ = backend.n_splits
        self.n_fits_ = backend.n_fits
        self.multimetric_ = False
        self.cv_results_ = self._cv_results(result, backend, space, integer)
        self.best_index_ = self._best_index(self.cv_results_, backend)
        self.best_params_ = dict(self.cv_results_["params"][self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.best_resource_ = self.cv_results_["resource"][self.best_index_].item()
        key = "n_samples" if self.resource == "n_samples" else self.resource
        self.n_resources_ = sorted({v.item() for v in self.cv_results_[key]})
        self.n_candidates_ = len(result.state.configs)
        self._warn_nonfinite(backend)
        if self.refit:
            est = clone(self.estimator).set_params(**self.best_params_)
            if integer:
                est.set_params(**{self.resource: int(self.max_resource)})
            t0 = time.perf_counter()
            est.fit(X, y) if y is not None else est.fit(X)
            self.refit_time_ = time.perf_counter() - t0
            self.best_estimator_ = est
            if hasattr(est, "n_features_in_"):
                self.n_features_in_ = est.n_features_in_
            if hasattr(est, "feature_names_in_"):
                self.feature_names_in_ = est.feature_names_in_
        return self

    def _describe_plan(self, state, backend) -> str:
        if self.resource == "n_samples":
            unit = (f"resource unit = 1/{self.max_resource:g} of the training part of each of the "
                    f"{backend.n_splits} CV splits (R = {self.max_resource:g} = all "
                    f"{max(backend.n_train_samples(self.max_resource))} samples)")
        else:
            unit = f"resource = {self.resource} (R = {int(self.max_resource)})"
        return (f"Hyperband R={self.max_resource:g} eta={self.eta} iterations={self.hyperband_iterations}, {unit}\n"
                f"{format_plan(state.plan)}")

    def _cv_results(self, result: Result, backend: SklearnBackend, space: Space, integer: bool) -> dict:
        history = result.state.history
        configs = result.state.configs
        recs = [backend.records[(o.config_id, o.rung)] for o in history]
        n = len(history)
        out = {
            "config_id": np.array([o.config_id for o in history], dtype=np.int64),
            "iteration": np.array([o.iteration for o in history], dtype=np.int64),
            "bracket": np.array([o.bracket for o in history], dtype=np.int64),
            "rung": np.array([o.rung for o in history], dtype=np.int64),
            "resource": np.array([int(o.resource) if integer else o.resource for o in history],
                                 dtype=np.int64 if integer else np.float64),
            "n_samples": np.array([r["n_samples"] for r in recs], dtype=np.int64),
        }
        if self.resource != "n_samples":
            out[self.resource] = np.array([r[self.resource] for r in recs], dtype=np.int64)
        out["mean_test_score"] = np.array([r["mean_test_score"] for r in recs], dtype=np.float64)
        out["std_test_score"] = np.array([r["std_test_score"] for r in recs], dtype=np.float64)
        for k in range(backend.n_splits):
            out[f"split{k}_test_score"] = np.array([r["split_test_scores"][k] for r in recs], dtype=np.float64)
        for name in ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"):
            out[name] = np.array([r[name] for r in recs], dtype=np.float64)
        out["promoted"] = np.array([o.promoted for o in history], dtype=bool)
        out["cached"] = np.array([r["cached"] for r in recs], dtype=bool)
        out["params"] = [dict(configs[o.config_id]) for o in history]
        for name in space.names:
            col = np.empty(n, dtype=object)
            col[:] = [configs[o.config_id][name] for o in history]
            out[f"param_{name}"] = col
        return out

    @staticmethod
    def _best_index(cv_results: dict, backend: SklearnBackend) -> int:
        scores = cv_results["mean_test_score"]
        resource = cv_results["resource"].astype(np.float64)
        finite = np.isfinite(scores)
        if not finite.any():
            errors = [r["error"] for r in backend.records.values() if r["error"]]
            raise ValueError(
                f"all {len(scores)} evaluations of {_estimator_name(backend.estimator)} failed or scored NaN"
                + (f"; first error: {errors[0]}" if errors else "")
            )
        candidates = finite & (resource == resource.max())
        if not candidates.any():  # nothing finite at the largest resource: the overall best
            candidates = finite
        masked = np.where(candidates, scores, -np.inf)
        return int(np.argmax(masked))  # ties: the first row (earliest evaluated)

    def _warn_nonfinite(self, backend):
        bad = [k for k, r in backend.records.items() if not math.isfinite(r["mean_test_score"]) and not r["error"]]
        if bad:
            warnings.warn(
                f"{len(bad)} of {len(backend.records)} evaluations have a non-finite test score "
                f"(configs {sorted({k[0] for k in bad})}); they count as losses and are never promoted",
                UserWarning,
                stacklevel=3,
            )

    # -- delegation to best_estimator_ ------------------------------------------------------
    def _check_refit(self, method: str):
        if not hasattr(self, "cv_results_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call fit first.")
        if not self.refit:
            raise AttributeError(
                f"This {type(self).__name__} was initialized with refit=False; {method} is available only "
                f"after refitting on the best parameters (refit=True)."
            )

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        self._check_refit("predict")
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        self._check_refit("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        self._check_refit("predict_log_proba")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        self._check_refit("decision_function")
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        self._check_refit("transform")
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X):
        self._check_refit("inverse_transform")
        return self.best_estimator_.inverse_transform(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X):
        self._check_refit("score_samples")
        return self.best_estimator_.score_samples(X)

    def score(self, X, y=None):
        """The ``scoring`` metric (default: the estimator's ``score``) of ``best_estimator_``."""
        self._check_refit("score")
        return float(self.scorer_(self.best_estimator_, X, y))

    @property
    def classes_(self):
        self._check_refit("classes_")
        return self.best_estimator_.classes_


class _RungLogger:
    """A run_scheduler callback: one line per rung, and (detail) one per survivor."""

    def __init__(self, backend: SklearnBackend, log, *, detail: bool = True):
        self.backend, self.log, self.detail = backend, log, detail

    def __call__(self, job, losses, state, seconds):
        b = self.backend
        if b.resource == "n_samples":
            size = f"{int(np.mean(b.n_train_samples(job.resource)))} samples/fold"
        else:
            size = f"{b.resource}={b.resource_value(job.resource)}"
        obs = state.history[-len(job.config_ids):]
        failed = sum(1 for o in obs if not math.isfinite(o.loss))
        self.log(
            f"iteration {job.iteration} bracket s={job.bracket} rung {job.rung}: {len(job.config_ids)} configs "
            f"x r={job.resource:g} ({size}), {seconds:.2f} s" + (f", {failed} failed" if failed else "")
        )
        if not self.detail:
            return
        if job.is_last_rung:
            finite = [o for o in obs if math.isfinite(o.loss)]
            keep = [min(finite, key=lambda o: (o.loss, o.config_id))] if finite else []
            label = "bracket best"
        else:
            keep = sorted((o for o in obs if o.promoted), key=lambda o: (o.loss, o.config_id))
            label = "promoted"
        if not keep:
            self.log("    no survivor: every config failed")
        for o in keep:
            rec = b.records[(o.config_id, o.rung)]
            self.log(
                f"    {label} #{o.config_id}: {_fmt_params(state.configs[o.config_id])} -> "
                f"score {rec['mean_test_score']:.4f} +- {rec['std_test_score']:.4f}"
            )


# --------------------------------------------------------------------------------------------
# the reference walkthrough
# --------------------------------------------------------------------------------------------
SVC_GRID = {"C": [0.1, 1, 10, 100], "gamma": ["scale", "auto", 0.1, 1, 10]}


@contextlib.contextmanager
def _warnings_to(log):
    """Turn warnings raised inside the block into log lines (in order) instead of stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, *args, **kwargs: log(
            f"note ({category.__name__}): {message}"
        )
        yield


def _walkthrough_data(dataset: str):
    from sklearn import datasets

    if dataset == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16.0, y, "pixel intensities 0..16 scaled to 0..1 (a fixed constant, no fitted scaler)"
    if dataset == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
        return X, y, "features standardised with the training split's mean and std"
    raise ValueError(f"dataset must be 'digits' or 'breast_cancer', got {dataset!r}")


def svc_walkthrough(*, dataset="digits", max_resource=81, eta=3, seed=0, cv=3, out_csv=None, log=print) -> dict:
    """The reference case: SVC over C x gamma (20 grid points) with Hyperband (resource =
    training samples, R = the full training part), next to HalvingGridSearchCV(factor=eta) and
    GridSearchCV on the same 75/25 stratified split and the same CV.

    Logs the plan, every rung's survivors and the winner through ``log``; writes the Hyperband
    trials table to ``out_csv`` if given. Returns a flat dict: ``dataset, n_train, n_test, n_grid,
    cv`` and for each of ``hyperband``, ``halving``, ``grid``: ``<m>_best_params, <m>_best_score``
    (mean CV accuracy), ``<m>_test_score`` (held-out accuracy), ``<m>_seconds, <m>_n_fits``; plus
    ``hyperband_n_configs`` and ``csv`` (the path written, or None)."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, train_test_split
    from sklearn.svm import SVC

    X, y, prep = _walkthrough_data(dataset)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    if dataset == "breast_cancer":
        mu, sd = X_train.mean(axis=0), X_train.std(axis=0) + 1e-12
        X_train, X_test = (X_train - mu) / sd, (X_test - mu) / sd
    grid = {k: list(v) for k, v in SVC_GRID.items()}
    n_grid = math.prod(len(v) for v in grid.values())
    log(f"dataset {dataset}: {len(X_train)} training / {len(X_test)} test samples (25% stratified hold-out, "
        f"seed {seed}), {X.shape[1]} features; {prep}")
    log(f"SVC grid: {_fmt_params(grid)} ({n_grid} points); cv={cv}, scoring=accuracy")

    out: dict = {"dataset": dataset, "n_train": len(X_train), "n_test": len(X_test), "n_grid": n_grid, "cv": cv}

    # Hyperband -------------------------------------------------------------------------------
    log("")
    log("== Hyperband (hbjax) ==")
    search = HyperbandSearchCV(SVC(), grid, max_resource=max_resource, eta=eta, resource="n_samples", cv=cv,
                               random_state=seed, verbose=2)
    t0 = time.perf_counter()
    with _warnings_to(log):
        search.fit(X_train, y_train, log=log)
    hb_seconds = time.perf_counter() - t0
    hb_test = float(search.score(X_test, y_test))
    best = search.best_index_
    log(f"winner #{search.cv_results_['config_id'][best]}: {_fmt_params(search.best_params_)} -> CV accuracy "
        f"{search.best_score_:.4f} +- {search.cv_results_['std_test_score'][best]:.4f} at r={search.best_resource_:g} "
        f"({search.cv_results_['n_samples'][best]} samples/fold); {search.n_candidates_} configs sampled, "
        f"{search.n_fits_} fits, {hb_seconds:.2f} s")
    log(f"winner's test accuracy: {hb_test:.4f}")
    out.update(hyperband_best_params=dict(search.best_params_), hyperband_best_score=float(search.best_score_),
               hyperband_test_score=hb_test, hyperband_seconds=hb_seconds, hyperband_n_fits=search.n_fits_,
               hyperband_n_configs=search.n_candidates_)

    # HalvingGridSearchCV -----------------------------------------------------------------------
    log("")
    log(f"== scikit-learn HalvingGridSearchCV(factor={eta}, resource='n_samples') ==")
    halving = HalvingGridSearchCV(SVC(), grid, factor=eta, resource="n_samples", cv=cv, random_state=seed)
    t0 = time.perf_counter()
    with _warnings_to(log):
        halving.fit(X_train, y_train)
    hv_seconds = time.perf_counter() - t0
    hv_test = float(halving.score(X_test, y_test))
    hv_fits = len(halving.cv_results_["params"]) * halving.n_splits_
    log(f"iterations: candidates {list(map(int, halving.n_candidates_))} at n_samples "
        f"{list(map(int, halving.n_resources_))}")
    log(f"best: {_fmt_params(halving.best_params_)} -> CV accuracy {halving.best_score_:.4f}; test accuracy "
        f"{hv_test:.4f}; {hv_fits} fits, {hv_seconds:.2f} s")
    out.update(halving_best_params=dict(halving.best_params_), halving_best_score=float(halving.best_score_),
               halving_test_score=hv_test, halving_seconds=hv_seconds, halving_n_fits=hv_fits)

    # GridSearchCV ------------------------------------------------------------------------------
    log("")
    log("== scikit-learn GridSearchCV (every point on all training samples) ==")
    full = GridSearchCV(SVC(), grid, cv=cv)
    t0 = time.perf_counter()
    with _warnings_to(log):
        full.fit(X_train, y_train)
    gs_seconds = time.perf_counter() - t0
    gs_test = float(full.score(X_test, y_test))
    gs_fits = len(full.cv_results_["params"]) * full.n_splits_
    log(f"best: {_fmt_params(full.best_params_)} -> CV accuracy {full.best_score_:.4f}; test accuracy "
        f"{gs_test:.4f}; {gs_fits} fits, {gs_seconds:.2f} s")
    out.update(grid_best_params=dict(full.best_params_), grid_best_score=float(full.best_score_),
               grid_test_score=gs_test, grid_seconds=gs_seconds, grid_n_fits=gs_fits)

    # summary ------------------------------------------------------------------------------------
    log("")
    log(f"{'method':<22}{'CV acc':>8}{'test acc':>10}{'fits':>7}{'seconds':>9}  best params")
    for label, key in (("Hyperband (hbjax)", "hyperband"), ("HalvingGridSearchCV", "halving"),
                       ("GridSearchCV", "grid")):
        log(f"{label:<22}{out[key + '_best_score']:>8.4f}{out[key + '_test_score']:>10.4f}"
            f"{out[key + '_n_fits']:>7}{out[key + '_seconds']:>9.2f}  {_fmt_params(out[key + '_best_params'])}")

    out["csv"] = None
    if out_csv is not None:
        path = Path(out_csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        search.result_.trials.to_csv(path)
        out["csv"] = str(path)
        log(f"Hyperband trials written to {path}")
    return out
