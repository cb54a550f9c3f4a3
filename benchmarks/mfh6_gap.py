"""Is DEHB's published MFHartmann-6 row within DEHB's own seed-to-seed spread under hbjax's
harness? From the committed 100-seed study (``results/dehb_protocol/mfh6_z1_100seeds.csv``: DEHB
0.1.1 through its ask/tell, z in 1..100): the distribution of 5-seed means and stds of the
incumbent after 300 evaluations (100,000 random 5-seed subsets), and where each published row
(5 seeds) falls in it. Writes ``results/dehb_protocol/mfh6_gap.json``.

    python benchmarks/mfh6_gap.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from hbjax.strategies.protocol import PUBLISHED

RESULTS = Path(__file__).resolve().parent / "results" / "dehb_protocol"


def main() -> None:
    raw = pd.read_csv(RESULTS / "mfh6_z1_100seeds.csv")
    values = raw.loc[raw.method == "dehb"].sort_values("seed").inc_300.to_numpy(float)
    rng = np.random.default_rng(0)
    subsets = np.array([rng.choice(values, 5, replace=False) for _ in range(100_000)])
    means, stds = subsets.mean(axis=1), subsets.std(axis=1)
    out = {
        "source": "mfh6_z1_100seeds.csv (DEHB 0.1.1 via ask/tell, z in 1..100, 300 evaluations)",
        "seeds": int(len(values)),
        "mean_300": float(values.mean()),
        "std_300": float(values.std()),
        "five_seed_mean_quantiles": {q: float(np.quantile(means, q)) for q in (0.001, 0.025, 0.5, 0.975)},
        "published": {},
    }
    for version, (pub_means, pub_stds) in PUBLISHED["mfh6"].items():
        out["published"][version] = {
            "mean_300": pub_means[-1],
            "std_300": pub_stds[-1],
            "share_of_5_seed_means_at_or_below": float(np.mean(means <= pub_means[-1])),
            "share_of_5_seed_stds_at_or_below": float(np.mean(stds <= pub_stds[-1])),
        }
    (RESULTS / "mfh6_gap.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
