"""The scikit-learn fallback's reference case (``hbjax svc``): SVC over C x gamma with Hyperband
beside ``HalvingGridSearchCV`` and ``GridSearchCV`` on the same split and CV. Imports no JAX."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from pathlib import Path

from .cv import format_params
from .search import HyperbandSearchCV

__all__ = ["SVC_GRID", "svc_walkthrough"]

# --------------------------------------------------------------------------------------------
# the reference walkthrough
# --------------------------------------------------------------------------------------------
SVC_GRID = {"C": [0.1, 1, 10, 100], "gamma": ["scale", "auto", 0.1, 1, 10]}


@contextlib.contextmanager
def _warnings_to(log):
    """Turn warnings raised inside the block into log lines (in order) instead of stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, *args, **kwargs: log(f"note ({category.__name__}): {message}")
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
    log(
        f"dataset {dataset}: {len(X_train)} training / {len(X_test)} test samples (25% stratified hold-out, "
        f"seed {seed}), {X.shape[1]} features; {prep}"
    )
    log(f"SVC grid: {format_params(grid)} ({n_grid} points); cv={cv}, scoring=accuracy")

    out: dict = {"dataset": dataset, "n_train": len(X_train), "n_test": len(X_test), "n_grid": n_grid, "cv": cv}

    # Hyperband -------------------------------------------------------------------------------
    log("")
    log("== Hyperband (hbjax) ==")
    search = HyperbandSearchCV(
        SVC(), grid, max_resource=max_resource, eta=eta, resource="n_samples", cv=cv, random_state=seed, verbose=2
    )
    t0 = time.perf_counter()
    with _warnings_to(log):
        search.fit(X_train, y_train, log=log)
    hb_seconds = time.perf_counter() - t0
    hb_test = float(search.score(X_test, y_test))
    best = search.best_index_
    log(
        f"winner #{search.cv_results_['config_id'][best]}: {format_params(search.best_params_)} -> CV accuracy "
        f"{search.best_score_:.4f} +- {search.cv_results_['std_test_score'][best]:.4f} at r={search.best_resource_:g} "
        f"({search.cv_results_['n_samples'][best]} samples/fold); {search.n_candidates_} configs sampled, "
        f"{search.n_fits_} fits, {hb_seconds:.2f} s"
    )
    log(f"winner's test accuracy: {hb_test:.4f}")
    out.update(
        hyperband_best_params=dict(search.best_params_),
        hyperband_best_score=float(search.best_score_),
        hyperband_test_score=hb_test,
        hyperband_seconds=hb_seconds,
        hyperband_n_fits=search.n_fits_,
        hyperband_n_configs=search.n_candidates_,
    )

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
    log(
        f"iterations: candidates {list(map(int, halving.n_candidates_))} at n_samples "
        f"{list(map(int, halving.n_resources_))}"
    )
    log(
        f"best: {format_params(halving.best_params_)} -> CV accuracy {halving.best_score_:.4f}; test accuracy "
        f"{hv_test:.4f}; {hv_fits} fits, {hv_seconds:.2f} s"
    )
    out.update(
        halving_best_params=dict(halving.best_params_),
        halving_best_score=float(halving.best_score_),
        halving_test_score=hv_test,
        halving_seconds=hv_seconds,
        halving_n_fits=hv_fits,
    )

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
    log(
        f"best: {format_params(full.best_params_)} -> CV accuracy {full.best_score_:.4f}; test accuracy "
        f"{gs_test:.4f}; {gs_fits} fits, {gs_seconds:.2f} s"
    )
    out.update(
        grid_best_params=dict(full.best_params_),
        grid_best_score=float(full.best_score_),
        grid_test_score=gs_test,
        grid_seconds=gs_seconds,
        grid_n_fits=gs_fits,
    )

    # summary ------------------------------------------------------------------------------------
    log("")
    log(f"{'method':<22}{'CV acc':>8}{'test acc':>10}{'fits':>7}{'seconds':>9}  best params")
    for label, key in (
        ("Hyperband (hbjax)", "hyperband"),
        ("HalvingGridSearchCV", "halving"),
        ("GridSearchCV", "grid"),
    ):
        log(
            f"{label:<22}{out[key + '_best_score']:>8.4f}{out[key + '_test_score']:>10.4f}"
            f"{out[key + '_n_fits']:>7}{out[key + '_seconds']:>9.2f}  {format_params(out[key + '_best_params'])}"
        )

    out["csv"] = None
    if out_csv is not None:
        path = Path(out_csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        search.result_.trials.to_csv(path)
        out["csv"] = str(path)
        log(f"Hyperband trials written to {path}")
    return out
