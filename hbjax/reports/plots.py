"""Plots of a Hyperband run (matplotlib is an optional extra: ``pip install hbjax[plots]``).

Figures are built on ``matplotlib.figure.Figure`` directly (no GUI backend, no pyplot state) unless
pyplot is already imported, so everything works headless / under ``matplotlib.use("Agg")``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .figures import new_axes

__all__ = [
    "bracket_table",
    "check_trials",
    "plot_anytime",
    "plot_brackets",
    "plot_comparison",
    "plot_critical_difference",
    "plot_losses",
    "prune_points",
]


def _bracket_colours(brackets) -> dict:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {b: cmap(i % 10) for i, b in enumerate(sorted(set(brackets), reverse=True))}


def check_trials(frame: pd.DataFrame) -> pd.DataFrame:
    need = {"config_id", "bracket", "rung", "resource", "loss"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"the trials table lacks columns {sorted(missing)} (expected hbjax trials.csv)")
    frame = frame.copy()
    if "iteration" not in frame.columns:
        frame["iteration"] = 0
    frame["loss"] = pd.to_numeric(frame["loss"], errors="coerce").astype(float)
    return frame


def prune_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Where each config stopped: its last row (largest rung), one row per config, with ``kind``:

    * ``finished``: reached the top rung of its bracket (rung == bracket s);
    * ``diverged``: its last loss is NaN/inf (never promoted after that);
    * ``pruned``: not promoted at its last rung;
    * ``running``: promoted at its last rung but no later row yet (an interrupted run)."""
    frame = check_trials(frame)
    last = frame.sort_values(["config_id", "rung", "resource"]).groupby("config_id", sort=True).tail(1)
    kinds = []
    for row in last.itertuples():
        if not math.isfinite(row.loss):
            kinds.append("diverged")
        elif row.rung >= row.bracket:
            kinds.append("finished")
        elif bool(getattr(row, "promoted", False)):
            kinds.append("running")
        else:
            kinds.append("pruned")
    out = last[["config_id", "iteration", "bracket", "rung", "resource", "loss"]].reset_index(drop=True)
    out["kind"] = kinds
    return out


_MARKERS = {
    "pruned": dict(marker="x", markersize=7, mew=1.6),
    "finished": dict(marker="*", markersize=13, mec="black", mew=0.6),
    "diverged": dict(marker="^", markersize=8, mec="black", mew=0.8, clip_on=False),
    "running": dict(marker="o", markersize=6, mfc="none", mew=1.2),
}


def plot_losses(trials_frame: pd.DataFrame, ax=None, *, title: str | None = None):
    """Loss vs resource of every config (one line per config, one colour per bracket); ``x`` where a
    config was pruned, a star for the finishers of each bracket, a triangle at the top edge for
    diverged (NaN/inf) losses. Log y when the losses span more than two decades. -> Figure.

    Marker artists carry ``gid`` ``'pruned'``, ``'finished'``, ``'diverged'`` or ``'running'``."""
    frame = check_trials(trials_frame)
    fig, ax = new_axes(ax)
    colours = _bracket_colours(frame["bracket"])
    finite = frame["loss"][np.isfinite(frame["loss"])]
    # finite but absurd losses (a blown-up config at 1e18) would flatten every other line: losses
    # above a robust cap are drawn at the top edge like diverged ones (hollow triangles)
    cap = math.inf
    if len(finite) >= 5:
        median = float(finite.median())
        if median > 0 and finite.max() > 1e4 * median:
            cap = 1e4 * median
    on_scale = finite[finite <= cap]
    log_y = bool(len(on_scale)) and on_scale.min() > 0 and on_scale.max() / on_scale.min() > 100
    if len(on_scale):
        lo, hi = float(on_scale.min()), float(on_scale.max())
        top = hi * 2.0 if log_y else hi + 0.08 * max(hi - lo, abs(hi) * 0.1, 1e-12)
        bottom = lo / 1.5 if log_y else lo - 0.05 * max(hi - lo, abs(lo) * 0.1, 1e-12)
    else:
        bottom, top = 0.0, 1.0
    for (cid,), rows in frame.sort_values(["config_id", "resource"]).groupby(["config_id"], sort=True):
        ok = np.isfinite(rows["loss"].to_numpy()) & (rows["loss"].to_numpy() <= cap)
        ax.plot(
            rows["resource"].to_numpy()[ok],
            rows["loss"].to_numpy()[ok],
            "-",
            lw=0.9,
            alpha=0.55,
            color=colours[rows["bracket"].iloc[0]],
            gid=f"config-{cid}",
        )
    stops = prune_points(frame)
    diverged_rows = frame[~np.isfinite(frame["loss"])]
    for bracket, colour in colours.items():
        for kind in ("pruned", "finished", "running"):
            pts = stops[(stops["bracket"] == bracket) & (stops["kind"] == kind) & (stops["loss"] <= cap)]
            if len(pts):
                style = dict(_MARKERS[kind])
                if kind != "finished":
                    style.setdefault("mec", colour)
                ax.plot(pts["resource"], pts["loss"], ls="none", color=colour, gid=kind, **style)
        div = diverged_rows[diverged_rows["bracket"] == bracket]
        if len(div):
            ax.plot(
                div["resource"], np.full(len(div), top), ls="none", color=colour, gid="diverged", **_MARKERS["diverged"]
            )
        off = frame[(frame["bracket"] == bracket) & np.isfinite(frame["loss"]) & (frame["loss"] > cap)]
        if len(off):
            ax.plot(
                off["resource"],
                np.full(len(off), top),
                ls="none",
                color=colour,
                gid="offscale",
                **{**_MARKERS["diverged"], "mfc": "none", "mec": colour},
            )
    resources = frame["resource"].to_numpy(dtype=float)
    if len(resources) and resources.min() > 0 and resources.max() / resources.min() >= 5:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    ax.set_xlabel("resource (epochs)")
    ax.set_ylabel("validation loss")
    ax.set_title(title or "Hyperband: loss of every config per rung")
    ax.grid(True, which="major", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=2, label=f"bracket s={b}") for b, c in colours.items()]
    handles += [
        Line2D([], [], ls="none", color="grey", label=label, **_MARKERS[k])
        for k, label in (
            ("pruned", "pruned (stopped)"),
            ("finished", "finished (top rung)"),
            ("diverged", "diverged (NaN/inf)"),
            ("running", "still running"),
        )
        if (stops["kind"] == k).any() or (k == "diverged" and len(diverged_rows))
    ]
    if math.isfinite(cap) and (finite > cap).any():
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                color="grey",
                label=f"loss > {cap:.3g} (off scale)",
                **{**_MARKERS["diverged"], "mfc": "none", "mec": "grey"},
            )
        )
    ax.legend(handles=handles, fontsize=8, loc="best")
    return fig


def bracket_table(plan_or_frame) -> pd.DataFrame:
    """Rows (iteration, bracket, rung, n_configs, resource)."""
    if isinstance(plan_or_frame, pd.DataFrame):
        frame = check_trials(plan_or_frame)
        return (
            frame.groupby(["iteration", "bracket", "rung"], sort=True)
            .agg(n_configs=("config_id", "nunique"), resource=("resource", "first"))
            .reset_index()
        )
    rows = []
    for b in plan_or_frame:
        for r in b.rungs:
            rows.append(
                {
                    "iteration": 0,
                    "bracket": b.s,
                    "rung": r.index,
                    "n_configs": r.n_configs,
                    "resource": float(r.resource),
                }
            )
    return pd.DataFrame(rows)


def plot_brackets(plan_or_frame, ax=None):
    """Bracket diagram: for each bracket, configs per rung vs the rung's resource (stairs, log
    axes), annotated with the counts. Accepts a plan (``Hyperband.plan``) or a trials frame."""
    table = bracket_table(plan_or_frame)
    fig, ax = new_axes(ax)
    colours = _bracket_colours(table["bracket"]) if len(table) else {}
    table = table.sort_values(["iteration", "bracket", "rung"], ascending=[True, False, True])
    for (it, s), rows in table.groupby(["iteration", "bracket"], sort=False):
        rows = rows.sort_values("rung")
        x, n = rows["resource"].to_numpy(float), rows["n_configs"].to_numpy(float)
        budget = float((x * n).sum())
        label = f"s={s}: {int(n[0])} configs, budget {budget:g}" + (f" (iter {it})" if it else "")
        ax.step(x, n, where="post", color=colours[s], lw=2, ls="-" if it == 0 else "--", label=label)
        ax.plot(x, n, "o", color=colours[s])
        for xi, ni in zip(x, n):
            ax.annotate(f"{int(ni)}", (xi, ni), textcoords="offset points", xytext=(4, 4), fontsize=8, color=colours[s])
    if len(table):
        ax.set_xscale("log")
        if table["n_configs"].max() > 10 * max(table["n_configs"].min(), 1):
            ax.set_yscale("log")
    ax.set_xlabel("resource per config (epochs)")
    ax.set_ylabel("configs in the rung")
    ax.set_title("Hyperband brackets: configs per rung")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _t_half(values: np.ndarray, confidence: float = 0.95) -> float:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return math.nan
    try:
        from scipy import stats

        q = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    except ImportError:
        q = 1.96
    return q * float(values.std(ddof=1)) / math.sqrt(n)


def _comparison_table(frame: pd.DataFrame) -> pd.DataFrame:
    """-> columns method, x, mean, half (one row per method and budget)."""
    cols = set(frame.columns)
    if "method" not in cols:
        raise ValueError("plot_comparison needs a 'method' column (the output of hbjax.strategies.compare)")
    if "best_loss_mean" in cols:  # summarize() output
        x = "budget" if "budget" in cols else "resource_spent_mean"
        half = next((c for c in frame.columns if c.startswith("best_loss_ci")), None)
        return pd.DataFrame(
            {
                "method": frame["method"],
                "x": frame[x],
                "mean": frame["best_loss_mean"],
                "half": frame[half] if half else np.nan,
            }
        )
    if "best_loss" not in cols:
        raise ValueError("plot_comparison needs best_loss (raw compare() frame) or best_loss_mean (summarize())")
    by = "budget" if "budget" in cols else None
    rows = []
    for keys, group in frame.groupby(["method", by] if by else ["method"], sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        loss = group["best_loss"].to_numpy(float)
        finite = loss[np.isfinite(loss)]
        x = keys[1] if by else float(group["resource_spent"].mean())
        rows.append(
            {
                "method": keys[0],
                "x": x,
                "mean": float(finite.mean()) if len(finite) else math.nan,
                "half": _t_half(loss),
            }
        )
    return pd.DataFrame(rows)


def plot_comparison(frame: pd.DataFrame, ax=None, *, baselines: Mapping[str, float] | None = None):
    """Best loss vs budget, one line per method with a 95% band over seeds (a point with an error
    bar when a method has a single budget); horizontal lines for ``baselines`` (e.g.
    ``{"persistence": 0.0427}``). Accepts ``compare()``'s raw frame (``method, seed, best_loss,
    resource_spent``, optional ``budget``) or ``summarize()``'s. -> Figure."""
    table = _comparison_table(frame)
    fig, ax = new_axes(ax)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
        rows = rows.sort_values("x")
        x, m, h = (rows[c].to_numpy(float) for c in ("x", "mean", "half"))
        colour = cmap(i % 10)
        if len(rows) > 1:
            ax.plot(x, m, "o-", color=colour, label=method)
            ok = np.isfinite(h)
            if ok.any():
                ax.fill_between(x[ok], (m - h)[ok], (m + h)[ok], color=colour, alpha=0.2, lw=0)
        else:
            ax.errorbar(x, m, yerr=np.where(np.isfinite(h), h, 0.0), fmt="o", color=colour, capsize=4, label=method)
    for j, (name, value) in enumerate((baselines or {}).items()):
        if value is not None and math.isfinite(value):
            ax.axhline(value, color="black", ls=["--", ":", "-."][j % 3], lw=1, label=f"{name} ({value:.4g})")
    values = table["mean"].to_numpy(float)
    values = np.concatenate([values, [v for v in (baselines or {}).values() if v is not None]])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > 100:
        ax.set_yscale("log")
    xs = table["x"].to_numpy(float)
    if len(xs) and xs.min() > 0 and xs.max() / xs.min() >= 10:
        ax.set_xscale("log")
    ax.set_xlabel("budget spent (config-epochs)")
    ax.set_ylabel("best validation loss (mean, 95% interval over seeds)")
    ax.set_title("Search strategies: best loss vs budget")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_anytime(
    curves: pd.DataFrame,
    ax=None,
    *,
    baselines: Mapping[str, float] | None = None,
    grid_points: int = 200,
    marks: Mapping[str, tuple] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
):
    """Best loss so far vs budget spent: per method the mean over seeds of each run's incumbent
    (a step function, evaluated on a common grid) with a 95% t-band; baselines as horizontal
    lines; ``marks``: {label: (xs, means, stds)} drawn as points with error bars (published
    checkpoints). ``curves``: rows of (method, seed, resource_spent, best_loss) from
    ``compare(curves=...)`` or ``run_protocol(curves=...)`` (there ``resource_spent`` counts
    function evaluations)."""
    from scipy import stats

    fig, ax = new_axes(ax)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    top = float(curves["resource_spent"].max())
    grid = np.linspace(0, top, grid_points)
    positive = []
    for i, (method, rows) in enumerate(curves.groupby("method", sort=False)):
        runs = []
        for _, run in rows.groupby("seed"):
            x, y = run["resource_spent"].to_numpy(float), run["best_loss"].to_numpy(float)
            idx = np.searchsorted(x, grid, side="right") - 1  # the incumbent after the last finished job
            runs.append(np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan))
        runs = np.array(runs)
        runs[~np.isfinite(runs)] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # grid points before a run's first result
            mean = np.nanmean(runs, axis=0)
            n = np.sum(np.isfinite(runs), axis=0)
            half = np.where(
                n > 1,
                stats.t.ppf(0.975, np.maximum(n - 1, 1)) * np.nanstd(runs, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1)),
                np.nan,
            )
        colour = cmap(i % 10)
        ax.plot(grid, mean, color=colour, label=f"{method} ({len(runs)} seeds)")
        ok = np.isfinite(half) & np.isfinite(mean)
        lower = np.maximum(mean - half, np.nanmin(runs) if np.isfinite(np.nanmin(runs)) else 0)
        ax.fill_between(grid[ok], lower[ok], (mean + half)[ok], color=colour, alpha=0.15, lw=0)
        positive.extend(v for v in mean if np.isfinite(v) and v > 0)
    for j, (name, value) in enumerate((baselines or {}).items()):
        if value is not None and math.isfinite(value):
            ax.axhline(value, color="black", ls=["--", ":", "-."][j % 3], lw=1, label=f"{name} ({value:.4g})")
            positive.append(value)
    for j, (name, (xs, means, stds)) in enumerate((marks or {}).items()):
        ax.errorbar(
            xs,
            means,
            yerr=stds,
            fmt=["D", "s", "^"][j % 3],
            color="black",
            mfc="white",
            ms=5,
            capsize=3,
            lw=1,
            label=name,
        )
        positive.extend(v for v in means if v > 0)
    if positive and min(positive) > 0 and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel or "budget spent (resource units: config-epochs or 1/R of the training set)")
    ax.set_ylabel(ylabel or "best validation loss so far (mean, 95% band over seeds)")
    ax.set_title(title or "Search strategies at equal budget: anytime performance")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_critical_difference(scores, ax=None, **kw):
    """Mean ranks with Nemenyi's critical difference (``cdplot.plot_critical_difference``)."""
    from .cdplot import plot_critical_difference as draw

    return draw(scores, ax, **kw)
