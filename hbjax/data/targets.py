"""What the model predicts, how a prediction becomes a value again, and the skill score.

A target is one of three *forms*, chosen by the series kind and the task's ``target``:

=========  ==========  =============================  ==========================================
kind       target      form                           the forecast of day t+1 from last value v_t
=========  ==========  =============================  ==========================================
price      relative    ``log_ratio`` log(c[t+1]/c[t])  v_t * exp(prediction)
price      return      ``log_ratio`` (global inputs)   v_t * exp(prediction)
price      close       ``level`` c[t+1]                the prediction
value      relative    ``difference`` v[t+1] - v[t]    v_t + prediction
value      level       ``level`` v[t+1]                the prediction
=========  ==========  =============================  ==========================================

Targets are standardised with the mean and std of the training rows' targets; persistence
(tomorrow = today) is then the prediction (v_t - mean)/std for a level and (0 - mean)/std for a
change.  The **skill** of a forecast is 1 - MSE / MSE_persistence, both in the series' own units
(price, deg C): 0 for persistence, 1 for a perfect forecast, negative when worse than persistence.
Skill is scale-free, so it is what may be averaged over folds.
"""

from __future__ import annotations

import numpy as np

#: the targets each series kind offers, default first
TARGETS = {"price": ("relative", "close", "return"), "value": ("relative", "level")}
#: (kind, target) -> form
TARGET_FORMS = {
    ("price", "relative"): "log_ratio",
    ("price", "return"): "log_ratio",
    ("price", "close"): "level",
    ("value", "relative"): "difference",
    ("value", "level"): "level",
}
#: (kind, target) -> inputs: per-window relative, or global per-fold standardised rows
RELATIVE_INPUTS = {("price", "relative"), ("value", "relative")}


def target_series(values: np.ndarray, form: str) -> np.ndarray:
    """The target whose day is row i: the level, or the change from row i-1 (NaN for row 0)."""
    values = np.asarray(values, dtype=np.float64)
    if form == "level":
        return values.copy()
    change = np.log(values[1:] / values[:-1]) if form == "log_ratio" else np.diff(values)
    return np.r_[np.nan, change]


def to_values(prediction, last_value, mean, std, form: str) -> np.ndarray:
    """Standardised predictions -> forecasts of the next value (price, deg C), given each
    sample's last value in its window; exact inverse of the target for the true prediction."""
    raw = np.asarray(prediction, dtype=np.float64) * std + mean
    if form == "level":
        return raw
    last = np.asarray(last_value, dtype=np.float64)
    if form == "log_ratio":
        with np.errstate(over="ignore"):  # a diverged model: inf, reported by score()
            return last * np.exp(raw)
    return last + raw


def persistence_prediction(last_value, mean, std, form: str) -> np.ndarray:
    """Tomorrow = today, in standardised target units."""
    last = np.asarray(last_value, dtype=np.float64)
    if form == "level":
        return (last - mean) / std
    return np.full(last.shape, (0.0 - mean) / std)


def skill_score(mse: float, persistence_mse: float) -> float:
    """1 - mse / persistence_mse (positive = better than tomorrow = today).  Raises ValueError
    when it is undefined: a non-finite MSE, or a persistence MSE that is not > 0 (a constant
    series)."""
    mse, persistence_mse = float(mse), float(persistence_mse)
    if not np.isfinite(mse):
        raise ValueError(f"skill is undefined: the forecast's MSE is {mse}")
    if not (np.isfinite(persistence_mse) and persistence_mse > 0):
        raise ValueError(f"skill is undefined: persistence's MSE is {persistence_mse} (a constant series?)")
    return 1.0 - mse / persistence_mse


def diebold_mariano(errors: np.ndarray, reference_errors: np.ndarray) -> tuple[float, float]:
    """Diebold-Mariano test of equal accuracy for one-step forecasts: (statistic, two-sided p)
    of the daily squared-error differences' mean (a t-test on them, as Harvey, Leybourne and
    Newbold (1997) recommend for small samples at horizon 1). statistic < 0: ``errors`` smaller."""
    from scipy import stats

    d = np.asarray(errors, dtype=np.float64) - np.asarray(reference_errors, dtype=np.float64)
    if d.size < 3 or not np.isfinite(d).all() or np.all(d == d[0]):
        return float("nan"), float("nan")
    result = stats.ttest_1samp(d, 0.0)
    return float(result.statistic), float(result.pvalue)


def score(prediction, y, persistence_mse: float, last_value, truth, mean: float, std: float, form: str) -> dict:
    """One evaluation block's metrics for standardised ``prediction`` against standardised ``y``:
    ``mse`` and ``persistence_mse`` (training units), ``mse_price`` and ``persistence_mse_price``
    (the series' own units), ``skill`` (own units) and ``skill_target`` (training units: what a
    loss / persistence-loss ratio measures).  Never silently non-finite: ``invalid_reason`` says
    why a metric is NaN, else None."""
    pred = np.asarray(prediction, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    forecast = to_values(pred, last_value, mean, std, form)
    out = {
        "mse": float(np.mean((pred - y) ** 2)),
        "persistence_mse": float(persistence_mse),
        "mse_price": float(np.mean((forecast - truth) ** 2)),
        "persistence_mse_price": float(np.mean((np.asarray(last_value, np.float64) - truth) ** 2)),
        "invalid_reason": None,
    }
    bad = int((~np.isfinite(forecast)).sum())
    if bad:
        out["invalid_reason"] = f"{bad} of {len(forecast)} forecasts are not finite (a diverged model?)"
    for key, mse_key, pers_key in (
        ("skill", "mse_price", "persistence_mse_price"),
        ("skill_target", "mse", "persistence_mse"),
    ):
        try:
            out[key] = skill_score(out[mse_key], out[pers_key])
        except ValueError as err:
            out[key] = float("nan")
            out["invalid_reason"] = out["invalid_reason"] or str(err)
    return out
