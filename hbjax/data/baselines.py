"""Naive baselines on the task's own windows: persistence, seasonal naive, ridge; MSE and skill."""

from __future__ import annotations

import numpy as np

from .targets import skill_score
from .windows import FinalWindows, FoldWindows


def ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression with an unpenalised intercept (same solution as sklearn's
    ``Ridge(alpha)``), in float64 NumPy so the baseline needs no scikit-learn."""
    xt = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    xe = np.asarray(x_eval, np.float64).reshape(len(x_eval), -1)
    y = np.asarray(y_train, np.float64)
    xm, ym = xt.mean(axis=0), y.mean()
    xc = xt - xm
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(xc.shape[1]), xc.T @ (y - ym))
    return (xe - xm) @ coef + ym


def _checked(name: str, value: float) -> float:
    if not np.isfinite(value):
        raise ValueError(f"the {name} baseline is not finite ({value}): check the series for extreme values")
    return float(value)


def compute_baselines(
    fw: FoldWindows,
    fin: FinalWindows,
    seasonal_val,
    seasonal_test,
    *,
    target: str,
    kind: str,
    unit: str,
    period: int | None,
    notes: list[str],
) -> dict:
    """The dict behind ``SeriesTask.baselines`` (keys documented there).  ``seasonal_val`` [K]
    arrays / ``seasonal_test``: seasonal-naive forecasts in own units, or None."""
    ridge_val = [ridge_fit_predict(fw.x_train[k], fw.y_train[k], fw.x_val[k]) for k in range(fw.n_folds)]
    ridge_val_scores = fw.score(np.stack(ridge_val))
    ridge_test = fin.score(ridge_fit_predict(fin.x_train, fin.y_train, fin.x_test))
    for s in (*ridge_val_scores, ridge_test):
        if s["invalid_reason"]:
            raise ValueError(f"the ridge baseline is not finite: {s['invalid_reason']}")
    out = {
        "window": fw.window,
        "target": target,
        "kind": kind,
        "unit": unit,
        "period": period,
        "n_folds": fw.n_folds,
        # training units: what the engine's validation loss is in (mean over folds, as it averages)
        "persistence_val_mse": _checked("persistence", fw.persistence_mse.mean()),
        "persistence_val_mse_folds": [float(v) for v in fw.persistence_mse],
        "persistence_test_mse": _checked("persistence", fin.persistence_mse),
        "ridge_val_mse": _checked("ridge", np.mean([s["mse"] for s in ridge_val_scores])),
        "ridge_val_mse_folds": [s["mse"] for s in ridge_val_scores],
        "ridge_test_mse": ridge_test["mse"],
        # the series' own units ("unit"); per fold only: folds at different price levels don't average
        "persistence_val_mse_price_folds": [_checked("persistence", v) for v in fw.persistence_mse_price],
        "persistence_test_mse_price": _checked("persistence", fin.persistence_mse_price),
        "ridge_val_mse_price_folds": [s["mse_price"] for s in ridge_val_scores],
        "ridge_test_mse_price": ridge_test["mse_price"],
        # skill = 1 - MSE / persistence MSE (own units), averaged over folds
        "persistence_val_skill": 0.0,
        "persistence_test_skill": 0.0,
        "ridge_val_skill": float(np.mean([s["skill"] for s in ridge_val_scores])),
        "ridge_val_skill_folds": [s["skill"] for s in ridge_val_scores],
        "ridge_test_skill": ridge_test["skill"],
        # the same in training units (1 - mse / persistence mse), mean over folds: 1 - this is ridge's
        # value of the loss LSTMBackend reports (persistence's is 1)
        "ridge_val_skill_target": float(np.mean([s["skill_target"] for s in ridge_val_scores])),
        "ridge_test_skill_target": ridge_test["skill_target"],
        "notes": list(notes),
    }
    if seasonal_val is not None:
        mse_val = [float(np.mean((f - t) ** 2)) for f, t in zip(seasonal_val, fw.truth_val)]
        skill_val = [skill_score(m, p) for m, p in zip(mse_val, fw.persistence_mse_price)]
        mse_test = float(np.mean((seasonal_test - fin.truth_test) ** 2))
        out.update(
            {
                "seasonal_naive_val_mse_price_folds": mse_val,
                "seasonal_naive_test_mse_price": _checked("seasonal naive", mse_test),
                "seasonal_naive_val_skill": float(np.mean(skill_val)),
                "seasonal_naive_val_skill_folds": skill_val,
                "seasonal_naive_test_skill": skill_score(mse_test, fin.persistence_mse_price),
            }
        )
    return out
