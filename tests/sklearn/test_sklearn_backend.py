"""The scikit-learn fallback: SklearnBackend, HyperbandSearchCV and the SVC walkthrough."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

import hbjax
from hbjax import Choice, LogUniform, Space
from hbjax.sklearn import HyperbandSearchCV, SklearnBackend, stratified_order, svc_walkthrough

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_data():
    X, y = make_classification(n_samples=150, n_features=8, n_informative=5, n_classes=3, random_state=0)
    return X, y


def _quiet(search, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bracket shrinking on tiny grids
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y, **kw)


# ---------------------------------------------------------------------------------------------
# the reference walkthrough
# ---------------------------------------------------------------------------------------------
def test_svc_walkthrough_digits_matches_sklearn_searches(tmp_path, recwarn):
    lines = []
    out = svc_walkthrough(
        dataset="digits", max_resource=81, eta=3, seed=0, cv=3, out_csv=tmp_path / "trials.csv", log=lines.append
    )
    # Tolerance 0.02 (about 9 of 449 validation digits per fold): Hyperband evaluates only part
    # of the grid at the full resource (configs are screened on 1/81..1/3 of the data), so it may
    # pick a slightly different near-optimal config than the exhaustive GridSearchCV, and
    # HalvingGridSearchCV's last round uses its own subsampled folds. On digits the top of the grid
    # is flat (several C/gamma pairs within ~0.005), so a real scheduling bug (wrong promotion,
    # best taken from a tiny subsample, NaN winning) shows up as a gap far above 0.02.
    assert abs(out["hyperband_best_score"] - out["halving_best_score"]) <= 0.02
    assert abs(out["hyperband_best_score"] - out["grid_best_score"]) <= 0.02
    assert out["hyperband_test_score"] > 0.95
    assert out["grid_n_fits"] == 20 * 3
    for key in ("hyperband", "halving", "grid"):
        assert set(out[f"{key}_best_params"]) == {"C", "gamma"}
        assert out[f"{key}_seconds"] > 0
    assert out["n_train"] + out["n_test"] == 1797
    # the log: plan, rungs, winner, comparison -- and the shrink warnings as lines, not warnings
    text = "\n".join(lines)
    assert "bracket s=4" in text and "rung 0" in text and "winner" in text
    assert "test accuracy" in text and "HalvingGridSearchCV" in text and "GridSearchCV" in text
    assert any("shrinking the bracket" in line for line in lines)
    assert not [w for w in recwarn if "shrinking" in str(w.message)]
    table = pd.read_csv(out["csv"])
    assert {"config_id", "rung", "resource", "loss", "mean_test_score", "n_samples", "C", "gamma"} <= set(table.columns)
    assert np.allclose(table["loss"], -table["mean_test_score"])
    assert table["n_samples"].max() == math.ceil(out["n_train"] * 2 / 3)  # 3-fold training part


# ---------------------------------------------------------------------------------------------
# scikit-learn conventions
# ---------------------------------------------------------------------------------------------
def test_clone_and_get_params_round_trip():
    for space in ({"C": [0.1, 1.0], "kernel": ["rbf", "linear"]}, Space(C=LogUniform(1e-2, 1e2))):
        search = HyperbandSearchCV(SVC(), space, max_resource=27, eta=3, cv=3, random_state=1, verbose=0)
        params = search.get_params(deep=False)
        again = HyperbandSearchCV(**params).get_params(deep=False)
        assert again.keys() == params.keys()
        assert all(again[k] is params[k] for k in params)
        cloned = clone(search)
        assert cloned is not search
        cp = cloned.get_params(deep=False)
        assert cp.keys() == params.keys()
        assert cp["space"] == space and cp["space"] is not space
        assert cp["estimator"].get_params() == SVC().get_params()
        assert {k: cp[k] for k in params if k not in ("space", "estimator")} == {
            k: params[k] for k in params if k not in ("space", "estimator")
        }
    assert "estimator__C" in search.get_params(deep=True)
    search.set_params(eta=2, estimator__C=5.0)
    assert search.eta == 2 and search.estimator.C == 5.0
    assert is_classifier(HyperbandSearchCV(SVC(), {"C": [1]}))


def test_clone_of_fitted_search_is_unfitted(small_data):
    X, y = small_data
    search = _quiet(HyperbandSearchCV(SVC(), {"C": [0.1, 1.0, 10.0]}, max_resource=9, cv=3, random_state=0), X, y)
    assert hasattr(search, "best_params_")
    assert not hasattr(clone(search), "best_params_")


def test_lazy_export_from_package():
    assert hbjax.HyperbandSearchCV is HyperbandSearchCV
    assert hbjax.SklearnBackend is SklearnBackend


def test_fit_results_delegation_and_table(small_data):
    X, y = small_data
    search = _quiet(
        HyperbandSearchCV(
            SVC(), {"C": [0.1, 1.0, 10.0], "gamma": ["scale", 0.01]}, max_resource=9, eta=3, cv=3, random_state=0
        ),
        X,
        y,
    )
    res = search.cv_results_
    n = len(res["params"])
    assert all(len(v) == n for v in res.values())
    frame = pd.DataFrame(res)
    for col in (
        "config_id",
        "iteration",
        "bracket",
        "rung",
        "resource",
        "n_samples",
        "mean_test_score",
        "std_test_score",
        "split0_test_score",
        "split2_test_score",
        "mean_fit_time",
        "promoted",
        "params",
        "param_C",
        "param_gamma",
    ):
        assert col in frame.columns
    assert search.n_splits_ == 3
    # best = best score at the largest resource reached (R)
    at_r = frame[frame["resource"] == 9]
    assert search.best_score_ == pytest.approx(at_r["mean_test_score"].max())
    assert res["resource"][search.best_index_] == 9
    assert search.best_params_ == res["params"][search.best_index_]
    assert search.n_resources_ == sorted(set(frame["n_samples"]))
    assert search.n_resources_[-1] == 100  # 3-fold training part of 150
    # delegation to best_estimator_, refit on all data
    assert search.best_estimator_.get_params()["C"] == search.best_params_["C"]
    assert len(search.best_estimator_.support_) > 0
    pred = search.predict(X)
    assert pred.shape == (150,)
    assert search.score(X, y) == pytest.approx(accuracy_score(y, pred))
    assert search.decision_function(X).shape[0] == 150
    assert list(search.classes_) == [0, 1, 2]
    assert not hasattr(search, "predict_proba")  # SVC(probability=False) has none
    # the hbjax Result's table is annotated with the CV scores
    table = search.result_.to_frame()
    assert np.allclose(table["loss"], -table["mean_test_score"])
    assert len(table) == n


def test_refit_false_has_no_best_estimator(small_data):
    X, y = small_data
    search = _quiet(
        HyperbandSearchCV(SVC(), {"C": [0.1, 1.0]}, max_resource=3, cv=3, random_state=0, refit=False), X, y
    )
    assert not hasattr(search, "best_estimator_")
    assert search.best_params_["C"] in (0.1, 1.0)
    with pytest.raises(AttributeError, match="refit=False"):
        search.predict(X)


def test_verbose_logs_plan_and_rungs(small_data):
    X, y = small_data
    lines = []
    _quiet(
        HyperbandSearchCV(SVC(), {"C": [0.1, 1.0, 10.0]}, max_resource=9, cv=3, random_state=0, verbose=2),
        X,
        y,
        log=lines.append,
    )
    text = "\n".join(lines)
    assert "Hyperband R=9 eta=3" in text
    assert "bracket s=2" in text and "promoted #" in text and "bracket best #" in text


# ---------------------------------------------------------------------------------------------
# the resource
# ---------------------------------------------------------------------------------------------
MAX_ITERS: list[int] = []


class RecordingLogisticRegression(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        MAX_ITERS.append(self.max_iter)
        return super().fit(X, y, sample_weight=sample_weight)


def test_parameter_resource_max_iter(small_data):
    X, y = small_data
    MAX_ITERS.clear()
    search = _quiet(
        HyperbandSearchCV(
            RecordingLogisticRegression(),
            {"C": [0.01, 0.1, 1.0, 10.0]},
            resource="max_iter",
            max_resource=27,
            eta=3,
            cv=3,
            random_state=0,
        ),
        X,
        y,
    )
    res = search.cv_results_
    assert res["resource"].dtype.kind == "i"
    assert set(res["resource"].tolist()) == {1, 3, 9, 27}
    assert all(1 <= r <= 27 for r in res["resource"])
    assert np.array_equal(res["max_iter"], res["resource"])
    assert set(res["n_samples"].tolist()) == {100}  # the parameter resource uses all training samples
    # the estimator really got them: every cross-validation fit saw an integer max_iter from the rungs
    cv_fits, refit = MAX_ITERS[:-1], MAX_ITERS[-1]
    assert all(isinstance(m, int) for m in MAX_ITERS)
    assert set(cv_fits) == {1, 3, 9, 27}
    assert refit == 27 and search.best_estimator_.max_iter == 27
    assert "max_iter" not in search.best_params_
    assert search.n_resources_ == [1, 3, 9, 27]


def test_parameter_resource_errors(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match="max_itr"):
        HyperbandSearchCV(LogisticRegression(), {"C": [1.0]}, resource="max_itr", max_resource=9).fit(X, y)
    with pytest.raises(ValueError, match="resource"):
        HyperbandSearchCV(LogisticRegression(), {"max_iter": [1, 2]}, resource="max_iter", max_resource=9).fit(X, y)
    with pytest.raises(ValueError, match="integer"):
        HyperbandSearchCV(LogisticRegression(), {"C": [1.0]}, resource="max_iter", max_resource=9.5).fit(X, y)


FIT_SIZES: list[tuple] = []


class SizeRecorder(ClassifierMixin, BaseEstimator):
    """Records (tag, len(X), classes seen) at every fit; predicts the majority class."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        FIT_SIZES.append((self.tag, len(X), len(np.unique(y))))
        self.classes_ = np.unique(y)
        values, counts = np.unique(y, return_counts=True)
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_n_samples_resource_trains_on_ceil_fraction():
    X = np.arange(180, dtype=float).reshape(90, 2)
    y = np.repeat([0, 1, 2], 30)
    FIT_SIZES.clear()
    R, n_train = 27, 60  # 3-fold stratified: every training part has 60 samples
    search = _quiet(
        HyperbandSearchCV(
            SizeRecorder(), {"tag": [0, 1, 2, 3, 4, 5, 6, 7, 8]}, max_resource=R, eta=3, cv=3, random_state=0
        ),
        X,
        y,
    )
    res = search.cv_results_
    expected = {r: math.ceil(n_train * r / R) for r in (1, 3, 9, 27)}
    assert expected == {1: 3, 3: 7, 9: 20, 27: 60}
    for r, n in zip(res["resource"], res["n_samples"]):
        assert n == expected[int(r)]
    fits = FIT_SIZES[:-1]  # the last fit is the refit on all 90 samples
    assert FIT_SIZES[-1][1] == 90
    assert {size for _, size, _ in fits} == set(expected.values())
    for tag, r in zip(res["param_tag"], res["resource"]):  # every row's config was fit at its size
        assert (tag, expected[int(r)], 3) in fits
    # stratified order: even the 3-sample subsets hold all three classes
    assert all(n_classes == 3 for _, _, n_classes in fits)


def test_backend_sizes_on_uneven_splits():
    X = np.zeros((100, 2))
    y = np.tile([0, 1], 50)
    backend = SklearnBackend(SizeRecorder(), X, y, max_resource=81, cv=3)
    train_sizes = [len(tr) for tr, _ in backend.splits]
    assert sorted(train_sizes) == [66, 67, 67]
    for r in (1, 3, 9, 27, 81, 100 / 81):
        assert backend.n_train_samples(r) == [math.ceil(n * r / 81 - 1e-9) for n in train_sizes]
    assert backend.n_train_samples(81) == train_sizes
    # prefixes are nested: a promoted config sees a superset of its earlier data
    small, big = backend._fold_splits(3), backend._fold_splits(27)
    for (a, _), (b, _) in zip(small, big):
        assert set(a) <= set(b)


def test_stratified_order_prefixes_are_balanced():
    labels = np.array([0] * 70 + [1] * 25 + [2] * 5)
    order = stratified_order(np.arange(100), labels, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(100))
    assert set(labels[order[:3]]) == {0, 1, 2}
    for m in range(3, 101):
        counts = np.bincount(labels[order[:m]], minlength=3)
        assert np.all(np.abs(counts - m * np.array([0.70, 0.25, 0.05])) <= 2.5), (m, counts)
    assert not np.array_equal(order, stratified_order(np.arange(100), labels, np.random.default_rng(1)))


# ---------------------------------------------------------------------------------------------
# bad input, failures, NaN
# ---------------------------------------------------------------------------------------------
class MustNotFit(ClassifierMixin, BaseEstimator):
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        raise AssertionError("fit must not be called: the input should be rejected up front")


@pytest.mark.parametrize(
    "kwargs, space, message",
    [
        ({"eta": 1}, {"alpha": [1.0]}, "eta must be an integer >= 2, got 1"),
        ({"eta": 2.5}, {"alpha": [1.0]}, "eta must be an integer >= 2, got 2.5"),
        ({"max_resource": 0}, {"alpha": [1.0]}, "max_resource (R) must be >= 1, got 0"),
        ({}, {}, "search space is empty"),
        ({}, {"alpha": []}, "empty list"),
        ({}, {"alpha": [1.0], "nope": [1, 2]}, "'nope' is not a parameter of MustNotFit"),
        ({"hyperband_iterations": 0}, {"alpha": [1.0]}, "hyperband_iterations"),
        ({"scoring": ["accuracy", "f1"]}, {"alpha": [1.0]}, "multi-metric"),
    ],
)
def test_bad_input_raises_clear_value_error(small_data, kwargs, space, message):
    X, y = small_data
    with pytest.raises(ValueError) as info:
        HyperbandSearchCV(MustNotFit(), space, **{"max_resource": 9, "cv": 3, **kwargs}).fit(X, y)
    assert message in str(info.value)


def test_unknown_parameter_names_the_estimator(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match=r"'gama' is not a parameter of SVC"):
        HyperbandSearchCV(SVC(), {"C": [1.0], "gama": [0.1]}, max_resource=9, cv=3).fit(X, y)
    backend = SklearnBackend(SVC(), X, y, max_resource=9, cv=3)
    with pytest.raises(ValueError, match="'gama'.*SVC"):
        backend.validate_space(Space(gama=Choice([0.1])))


def test_failing_fit_loses_with_a_warning(small_data):
    X, y = small_data
    search = HyperbandSearchCV(SVC(), {"C": [-1.0, 1.0, 10.0]}, max_resource=9, eta=3, cv=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.warns(FitFailedWarning, match=r"C=-1.*SVC.*NaN"):
            search.fit(X, y)
    res = search.cv_results_
    bad = np.array([p["C"] == -1.0 for p in res["params"]])
    assert bad.any() and np.isnan(res["mean_test_score"][bad]).all()
    assert not res["promoted"][bad].any()
    assert search.best_params_["C"] != -1.0 and math.isfinite(search.best_score_)


def test_all_fits_failing_raises(small_data):
    X, y = small_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="failed"):
            HyperbandSearchCV(SVC(), {"C": [-1.0, -2.0]}, max_resource=3, cv=3, random_state=0).fit(X, y)


def nan_for_large_c(estimator, X, y):
    """A scorer that returns NaN for C >= 10 (e.g. a metric undefined on some fold)."""
    if estimator.C >= 10:
        return float("nan")
    return accuracy_score(y, estimator.predict(X))


def test_nan_scores_lose_and_fit_completes(small_data):
    X, y = small_data
    search = HyperbandSearchCV(
        SVC(),
        {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
        max_resource=9,
        eta=3,
        cv=3,
        scoring=nan_for_large_c,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    res = search.cv_results_
    nan_rows = np.array([p["C"] >= 10 for p in res["params"]])
    assert nan_rows.any()
    assert np.isnan(res["mean_test_score"][nan_rows]).all()
    assert not res["promoted"][nan_rows].any()
    assert search.best_params_["C"] < 10
    assert math.isfinite(search.best_score_)
    assert search.score(X, y) == pytest.approx(accuracy_score(y, search.predict(X)))


# ---------------------------------------------------------------------------------------------
# reproducibility, parallelism, no JAX
# ---------------------------------------------------------------------------------------------
def _comparable(cv_results):
    return {k: v for k, v in cv_results.items() if not k.endswith("_time")}


def _assert_same(a, b):
    a, b = _comparable(a), _comparable(b)
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray) and a[k].dtype.kind == "f":
            np.testing.assert_array_equal(a[k], b[k])
        else:
            assert list(a[k]) == list(b[k]), k


def test_same_random_state_same_cv_results(small_data):
    X, y = small_data
    space = Space(C=LogUniform(1e-2, 1e2), gamma=LogUniform(1e-3, 1.0))

    def run(seed, **kw):
        return _quiet(
            HyperbandSearchCV(SVC(), space, max_resource=9, eta=3, cv=3, random_state=seed, **kw), X, y
        ).cv_results_

    first = run(7)
    _assert_same(first, run(7))
    other = run(8)
    assert list(first["params"]) != list(other["params"])


def test_parallel_matches_sequential(small_data):
    X, y = small_data
    space = {"C": [0.1, 1.0, 10.0], "gamma": ["scale", 0.1]}
    seq = _quiet(HyperbandSearchCV(SVC(), space, max_resource=9, cv=3, random_state=0), X, y)
    par = _quiet(HyperbandSearchCV(SVC(), space, max_resource=9, cv=3, random_state=0, n_jobs=2), X, y)
    _assert_same(seq.cv_results_, par.cv_results_)


def test_pandas_input(small_data):
    X, y = small_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    search = _quiet(
        HyperbandSearchCV(SVC(), {"C": [0.1, 1.0]}, max_resource=3, cv=3, random_state=0), frame, pd.Series(y)
    )
    assert list(search.feature_names_in_) == list(frame.columns)
    assert search.predict(frame).shape == (150,)


def test_module_does_not_import_jax():
    code = (
        "import sys\n"
        "tried = []\n"
        "class Spy:\n"  # records even attempted imports (e.g. inside try/except ImportError)
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('jax', 'jaxlib', 'flax', 'optax'): tried.append(name)\n"
        "sys.meta_path.insert(0, Spy())\n"
        "import hbjax, hbjax.sklearn\n"
        "from hbjax.sklearn import HyperbandSearchCV, SklearnBackend, svc_walkthrough\n"
        "assert 'jax' not in sys.modules, 'jax was imported'\n"
        "assert not tried, tried\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
