"""Search methods on the multi-fidelity test functions, over many seeds, with paired tests.

Hyperband, BOHB, random search, GP-BO and a genetic algorithm (hbjax's implementations) on
multi-fidelity Branin, Hartmann-3 and Hartmann-6 (``hbjax.testfunctions``), R=81, eta=3, at equal
budget (5 full Hyperband iterations' worth of resource per run), ``--seeds`` seeds each. Per
function and method: the final best value (median, mean, 95% CI), mean rank across methods, and a
paired one-sided Wilcoxon signed-rank test of Hyperband against every other method.

    python benchmarks/testfunction_compare.py --seeds 30      # ~1-2 minutes on 2 CPU cores
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, wait_for_quiet, write_json  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--methods", default="hyperband,bohb,random,bo,ga")
    p.add_argument("--out", type=Path, default=RESULTS / "testfunction_compare.json")
    args = p.parse_args(argv)
    load = wait_for_quiet()

    import numpy as np
    from scipy import stats

    from hbjax.strategies import compare, summarize
    from hbjax.testfunctions import FUNCTIONS, FunctionBackend

    R, methods = 81, [m.strip() for m in args.methods.split(",")]
    budget = 5 * 10 * R
    out, lines = {}, []
    for name in FUNCTIONS:
        t0 = time.perf_counter()
        df = compare(methods, lambda s, n=name: FunctionBackend(n, max_resource=R, seed=s),
                     FunctionBackend(name, max_resource=R).space(), budget=budget, seeds=range(args.seeds),
                     max_resource=R, eta=3)
        best = df.pivot(index="seed", columns="method", values="best_loss")[methods]
        ranks = best.rank(axis=1).mean()
        summary = summarize(df).set_index("method")
        rows = {}
        for m in methods:
            p_value = None if m == "hyperband" else float(
                stats.wilcoxon(best["hyperband"], best[m], alternative="less").pvalue)
            rows[m] = {"median_best": float(best[m].median()), "mean_best": float(best[m].mean()),
                       "ci95_best": float(summary.loc[m, "best_loss_ci95"]), "mean_rank": float(ranks[m]),
                       "p_hyperband_better": p_value,
                       "gap_to_minimum_median": float(best[m].median() - FUNCTIONS[name][2])}
        out[name] = {"seconds": time.perf_counter() - t0, "minimum": FUNCTIONS[name][2], "methods": rows,
                     "per_seed": best.reset_index().to_dict(orient="list")}
        lines.append(f"\n{name} (minimum {FUNCTIONS[name][2]:g}; {args.seeds} seeds, {time.perf_counter() - t0:.0f} s)")
        lines.append(f"{'method':10s} {'median':>9s} {'mean':>9s} {'+-95%':>8s} {'rank':>5s} {'p(HB better)':>12s}")
        for m, r in rows.items():
            pv = "" if r["p_hyperband_better"] is None else f"{r['p_hyperband_better']:.2g}"
            lines.append(f"{m:10s} {r['median_best']:9.4f} {r['mean_best']:9.4f} {r['ci95_best']:8.4f} "
                         f"{r['mean_rank']:5.2f} {pv:>12s}")
    print("\n".join(lines))
    write_json(args.out, {"benchmark": "testfunction_compare", "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          "machine": machine_info(), **load,
                          "settings": {"max_resource": R, "eta": 3, "budget_per_run": budget, "seeds": args.seeds,
                                       "methods": methods, "fidelity": "z = resource / R",
                                       "test": "one-sided paired Wilcoxon signed-rank, Hyperband < other"},
                          "functions": out})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
