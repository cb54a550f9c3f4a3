"""The pictures of the committed 100-seed protocol studies (``results/dehb_protocol/*_100seeds.csv``):
per benchmark the incumbent at DEHB's five checkpoints (mean and 95% band over the 100 seeds,
DEHB's published rows marked), and across the three benchmarks the mean ranks after 300
evaluations with Nemenyi's critical difference (blocks: benchmark x seed). Into docs/images/.

    python benchmarks/protocol_pictures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from hbjax.reports.plots import plot_anytime, plot_critical_difference
from hbjax.strategies.protocol import CHECKPOINTS, PUBLISHED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "dehb_protocol"
IMAGES = ROOT / "docs" / "images"
STUDIES = {
    "mfh3": ("mfh3_z1_100seeds.csv", "MFHartmann-3 (z in 1..100)", 1.0),
    "mfh6": ("mfh6_z1_100seeds.csv", "MFHartmann-6 (z in 1..100)", 1.0),
    "counting-ones": ("counting-ones_100seeds.csv", "Counting Ones (50 + 50 dims), value / 100", 100.0),
}


def main() -> None:
    finals = []
    for name, (file, title, scale) in STUDIES.items():
        raw = pd.read_csv(RESULTS / file)
        curves = raw.melt(
            id_vars=["method", "seed"],
            value_vars=[f"inc_{k}" for k in CHECKPOINTS],
            var_name="k",
            value_name="best_loss",
        )
        curves["resource_spent"] = curves.pop("k").str[4:].astype(float)
        curves["best_loss"] /= scale
        curves = curves.sort_values(["method", "seed", "resource_spent"], kind="stable")
        marks = {
            f"DEHB {v}, published (5 seeds, mean ± std)": (
                list(CHECKPOINTS),
                [m / scale for m in means],
                [s / scale for s in stds],
            )
            for v, (means, stds) in PUBLISHED[name].items()
        }
        fig = plot_anytime(
            curves,
            marks=marks,
            xlabel="function evaluations (DEHB's checkpoints)",
            ylabel="incumbent (mean, 95% band over 100 seeds)",
            title=f"{title}: DEHB's protocol",
        )
        fig.savefig(IMAGES / f"protocol_{name}_100seeds.png", dpi=110)
        plt.close(fig)
        finals.append(raw.assign(block=name + ":" + raw.seed.astype(str)))
    scores = pd.concat(finals).pivot(index="block", columns="method", values="inc_300")
    fig = plot_critical_difference(
        scores,
        title=f"mean rank after 300 evaluations over mfh3, mfh6 and Counting Ones x 100 seeds ({len(scores)} blocks)",
    )
    fig.savefig(IMAGES / "protocol_ranks_100seeds.png", dpi=110)
    plt.close(fig)
    print(f"wrote {IMAGES}/protocol_*_100seeds.png")


if __name__ == "__main__":
    main()
