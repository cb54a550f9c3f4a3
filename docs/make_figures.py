"""Regenerates the README's figures into docs/images/ (about a minute on 2 CPU cores):

* ``losses.png``: a small Hyperband run over LSTMs on NVDA (demo space, R=9, the most recent fold),
  every config's loss per rung, a marker where it was pruned;
* ``brackets.png``: the bracket diagram of Hyperband R=81, eta=3;
* ``comparison.png``: Hyperband, BOHB, random search, GP-BO and a GA on multi-fidelity
  Hartmann-6 at equal budget over 20 seeds (``hbjax.problems.testfunctions``).

    python docs/make_figures.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HBJAX_CPU_DEVICES", "1")

import matplotlib

matplotlib.use("Agg")

import hbjax as hb
from hbjax.brackets import hyperband_plan
from hbjax.reports.plots import plot_brackets, plot_losses

IMAGES = Path(__file__).resolve().parent / "images"


def plot_final_values(raw, *, minimum: float, title: str):
    """Every seed's final best value per method (dots) with the mean and its 95% interval: at one
    equal budget, a strip plot says more than curves that all end at the same x."""
    import matplotlib.pyplot as plt
    import numpy as np
    from scipy import stats

    fig, ax = plt.subplots(figsize=(8, 4.5))
    methods = list(dict.fromkeys(raw["method"]))
    rng = np.random.default_rng(0)
    for i, m in enumerate(methods):
        v = raw.loc[raw["method"] == m, "best_loss"].to_numpy(float)
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=14, alpha=0.5)
        half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
        ax.errorbar(i + 0.3, v.mean(), yerr=half, fmt="o", color="black", capsize=4)
    ax.axhline(minimum, color="grey", ls="--", lw=1, label=f"minimum {minimum:g}")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("best value found")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def main() -> None:
    import numpy as np

    from hbjax.data import SeriesTask, load_delhi_climate
    from hbjax.lstm.backend import LSTMBackend, demo_space
    from hbjax.problems.testfunctions import FunctionBackend
    from hbjax.strategies import compare

    IMAGES.mkdir(parents=True, exist_ok=True)
    task = SeriesTask(load_delhi_climate(), max_folds=2)
    result = hb.Hyperband(demo_space(), max_resource=9, eta=3, seed=0).run(LSTMBackend(task, seed=0))
    fig = plot_losses(
        result.to_frame(), title="Hyperband R=9 over LSTMs on daily Delhi temperature (demo space, 2 folds)"
    )
    ax = fig.axes[0]
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], 1.0, " persistence", va="bottom", fontsize=8, color="grey")
    ax.set_ylabel("validation MSE / persistence's (1 - skill)")
    losses = result.to_frame()["loss"]
    top = 1.25  # zoom on the region around persistence; say what lies above it
    ax.set_ylim(min(0.85, float(losses.min()) - 0.02), top)
    for line in ax.lines:  # diverged markers sit at the top edge of the new range
        if line.get_gid() in ("diverged", "offscale"):
            line.set_ydata([top] * len(line.get_xdata()))
            line.set_clip_on(False)
    above = int(((losses > top) & np.isfinite(losses)).sum())
    if above:
        ax.text(
            0.02,
            0.97,
            f"{above} rung loss(es) above {top} not shown",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="grey",
        )
    fig.savefig(IMAGES / "losses.png", dpi=110, bbox_inches="tight")
    ax = plot_brackets(hyperband_plan(81, 3))
    ax.figure.savefig(IMAGES / "brackets.png", dpi=110, bbox_inches="tight")
    raw = compare(
        ["hyperband", "bohb", "random", "bo", "ga"],
        lambda s: FunctionBackend("hartmann6", max_resource=81, seed=s),
        FunctionBackend("hartmann6", max_resource=81).space(),
        budget=5 * 10 * 81,
        seeds=range(20),
        max_resource=81,
        eta=3,
    )
    fig = plot_final_values(
        raw, minimum=-3.32237, title="multi-fidelity Hartmann-6, equal budget (4,050), 20 seeds; lower is better"
    )
    fig.savefig(IMAGES / "comparison.png", dpi=110, bbox_inches="tight")
    for name in ("losses.png", "brackets.png", "comparison.png"):
        print(f"wrote {IMAGES / name}")


if __name__ == "__main__":
    main()
