"""DEHB's benchmarking protocol (``benchmarking/`` of the DEHB repository) for every strategy.

A run is counted in function evaluations: every evaluation of a config at any fidelity is one.
The incumbent after k evaluations is the best value seen in the first k (at any fidelity, noise
included: DEHB's ``inc_score``); DEHB's table gives it at 60, 120, 180, 240 and 300 evaluations,
as the mean and the population standard deviation (ddof 0) over seeds. Within a vectorised job
the evaluations count in the job's config order.

A strategy here runs until it has made ``fevals`` evaluations (its resource budget is never the
limit) and is then stopped; only its first ``fevals`` evaluations count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "CHECKPOINTS",
    "PUBLISHED",
    "dehb_agreement",
    "incumbents",
    "protocol_markdown",
    "protocol_options",
    "protocol_table",
    "run_protocol",
    "seed_winners",
]

CHECKPOINTS = (60, 120, 180, 240, 300)

#: DEHB's published table (``benchmarking/results/benchmark_results.md``, 5 seeds, 300 evaluations,
#: eta 3): incumbent mean and std at 60..300 evaluations. Counting Ones: the mean divided by the
#: 100 dimensions, the std NOT (raw units), as DEHB's ``countingones_benchmark.py`` computes them
PUBLISHED = {
    "mfh3": {
        "0.1.2": ([-2.861, -3.506, -3.722, -3.741, -3.741], [0.06878, 0.07627, 0.08690, 0.09849, 0.09849]),
        "0.1.1": ([-2.695, -3.297, -3.710, -3.793, -3.793], [0.1147, 0.1682, 0.03267, 0.04399, 0.04399]),
    },
    "mfh6": {
        "0.1.2": ([-1.494, -1.869, -2.175, -2.314, -2.314], [0.2482, 0.2609, 0.2059, 0.2622, 0.2622]),
        "0.1.1": ([-1.405, -1.972, -2.766, -2.913, -2.947], [0.3141, 0.4021, 0.3271, 0.1850, 0.1470]),
    },
    "counting-ones": {
        "0.1.2": ([-0.5756, -0.5850, -0.5981, -0.6158, -0.6165], [1.409, 1.115, 0.3090, 1.976, 1.900]),
        "0.1.1": ([-0.5867, -0.5902, -0.6035, -0.6101, -0.6158], [1.743, 1.529, 1.002, 1.636, 1.365]),
    },
}


#: above this many encoded features GP-BO fits one shared length scale instead of one per feature
ARD_MAX_FEATURES = 20

#: the fidelity range of the published protocol (DEHB's ``benchmarking/`` with mf-prior-bench 1.9.0)
PUBLISHED_FIDELITY = {"mfh3": (1.0, 100.0), "mfh6": (1.0, 100.0), "counting-ones": (5.76, 933.12)}


def protocol_options(backend) -> dict:
    """The strategy options the protocol runs with: DEHB from the benchmark's lowest fidelity, one
    job at a time (DEHB's sequential schedule, as its benchmark runs it with one worker); GP-BO in
    batches of 32 (its GP refit is the protocol's slowest step: 26 s a run in batches of 4), with
    one shared length scale on a space of more than ``ARD_MAX_FEATURES`` features (Counting Ones'
    100: one per feature took over 8 minutes for 10 seeds)."""
    from .encoding import Codec

    ard = Codec(backend.space()).n_dims <= ARD_MAX_FEATURES
    return {"dehb": {"min_resource": backend.min_resource, "batch_size": 1}, "bo": {"batch_size": 32, "ard": ard}}


class _Enough(Exception):
    """Raised by the recorder once a run has made its evaluations: the run stops there."""


def incumbents(values: Sequence[float], checkpoints: Sequence[int] = CHECKPOINTS) -> list[float]:
    """The best finite value among the first k evaluations, for each k of ``checkpoints``."""
    best = np.minimum.accumulate(np.where(np.isfinite(values), values, np.inf)) if len(values) else np.array([])
    return [float(best[k - 1]) if len(best) >= k else math.nan for k in checkpoints]


def run_protocol(
    methods: Sequence[str],
    make_backend,
    space,
    *,
    seeds: Sequence[int],
    max_resource,
    eta: int = 3,
    fevals: int = 300,
    options: Mapping[str, Mapping] | None = None,
    checkpoints: Sequence[int] = CHECKPOINTS,
    curves: list | None = None,
) -> pd.DataFrame:
    """One row per (method, seed): ``inc_<k>`` (the incumbent after k evaluations), ``evaluations``
    (made before it stopped), ``seconds``. ``make_backend(seed)`` gives a fresh backend.
    ``curves``: a list that gets one row per evaluation of every run (method, seed,
    resource_spent = evaluations so far, best_loss = the incumbent), for ``plots.plot_anytime``."""
    from . import make_strategy, method_label

    options = dict(options or {})
    rows = []
    for entry in methods:
        method = method_label(entry)
        for seed in seeds:
            backend = make_backend(seed)
            strategy = make_strategy(
                entry, space, max_resource=max_resource, eta=eta, seed=int(seed), **dict(options.get(method, {}))
            )
            values: list[float] = []

            def record(job, losses, state, seconds, values=values):
                values.extend(float(v) for v in np.asarray(losses, dtype=float).ravel())
                if len(values) >= fevals:
                    raise _Enough

            t0 = time.perf_counter()
            try:  # a budget no run reaches: every evaluation at the highest fidelity, twice over
                strategy.run(backend, budget=2 * fevals * float(max_resource), callbacks=[record])
            except _Enough:
                pass
            row = {
                "method": method,
                "seed": int(seed),
                "evaluations": min(len(values), fevals),
                "seconds": time.perf_counter() - t0,
            }
            row.update({f"inc_{k}": v for k, v in zip(checkpoints, incumbents(values[:fevals], checkpoints))})
            rows.append(row)
            if curves is not None:
                best = np.fmin.accumulate(np.where(np.isfinite(values[:fevals]), values[:fevals], np.nan))
                curves.extend(
                    {"method": method, "seed": int(seed), "resource_spent": float(k + 1), "best_loss": float(v)}
                    for k, v in enumerate(best)
                )
    return pd.DataFrame(rows)


def protocol_table(raw: pd.DataFrame, *, scale: float = 1.0, checkpoints: Sequence[int] = CHECKPOINTS) -> pd.DataFrame:
    """Per method: mean and population std (ddof 0, as DEHB) of the incumbent at each checkpoint;
    ``scale`` divides the mean only (DEHB's Counting Ones: 100)."""
    out = []
    for method, group in raw.groupby("method", sort=False):
        row = {"method": method, "seeds": len(group)}
        for k in checkpoints:
            v = group[f"inc_{k}"].to_numpy(dtype=float)
            row[f"mean_{k}"] = float(np.mean(v)) / scale
            row[f"std_{k}"] = float(np.std(v))
        out.append(row)
    return pd.DataFrame(out)


def seed_winners(raw: pd.DataFrame, *, metric: str = "inc_300", block: int = 10) -> dict:
    """Which method has the lowest mean ``metric`` over all seeds, and over each block of
    ``block`` consecutive seeds: how often a study of that many seeds would name another winner."""
    means = raw.groupby("method")[metric].mean()
    overall = str(means.idxmin())
    seeds = sorted(raw.seed.unique())
    blocks = []
    for i in range(0, len(seeds) - block + 1, block):
        part = raw[raw.seed.isin(seeds[i : i + block])]
        blocks.append(str(part.groupby("method")[metric].mean().idxmin()))
    return {
        "winner": overall,
        "block": block,
        "block_winners": blocks,
        "blocks_naming_another_winner": sum(b != overall for b in blocks),
        "blocks": len(blocks),
    }


def dehb_agreement(
    table: pd.DataFrame,
    published: Mapping,
    *,
    version: str = "0.1.1",
    scale: float = 1.0,
    method: str = "dehb",
    checkpoints: Sequence[int] = CHECKPOINTS,
) -> list[dict]:
    """Per checkpoint: hbjax's ``method`` row beside the published row of ``version``, and whether
    their means differ by at most one published standard deviation (in the table's units: the
    mean is divided by ``scale``, the std is not)."""
    row = table[table.method == method]
    if row.empty or version not in published:
        return []
    row = row.iloc[0]
    means, stds = published[version]
    out = []
    for k, mean, std in zip(checkpoints, means, stds):
        diff = abs(float(row[f"mean_{k}"]) - mean) * scale
        out.append(
            {
                "evaluations": k,
                "hbjax": float(row[f"mean_{k}"]),
                "hbjax_std": float(row[f"std_{k}"]),
                "published": mean,
                "published_std": std,
                "within_one_std": bool(diff <= std),
            }
        )
    return out


def protocol_markdown(
    name: str,
    raw: pd.DataFrame,
    *,
    published: Mapping | None = None,
    scale: float = 1.0,
    title: str | None = None,
    reference: str = "hyperband",
    checkpoints: Sequence[int] = CHECKPOINTS,
    fidelity: tuple | None = None,
) -> str:
    """DEHB's table for ``raw`` (``run_protocol``'s rows), the published rows beside it (with the
    published protocol's fidelity range, and a warning where ``fidelity``, the run's (low, high),
    differs from it), the DEHB agreement check, and the ranks and Holm-corrected paired tests at
    the last checkpoint."""
    from .compare import stats_markdown, summarize_stats

    table = protocol_table(raw, scale=scale, checkpoints=checkpoints)
    unit = " (mean / 100, std in raw units, as DEHB reports it)" if scale != 1.0 else ""
    lines = [
        f"**{title or name}: incumbent after k function evaluations, mean ± std over seeds{unit}**",
        "",
        "| method | seeds | " + " | ".join(str(k) for k in checkpoints) + " |",
        "|---|---:|" + "---:|" * len(checkpoints),
    ]
    for row in table.to_dict(orient="records"):
        lines.append(
            f"| {row['method']} | {row['seeds']} | "
            + " | ".join(f"{row[f'mean_{k}']:.4g} ± {row[f'std_{k}']:.3g}" for k in checkpoints)
            + " |"
        )
    for version, (means, stds) in (published or {}).items():
        lines.append(
            f"| *DEHB {version}, published (5 seeds)* | 5 | "
            + " | ".join(f"{m:.4g} ± {s:.3g}" for m, s in zip(means, stds))
            + " |"
        )
    if published and name in PUBLISHED_FIDELITY:
        low, high = PUBLISHED_FIDELITY[name]
        lines += [
            "",
            f"Published rows: DEHB's `benchmarking/` (DEHB's table, 5 seeds; mf-prior-bench 1.9.0), fidelity "
            f"{low:g}..{high:g}, eta 3.",
        ]
        if fidelity is not None and (abs(fidelity[0] - low) > 1e-9 or abs(fidelity[1] - high) > 1e-9):
            lines.append(
                f"**This table's fidelity runs {fidelity[0]:g}..{fidelity[1]:g}, not the published "
                f"protocol's {low:g}..{high:g}: its rows and the published ones are not the same protocol.**"
            )
    agreement = dehb_agreement(table, published or {}, scale=scale, checkpoints=checkpoints)
    if agreement:
        inside = sum(a["within_one_std"] for a in agreement)
        lines += [
            "",
            f"hbjax's DEHB row (DEHB 0.1.1 itself, through its ask/tell) is within one published standard "
            f"deviation of the published 0.1.1 row at {inside} of {len(agreement)} checkpoints.",
        ]
    last = f"inc_{checkpoints[-1]}"
    frame = raw.drop(
        columns=[c for c in raw.columns if c.startswith("inc_") and c != last] + ["seconds", "evaluations"]
    )
    stats_df = summarize_stats(frame, reference=reference if reference in set(raw.method) else None, metric=last)
    lines += ["", stats_markdown(stats_df, title=f"{title or name}: the incumbent after {checkpoints[-1]} evaluations")]
    return "\n".join(lines) + "\n"
