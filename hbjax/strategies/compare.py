"""Run several strategies over several seeds at one budget, and summarise with t-intervals.

No printing here (the CLI prints), and no JAX: the backend comes from the caller's
``make_backend(seed)``.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..space import Space
from .base import budget_of, check_budget, check_max_resource, check_seed

__all__ = ["compare", "summarize"]

#: identifying columns, not summarised
ID_COLUMNS = ("method", "seed")


def compare(method_names: Sequence[str], make_backend: Callable[[int], object], space: Space, *, budget,
            seeds: Sequence[int], max_resource, eta: int = 3, evaluate: Callable | None = None, callbacks=(),
            options: Mapping[str, Mapping] | None = None, curves: list | None = None) -> pd.DataFrame:
    """One row per (method, seed): ``best_loss`` (validation), ``resource_spent``, ``seconds`` (wall
    time of the search), ``evaluations`` (trial rows: configs x rungs), ``configs`` (distinct configs),
    plus the columns of ``evaluate(backend, result) -> dict`` when given (e.g. the best config's
    test MSE). Every run gets a fresh ``make_backend(seed)``. ``options[name]``: extra keyword
    arguments for that strategy (e.g. ``{"bo": {"batch_size": 8}}``). ``curves``: a list that gets
    one row per job of every run (method, seed, resource_spent so far, best_loss so far): the
    anytime performance that ``plots.plot_anytime`` draws."""
    from . import STRATEGIES, make_strategy

    if isinstance(method_names, str):
        method_names = [method_names]
    method_names = list(method_names)
    if not method_names:
        raise ValueError(f"give at least one method; known: {', '.join(STRATEGIES)}")
    unknown = [m for m in method_names if m not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; known: {', '.join(STRATEGIES)}")
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    check_max_resource(max_resource)
    check_budget(budget, max_resource)
    if not callable(make_backend):
        raise ValueError("make_backend must be a callable make_backend(seed) -> backend")
    options = dict(options or {})
    strategies = {  # build all first: a bad option fails before any training
        (m, s): make_strategy(m, space, max_resource=max_resource, eta=eta, seed=s, **dict(options.get(m, {})))
        for m in method_names for s in seeds
    }
    rows = []
    for method in method_names:
        for seed in seeds:
            backend = make_backend(seed)
            run_callbacks = list(callbacks)
            if curves is not None:
                run_callbacks.append(_curve_recorder(curves, method, seed, bool(getattr(backend, "continues", False))))
            t0 = time.perf_counter()
            result = strategies[(method, seed)].run(backend, budget=budget, callbacks=run_callbacks)
            seconds = time.perf_counter() - t0
            frame = result.trials.to_frame()
            row = {
                "method": method,
                "seed": seed,
                "best_loss": float(result.best_loss),
                "resource_spent": float(result.resource_spent),
                "seconds": seconds,
                "evaluations": int(len(frame)),
                "configs": int(frame["config_id"].nunique()) if len(frame) else 0,
            }
            if evaluate is not None:
                extra = evaluate(backend, result)
                if not isinstance(extra, Mapping):
                    raise ValueError(f"evaluate(backend, result) must return a dict, got {type(extra).__name__}")
                clash = set(extra) & set(row)
                if clash:
                    raise ValueError(f"evaluate() returned columns that compare() already fills: {sorted(clash)}")
                row.update(extra)
            rows.append(row)
    return pd.DataFrame(rows)


def _curve_recorder(curves: list, method: str, seed: int, continues: bool):
    spent, best = [0.0], [math.inf]

    def record(job, losses, state, seconds):
        spent[0] += budget_of(job, continues)
        finite = [float(x) for x in np.asarray(losses, dtype=float).ravel() if np.isfinite(x)]
        best[0] = min([best[0], *finite])
        curves.append({"method": method, "seed": seed, "resource_spent": spent[0], "best_loss": best[0]})

    return record


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy import stats

    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, half


def summarize(df: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per method (in order of appearance): ``runs``, and for every numeric column ``<col>_mean``
    and ``<col>_ci95``, the half-width of the Student-t interval of the mean (NaN with one run;
    non-finite values, e.g. an all-diverged run's inf loss, are left out of both)."""
    if "method" not in df.columns:
        raise ValueError("summarize() needs a 'method' column (the output of compare())")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tag = f"ci{round(confidence * 100):d}"
    numeric = [c for c in df.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    rows = []
    for method, group in df.groupby("method", sort=False):
        row = {"method": method, "runs": int(len(group))}
        for col in numeric:
            mean, half = _interval(group[col].to_numpy(dtype=np.float64), confidence)
            row[f"{col}_mean"], row[f"{col}_{tag}"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)
