"""``HyperbandSearchCV``: Hyperband over a scikit-learn estimator, scikit-learn style (``fit`` /
``best_params_`` / ``cv_results_`` / ``predict``), on ``SklearnBackend`` (see its module for the
resource and how configs are cross-validated). Imports no JAX."""

from __future__ import annotations

import copy
import math
import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if

from .. import scheduler as sched
from ..brackets import format_plan, validate_resource_and_eta
from ..hyperband import run_scheduler
from ..results import Result
from ..space import Space
from .cv import SklearnBackend, as_space, estimator_name, format_params, seed_from

__all__ = ["HyperbandSearchCV", "RungLogger"]


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

    def __init__(
        self,
        estimator,
        space,
        *,
        max_resource=81,
        eta=3,
        resource="n_samples",
        cv=5,
        scoring=None,
        random_state=None,
        hyperband_iterations=1,
        refit=True,
        n_jobs=None,
        verbose=0,
    ):
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
        seed = seed_from(self.random_state)
        backend = SklearnBackend(
            self.estimator,
            X,
            y,
            resource=self.resource,
            max_resource=self.max_resource,
            cv=self.cv,
            scoring=self.scoring,
            random_state=seed,
            n_jobs=self.n_jobs,
            groups=groups,
        )
        backend.validate_space(space)
        state = sched.hyperband(
            space,
            self.max_resource,
            self.eta,
            seed=seed,
            iterations=self.hyperband_iterations,
            integer_resource=integer,
        )
        log = log or print
        callbacks = list(callbacks)
        if self.verbose:
            log(self._describe_plan(state, backend))
            callbacks.insert(0, RungLogger(backend, log, detail=self.verbose >= 2))
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
            unit = (
                f"resource unit = 1/{self.max_resource:g} of the training part of each of the "
                f"{backend.n_splits} CV splits (R = {self.max_resource:g} = all "
                f"{max(backend.n_train_samples(self.max_resource))} samples)"
            )
        else:
            unit = f"resource = {self.resource} (R = {int(self.max_resource)})"
        return (
            f"Hyperband R={self.max_resource:g} eta={self.eta} iterations={self.hyperband_iterations}, {unit}\n"
            f"{format_plan(state.plan)}"
        )

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
            "resource": np.array(
                [int(o.resource) if integer else o.resource for o in history], dtype=np.int64 if integer else np.float64
            ),
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
                f"all {len(scores)} evaluations of {estimator_name(backend.estimator)} failed or scored NaN"
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


class RungLogger:
    """A run_scheduler callback: one line per rung, and (detail) one per survivor."""

    def __init__(self, backend: SklearnBackend, log, *, detail: bool = True):
        self.backend, self.log, self.detail = backend, log, detail

    def __call__(self, job, losses, state, seconds):
        b = self.backend
        if b.resource == "n_samples":
            size = f"{int(np.mean(b.n_train_samples(job.resource)))} samples/fold"
        else:
            size = f"{b.resource}={b.resource_value(job.resource)}"
        obs = state.history[-len(job.config_ids) :]
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
                f"    {label} #{o.config_id}: {format_params(state.configs[o.config_id])} -> "
                f"score {rec['mean_test_score']:.4f} +- {rec['std_test_score']:.4f}"
            )
