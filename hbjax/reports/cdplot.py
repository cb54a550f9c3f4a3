"""Mean ranks with Nemenyi's critical difference (Demsar 2006, JMLR 7): the field's picture for
ranking methods over many problems.

``scores``: one row per block (a seed of a benchmark, or a benchmark), one column per method,
lower is better. Methods are ranked within each block (ties share the mean rank; a missing or
non-finite score ranks last); the critical difference ``q_alpha * sqrt(k (k + 1) / (6 N))`` (q:
the studentized range at ``k`` methods, infinite degrees of freedom, over sqrt 2) says how far
apart two mean ranks must be before the Nemenyi test calls them different. Methods closer than
that are joined by a bar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["cliques", "critical_difference", "mean_ranks", "plot_critical_difference"]


def mean_ranks(scores: pd.DataFrame) -> pd.Series:
    """Each method's mean rank over the blocks (rank 1 = best), best first."""
    values = scores.apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    ranks = values.rank(axis=1, method="average", na_option="bottom")
    return ranks.mean(axis=0).sort_values()


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks for ``k`` methods over ``n`` blocks."""
    from scipy.stats import studentized_range

    if k < 2 or n < 1:
        raise ValueError(f"a critical difference needs >= 2 methods and >= 1 block, got k={k}, n={n}")
    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def cliques(ranks: pd.Series, cd: float) -> list[tuple[int, int]]:
    """Maximal runs ``[i, j]`` (positions in ``ranks``, sorted best first) whose mean ranks lie
    within ``cd`` of each other: groups the test cannot tell apart."""
    r = ranks.to_numpy(float)
    runs = []
    for i in range(len(r)):
        j = i
        while j + 1 < len(r) and r[j + 1] - r[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


def plot_critical_difference(scores: pd.DataFrame, ax=None, *, alpha: float = 0.05, title: str | None = None):
    """Demsar's diagram of ``scores`` (see the module doc); returns the figure."""
    from .figures import new_axes

    ranks = mean_ranks(scores)
    k, n = len(ranks), len(scores)
    cd = critical_difference(k, n, alpha)
    half = math.ceil(k / 2)
    fig, ax = new_axes(ax, figsize=(8, 1.6 + 0.32 * k))
    ax.set_xlim(-1.5, k + 2.5)  # room for the labels beside the rank axis
    ax.set_ylim(-0.6 - 0.5 * half - 0.3, 1.6)
    ax.axis("off")
    ax.plot([1, k], [0, 0], color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.12], color="black", lw=1)
        ax.text(r, 0.22, str(r), ha="center", va="bottom", fontsize=8)
    ax.plot([1, 1 + cd], [1.1, 1.1], color="black", lw=2)
    ax.text(
        1 + cd / 2, 1.2, f"CD = {cd:.2f} (Nemenyi, alpha {alpha:g}, {n} blocks)", ha="center", va="bottom", fontsize=8
    )
    for i, (method, rank) in enumerate(ranks.items()):
        left = i < half  # the better half labelled on the left (rank 1 is the left end)
        depth = -0.6 - 0.5 * (i if left else k - 1 - i)
        x_label = 0.7 if left else k + 0.3
        ax.plot([rank, rank, x_label], [0, depth, depth], color="black", lw=0.8)
        ax.text(x_label, depth, f" {method} ({rank:.2f}) ", ha="right" if left else "left", va="center", fontsize=8)
    for level, (i, j) in enumerate(cliques(ranks, cd)):
        y = -0.3 - 0.12 * level
        ax.plot([ranks.iloc[i] + 0.03, ranks.iloc[j] - 0.03], [y, y], color="tab:red", lw=3, solid_capstyle="round")
    ax.set_title(title or "mean rank (1 = best) with Nemenyi's critical difference", fontsize=9)
    return fig
