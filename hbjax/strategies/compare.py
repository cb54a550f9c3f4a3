"""Run several strategies over several seeds at one budget, and summarise with t-intervals,
ranks and paired tests.

* :func:`compare`: one row per (method, seed) (the *raw* table).
* :func:`summarize`: per method, the mean and Student-t 95% interval of every numeric column.
* :func:`seed_ranks` / :func:`rank_summary`: the methods ranked within every seed (1 = best,
  average ranks on ties, non-finite values last) and each method's mean rank with a percentile
  bootstrap interval over seeds (seeds resampled with replacement, fixed generator seed).
* :func:`paired_tests`: a reference method (default ``hyperband``) against each other method,
  paired by seed: two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, default
  ``zero_method="wilcox"``: zero differences dropped), median paired difference, seeds won /
  tied / lost, Holm-corrected p-values across the comparisons, and a one-line verdict.
* :func:`summarize_stats`: all of the above in one table (``summarize``'s columns first, unchanged);
  :func:`stats_markdown` renders it as a small markdown table.

No printing here (the CLI prints), and no JAX: the backend comes from the caller's
``make_backend(seed)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..space import Space
from .base import budget_of, check_budget, check_max_resource, check_seed

__all__ = [
    "compare",
    "holm",
    "paired_tests",
    "rank_summary",
    "seed_ranks",
    "stats_markdown",
    "summarize",
    "summarize_stats",
]

#: identifying columns, not summarised
ID_COLUMNS = ("method", "seed")


def compare(
    method_names: Sequence[str],
    make_backend: Callable[[int], object],
    space: Space,
    *,
    budget,
    seeds: Sequence[int],
    max_resource,
    eta: int = 3,
    evaluate: Callable | None = None,
    callbacks=(),
    options: Mapping[str, Mapping] | None = None,
    curves: list | None = None,
) -> pd.DataFrame:
    """One row per (method, seed): ``best_loss`` (validation), ``resource_spent``, ``seconds`` (wall
    time of the search), ``evaluations`` (trial rows: configs x rungs), ``configs`` (distinct configs),
    plus the columns of ``evaluate(backend, result) -> dict`` when given (e.g. the best config's
    test MSE). Every run gets a fresh ``make_backend(seed)``. ``options[name]``: extra keyword
    arguments for that strategy (e.g. ``{"bo": {"batch_size": 8}}``). ``curves``: a list that gets
    one row per job of every run (method, seed, resource_spent so far, best_loss so far): the
    anytime performance that ``plots.plot_anytime`` draws."""
    from . import STRATEGIES, UserMethod, make_strategy, method_label

    if isinstance(method_names, (str, UserMethod)):
        method_names = [method_names]
    method_names = list(method_names)
    if not method_names:
        raise ValueError(f"give at least one method; known: {', '.join(STRATEGIES)}")
    labels = [method_label(m) for m in method_names]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two methods share a name: {labels}")
    unknown = [m for m in method_names if not isinstance(m, UserMethod) and m not in STRATEGIES]
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
        (method_label(m), s): make_strategy(
            m, space, max_resource=max_resource, eta=eta, seed=s, **dict(options.get(method_label(m), {}))
        )
        for m in method_names
        for s in seeds
    }
    rows = []
    for method in labels:
        for seed in seeds:
            backend = make_backend(seed)
            run_callbacks = list(callbacks)
            if curves is not None:
                run_callbacks.append(
                    _curve_recorder(
                        curves,
                        method,
                        seed,
                        bool(getattr(backend, "continues", False)),
                        getattr(strategies[(method, seed)], "repeats", 1),
                    )
                )
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


def _curve_recorder(curves: list, method: str, seed: int, continues: bool, repeats: int = 1):
    spent, best = [0.0], [math.inf]

    def record(job, losses, state, seconds):
        spent[0] += repeats * budget_of(job, continues)  # each of a config's seeds costs its resource
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
    numeric = [
        c
        for c in df.columns
        if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
    ]
    rows = []
    for method, group in df.groupby("method", sort=False):
        row = {"method": method, "runs": int(len(group))}
        for col in numeric:
            mean, half = _interval(group[col].to_numpy(dtype=np.float64), confidence)
            row[f"{col}_mean"], row[f"{col}_{tag}"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)


# -- ranks and paired tests -------------------------------------------------------------------------
#: fewest non-zero paired differences for which a two-sided Wilcoxon test is reported: with 5 the
#: exact test cannot go below p = 2/32 = 0.0625, with 6 its smallest p is 2/64 = 0.031
MIN_PAIRS = 6


def _per_seed(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` as a seed x method table (methods in order of appearance); seeds that lack a
    method are dropped (a rank or a pair needs every method on the same seed)."""
    for col in ("method", "seed", metric):
        if col not in df.columns:
            raise ValueError(f"the raw table needs a {col!r} column (the output of compare()), got {list(df.columns)}")
    if df.duplicated(["method", "seed"]).any():
        dup = df[df.duplicated(["method", "seed"], keep=False)][["method", "seed"]].drop_duplicates()
        raise ValueError(f"more than one row per (method, seed): {dup.values.tolist()[:5]}")
    methods = list(dict.fromkeys(df["method"]))
    table = df.pivot(index="seed", columns="method", values=metric)[methods].astype(np.float64)
    # a NaN value of a seed that has every method is a diverged run (it ranks last), not a gap
    complete = df.groupby("seed")["method"].nunique().reindex(table.index).eq(len(methods))
    return table[complete.to_numpy()]


def _keys(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Smaller is better; NaN / inf (diverged runs) become +inf, worse than anything finite."""
    values = np.asarray(values, dtype=np.float64)
    key = -values if higher_is_better else values.copy()
    key[~np.isfinite(values)] = np.inf
    return key


def seed_ranks(df: pd.DataFrame, *, metric: str = "best_loss", higher_is_better: bool = False) -> pd.DataFrame:
    """Rank of every method within every seed: a seed x method table. 1 = best (lowest ``metric``,
    or highest with ``higher_is_better``); tied methods get the average of their ranks; non-finite
    values (diverged runs) rank last, tied among themselves. Seeds missing a method are left out."""
    from scipy.stats import rankdata

    table = _per_seed(df, metric)
    keys = _keys(table.to_numpy(), higher_is_better)
    ranks = rankdata(keys, method="average", axis=1) if len(table) else np.empty(keys.shape)
    return pd.DataFrame(ranks, index=table.index, columns=table.columns)


def rank_summary(
    df: pd.DataFrame,
    *,
    metric: str = "best_loss",
    higher_is_better: bool = False,
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per method: ``seeds`` (ranked seeds), ``mean_rank`` and its ``confidence`` interval
    ``mean_rank_low`` / ``mean_rank_high``: percentile bootstrap over seeds (``n_boot`` resamples of
    the seeds with replacement, drawn by ``numpy.random.default_rng(seed)``, so reruns agree; the
    ranks of a seed stay together). NaN interval with fewer than 2 seeds."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    ranks = seed_ranks(df, metric=metric, higher_is_better=higher_is_better)
    r = ranks.to_numpy()
    n = r.shape[0]
    low = high = np.full(r.shape[1], np.nan)
    if n >= 2:
        rng = np.random.default_rng(seed)
        means = r[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)  # (n_boot, methods)
        tail = (1 - confidence) / 2
        low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    return pd.DataFrame(
        {
            "method": list(ranks.columns),
            "seeds": n,
            "mean_rank": r.mean(axis=0) if n else np.full(r.shape[1], np.nan),
            "mean_rank_low": low,
            "mean_rank_high": high,
        }
    )


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the given order: the i-th smallest of the m
    finite p-values becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))``. NaN stays NaN (and does not
    count in m)."""
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    if idx.size == 0:
        return out
    if ((p[idx] < 0) | (p[idx] > 1)).any():
        raise ValueError(f"p-values must be in [0, 1], got {p[idx].tolist()}")
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def _fmt_p(p: float) -> str:
    return "nan" if not math.isfinite(p) else f"{p:.2g}"


def paired_tests(
    df: pd.DataFrame,
    *,
    reference: str = "hyperband",
    metric: str = "best_loss",
    higher_is_better: bool = False,
    alpha: float = 0.05,
    min_pairs: int = MIN_PAIRS,
) -> pd.DataFrame:
    """``reference`` against every other method, paired by seed; one row per other method:

    * ``seeds``: seeds where both ran; ``wins`` / ``ties`` / ``losses``: seeds where the reference
      was better / equal / worse (a non-finite value is worse than any finite one; two are a tie);
    * ``n_test``: pairs with both values finite (the others are left out of the test);
      ``median_diff``: median of ``reference - method`` over those pairs (negative: the
      reference's values are lower);
    * ``statistic``, ``p_value``: ``scipy.stats.wilcoxon(reference, method)``, two-sided, defaults
      (zero differences dropped); ``p_holm``: Holm-adjusted across this table's rows;
    * ``reason``: why ``p_value`` is NaN (fewer than ``min_pairs`` non-zero differences, all
      differences zero), or a note on left-out seeds; ``verdict``: one line the numbers support."""
    from scipy import stats

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    table = _per_seed(df, metric)
    if reference not in table.columns:
        raise ValueError(f"reference method {reference!r} is not in the table; methods: {list(table.columns)}")
    ref = table[reference].to_numpy(dtype=np.float64)
    ref_key = _keys(ref, higher_is_better)
    rows = []
    for method in table.columns:
        if method == reference:
            continue
        other = table[method].to_numpy(dtype=np.float64)
        other_key = _keys(other, higher_is_better)
        both_inf = np.isinf(ref_key) & np.isinf(other_key)
        wins = int(((ref_key < other_key) & ~both_inf).sum())
        losses = int(((ref_key > other_key) & ~both_inf).sum())
        ties = int(len(ref) - wins - losses)
        finite = np.isfinite(ref) & np.isfinite(other)
        a, b = ref[finite], other[finite]
        d = a - b
        nonzero = d[d != 0]
        row = {
            "reference": reference,
            "method": method,
            "seeds": int(len(ref)),
            "wins": wins,
            "ties": ties,
            "losses": losses,
            "n_test": int(finite.sum()),
            "median_diff": float(np.median(d)) if d.size else math.nan,
            "statistic": math.nan,
            "p_value": math.nan,
            "reason": "",
        }
        left_out = int((~finite).sum())
        if d.size and nonzero.size == 0:
            row["reason"] = "all paired differences are zero"
        elif nonzero.size < min_pairs:
            row["reason"] = f"fewer than {min_pairs} non-zero paired differences with finite values (n={nonzero.size})"
        else:
            res = stats.wilcoxon(a, b, alternative="two-sided")
            row["statistic"], row["p_value"] = float(res.statistic), float(res.pvalue)
            if left_out:
                row["reason"] = f"{left_out} seed(s) with a non-finite value left out of the test"
        # which way: rank sums of the positive / negative differences (the signed-rank statistic)
        r = stats.rankdata(np.abs(nonzero)) if nonzero.size else np.empty(0)
        row["_lower"] = float(r[nonzero < 0].sum()) > float(r[nonzero > 0].sum())
        rows.append(row)
    out = pd.DataFrame(
        rows,
        columns=[
            "reference",
            "method",
            "seeds",
            "wins",
            "ties",
            "losses",
            "n_test",
            "median_diff",
            "statistic",
            "p_value",
            "reason",
            "_lower",
        ],
    )
    out.insert(out.columns.get_loc("reason"), "p_holm", holm(out["p_value"].to_numpy()) if len(out) else [])
    out["verdict"] = [_verdict(row, alpha, higher_is_better) for row in out.to_dict(orient="records")]
    return out.drop(columns="_lower")


def _verdict(row: dict, alpha: float, higher_is_better: bool) -> str:
    ref, other, p = row["reference"], row["method"], row["p_holm"]
    if not math.isfinite(p):
        return f"not tested: {row['reason']}"
    if p >= alpha:
        return f"no significant difference at {alpha:g} (p_holm={_fmt_p(p)}, n={row['n_test']})"
    lower = bool(row["_lower"])
    # seeds on which the reference's value was lower (a non-finite value counts as the worst)
    better, worse = row["wins"], row["losses"]
    count = (better if not higher_is_better else worse) if lower else (worse if not higher_is_better else better)
    word = "lower" if lower else "higher"
    return f"{ref} {word} than {other} (p_holm={_fmt_p(p)}, {word} on {count}/{row['seeds']} seeds)"


def summarize_stats(
    df: pd.DataFrame,
    *,
    reference: str | None = None,
    metric: str = "best_loss",
    higher_is_better: bool = False,
    confidence: float = 0.95,
    alpha: float = 0.05,
    min_pairs: int = MIN_PAIRS,
    n_boot: int = 10_000,
    boot_seed: int = 0,
) -> pd.DataFrame:
    """:func:`summarize` (its columns unchanged, first), then per method ``<metric>_median``, the
    rank columns of :func:`rank_summary`, and the :func:`paired_tests` columns of the method against
    ``reference`` (None: ``hyperband`` if it ran, else the first method; its own row has
    ``verdict = "reference"`` and NaN tests). ``attrs`` records the settings for
    :func:`stats_markdown`."""
    summary = summarize(df, confidence=confidence)
    methods = list(summary["method"])
    if reference is None:
        reference = "hyperband" if "hyperband" in methods else methods[0]
    elif reference not in methods:
        raise ValueError(f"reference method {reference!r} is not in the table; methods: {methods}")
    medians = df.groupby("method", sort=False)[metric].median()
    summary[f"{metric}_median"] = summary["method"].map(medians).astype(np.float64)
    ranks = rank_summary(
        df, metric=metric, higher_is_better=higher_is_better, confidence=confidence, n_boot=n_boot, seed=boot_seed
    ).drop(columns="seeds")
    tests = paired_tests(
        df, reference=reference, metric=metric, higher_is_better=higher_is_better, alpha=alpha, min_pairs=min_pairs
    ).drop(columns=["reference", "seeds"])
    out = summary.merge(ranks, on="method", how="left").merge(tests, on="method", how="left")
    is_ref = out["method"] == reference
    for col in ("reason", "verdict"):
        out[col] = out[col].astype(object)
    out.loc[is_ref, "verdict"] = "reference"
    out.loc[is_ref, "reason"] = ""
    for col in ("wins", "ties", "losses", "n_test"):
        out[col] = out[col].astype("Int64")
    out.attrs.update(
        metric=metric,
        reference=reference,
        higher_is_better=higher_is_better,
        confidence=confidence,
        alpha=alpha,
        n_boot=n_boot,
        boot_seed=boot_seed,
        seeds=int(len(_per_seed(df, metric))),
    )
    return out


def _num(x, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{float(x):.{digits}g}"


def stats_markdown(stats_df: pd.DataFrame, *, digits: int = 4, title: str | None = None) -> str:
    """A small GitHub-flavoured markdown table of :func:`summarize_stats`'s output (to commit beside
    the CSV and PNG), with a line saying what the numbers are."""
    a = stats_df.attrs
    metric = a.get("metric", "best_loss")
    ref = a.get("reference", "")
    conf = round(100 * a.get("confidence", 0.95))
    tag = f"ci{conf:d}"
    for col in ("method", "runs", f"{metric}_mean", "mean_rank", "verdict"):
        if col not in stats_df.columns:
            raise ValueError(f"stats_markdown() needs the output of summarize_stats(); missing column {col!r}")
    head = [
        "method",
        "runs",
        f"{metric} mean ± {conf}% CI",
        "median",
        f"mean rank [{conf}% CI]",
        f"median diff ({ref} − method)",
        f"{ref} W/T/L",
        "p (Wilcoxon)",
        "p (Holm)",
        "verdict",
    ]
    lines = []
    if title:
        lines += [f"**{title}**", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * 8 + ["---"]) + "|"]
    for row in stats_df.to_dict(orient="records"):
        is_ref = row["method"] == ref
        mean, half = row.get(f"{metric}_mean"), row.get(f"{metric}_{tag}")
        cells = [
            f"**{row['method']}**" if is_ref else str(row["method"]),
            str(row["runs"]),
            _num(mean, digits) + (f" ± {_num(half, 2)}" if _num(half, 2) else ""),
            _num(row.get(f"{metric}_median"), digits),
            _num(row["mean_rank"], 3)
            + (
                f" [{_num(row['mean_rank_low'], 3)}, {_num(row['mean_rank_high'], 3)}]"
                if _num(row.get("mean_rank_low"), 3)
                else ""
            ),
            "" if is_ref else _num(row.get("median_diff"), 3),
            "" if is_ref else f"{row['wins']}/{row['ties']}/{row['losses']}",
            "" if is_ref else _num(row.get("p_value"), 2),
            "" if is_ref else _num(row.get("p_holm"), 2),
            str(row["verdict"]),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lower = "higher" if a.get("higher_is_better") else "lower"
    lines += [
        "",
        f"{metric}: {lower} is better; rank 1 = best within a seed (ties averaged, diverged runs last), "
        f"interval: percentile bootstrap over seeds ({a.get('n_boot', 10000)} resamples, seed "
        f"{a.get('boot_seed', 0)}); p: two-sided paired Wilcoxon signed-rank test of {ref} against the "
        f"method over seeds, Holm-corrected across methods (alpha {a.get('alpha', 0.05):g}); W/T/L: seeds "
        f"{ref} won / tied / lost.",
    ]
    return "\n".join(lines) + "\n"
