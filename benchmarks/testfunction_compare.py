"""Search methods on the multi-fidelity test functions, over many seeds, with paired tests.

Hyperband, BOHB, random search, GP-BO and a genetic algorithm (hbjax's implementations) on
multi-fidelity Branin, Hartmann-3 and Hartmann-6 (``hbjax.problems.testfunctions``), R=81, eta=3, at equal
budget (5 full Hyperband iterations' worth of resource per run), ``--seeds`` seeds each. Per
function and method: the final best value (median, mean, 95% CI), mean rank across methods with a
bootstrap 95% interval, seeds Hyperband won / tied / lost, a paired one-sided Wilcoxon
signed-rank test of Hyperband against every other method (``p_hyperband_better``), and the
two-sided test with Holm correction across methods and a verdict
(``hbjax.strategies.summarize_stats``). ``--peers`` adds Optuna TPE + HyperbandPruner, Optuna
random search and DEHB (``pip install 'hbjax[peers]'``), run through the same backend and budget
accounting. Writes the JSON and a markdown table beside it (``--markdown``).

    python benchmarks/testfunction_compare.py --seeds 30      # ~1-2 minutes on 2 CPU cores
    python benchmarks/testfunction_compare.py --seeds 30 --peers
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, wait_for_quiet, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument(
        "--methods",
        default="hyperband,bohb,random,bo,ga",
        help="comma-separated strategy names (any of hbjax.strategies.STRATEGIES, peers included)",
    )
    p.add_argument("--peers", action="store_true", help="also run optuna-tpe-hb, optuna-random and dehb")
    p.add_argument("--functions", default="all", help="comma-separated test functions (default: all)")
    p.add_argument("--out", type=Path, default=RESULTS / "testfunction_compare.json")
    p.add_argument("--markdown", type=Path, default=None, help="markdown tables (default: --out with .md)")
    args = p.parse_args(argv)
    load = wait_for_quiet()

    from scipy import stats

    from hbjax.problems.testfunctions import FUNCTIONS, FunctionBackend
    from hbjax.strategies import compare, stats_markdown, summarize_stats
    from hbjax.strategies.peers import PEERS

    R, methods = 81, [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.peers:
        methods += [m for m in PEERS if m not in methods]
    functions = list(FUNCTIONS) if args.functions == "all" else [f.strip() for f in args.functions.split(",")]
    budget = 5 * 10 * R
    reference = "hyperband" if "hyperband" in methods else methods[0]
    out, lines, tables = {}, [], []
    for name in functions:
        t0 = time.perf_counter()
        df = compare(
            methods,
            lambda s, n=name: FunctionBackend(n, max_resource=R, seed=s),
            FunctionBackend(name, max_resource=R).space(),
            budget=budget,
            seeds=range(args.seeds),
            max_resource=R,
            eta=3,
        )
        seconds = time.perf_counter() - t0
        best = df.pivot(index="seed", columns="method", values="best_loss")[methods]
        full = summarize_stats(df, reference=reference)
        summary = full.set_index("method")
        rows = {}
        for m in methods:
            r = summary.loc[m]
            rows[m] = {
                "median_best": float(best[m].median()),
                "mean_best": float(best[m].mean()),
                "ci95_best": float(r["best_loss_ci95"]),
                "mean_rank": float(r["mean_rank"]),
                "mean_rank_ci95": [float(r["mean_rank_low"]), float(r["mean_rank_high"])],
                "p_hyperband_better": _one_sided(stats, best, reference, m),
                "gap_to_minimum_median": float(best[m].median() - FUNCTIONS[name][2]),
                "seconds_per_run": float(df[df.method == m]["seconds"].mean()),
                "evaluations_per_run": float(df[df.method == m]["evaluations"].mean()),
            }
            if m != reference:
                rows[m].update(
                    {
                        "wins": int(r["wins"]),
                        "ties": int(r["ties"]),
                        "losses": int(r["losses"]),
                        "median_diff": _num(r["median_diff"]),
                        "p_two_sided": _num(r["p_value"]),
                        "p_holm": _num(r["p_holm"]),
                        "reason": r["reason"],
                        "verdict": r["verdict"],
                    }
                )
        out[name] = {
            "seconds": seconds,
            "minimum": FUNCTIONS[name][2],
            "methods": rows,
            "per_seed": best.reset_index().to_dict(orient="list"),
        }
        title = (
            f"{name} (minimum {FUNCTIONS[name][2]:g}): best value after {budget} resource units, R={R}, eta=3, "
            f"{args.seeds} seeds"
        )
        tables.append(stats_markdown(full, title=title))
        lines.append(f"\n{name} (minimum {FUNCTIONS[name][2]:g}; {args.seeds} seeds, {seconds:.0f} s)")
        lines.append(
            f"{'method':14s} {'median':>9s} {'mean':>9s} {'+-95%':>8s} {'rank [95% CI]':>17s} "
            f"{'W/T/L':>8s} {'p(HB<)':>7s} {'p_holm':>7s}  verdict"
        )
        for m, r in rows.items():
            pv = "" if r["p_hyperband_better"] is None else f"{r['p_hyperband_better']:.2g}"
            lo, hi = r["mean_rank_ci95"]
            wtl = f"{r['wins']}/{r['ties']}/{r['losses']}" if "wins" in r else ""
            ph = "" if r.get("p_holm") is None else f"{r['p_holm']:.2g}"
            lines.append(
                f"{m:14s} {r['median_best']:9.4f} {r['mean_best']:9.4f} {r['ci95_best']:8.4f} "
                f"{r['mean_rank']:5.2f} [{lo:4.2f},{hi:4.2f}] {wtl:>8s} {pv:>7s} {ph:>7s}  "
                f"{r.get('verdict', 'reference')}"
            )
    print("\n".join(lines))
    write_json(
        args.out,
        {
            "benchmark": "testfunction_compare",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            **load,
            "settings": {
                "max_resource": R,
                "eta": 3,
                "budget_per_run": budget,
                "seeds": args.seeds,
                "methods": methods,
                "reference": reference,
                "fidelity": "z = resource / R",
                "peer_versions": _peer_versions(methods),
                "test": (
                    f"p_hyperband_better: one-sided paired Wilcoxon signed-rank, "
                    f"{reference} < other; p_two_sided / p_holm: two-sided, "
                    f"Holm-corrected across methods"
                ),
                "rank_interval": "percentile bootstrap over seeds, 10000 resamples, seed 0",
            },
            "functions": out,
        },
    )
    markdown = args.markdown or args.out.with_suffix(".md")
    markdown.write_text("\n".join(tables))
    print(f"wrote {args.out} and {markdown}")
    return 0


def _num(x):
    x = float(x)
    return None if x != x else x  # NaN -> null in the JSON


def _one_sided(stats, best, reference, m):
    """One-sided paired Wilcoxon p (reference < m), None for the reference itself or when the
    test cannot run (all differences zero, non-finite values)."""
    if m == reference:
        return None
    a, b = best[reference].to_numpy(dtype=float), best[m].to_numpy(dtype=float)
    keep = (a == a) & (b == b) & (abs(a) != float("inf")) & (abs(b) != float("inf"))
    if not (a[keep] != b[keep]).any():
        return None
    return float(stats.wilcoxon(a[keep], b[keep], alternative="less").pvalue)


def _peer_versions(methods) -> dict:
    versions = {}
    for module, names in (("optuna", ("optuna-tpe-hb", "optuna-random")), ("dehb", ("dehb",))):
        if any(n in methods for n in names):
            from importlib.metadata import PackageNotFoundError, version

            try:
                versions[module] = version(module)
            except PackageNotFoundError:
                versions[module] = None
    return versions


if __name__ == "__main__":
    sys.exit(main())
