"""DEHB's published protocol on the field's shared benchmarks, for every method hbjax has.

MFHartmann-3/6 (mf-prior-bench's definition, default preset: bias 0.5, noise 0.1; fidelity z in
3..100) and Counting Ones (50 + 50 dimensions, budget 5.76..933.12 draws), as DEHB's
``benchmarking/`` runs them: 300 function evaluations per run (every evaluation at any fidelity
counts one), eta 3, the incumbent (best value seen, at any fidelity) after 60/120/180/240/300
evaluations, mean +- population std over seeds. Methods: hbjax's Hyperband, BOHB, successive
halving, random search, GP-BO and GA, and the peers Optuna (TPE + Hyperband pruner, random) and
DEHB 0.1.1 itself through its ask/tell, one job at a time (DEHB's sequential schedule, as its
benchmark runs it with one worker). DEHB's published 0.1.1 and 0.1.2 rows (5 seeds) are quoted
beside; the ranks and Holm-corrected paired Wilcoxon tests at 300 evaluations are
``hbjax compare``'s. With ``--seeds 100`` it also says, per benchmark, which method a 10-seed
study would have called the winner in each block of 10 seeds.

    python benchmarks/dehb_protocol.py --seeds 10     # the whole 10-seed protocol (time it)
    python benchmarks/dehb_protocol.py --seeds 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, wait_for_quiet, write_json

METHODS = "hyperband,bohb,sh,random,bo,ga,optuna-tpe-hb,optuna-random,dehb"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--methods", default=METHODS)
    p.add_argument("--benchmarks", default="mfh3,mfh6,counting-ones")
    p.add_argument("--preset", default="default", help="MFHartmann preset (default, good, moderate, bad, terrible)")
    p.add_argument("--fevals", type=int, default=300)
    p.add_argument(
        "--min-fidelity",
        type=float,
        default=None,
        help="MFHartmann's lowest fidelity (default 3, as mf-prior-bench <= 1.8.1 and the issue; 1: as "
        "mf-prior-bench >= 1.9, DEHB then runs 5 rungs from z=1)",
    )
    p.add_argument("--out", type=Path, default=None, help="directory (default benchmarks/results/dehb_protocol)")
    args = p.parse_args(argv)
    load = wait_for_quiet()

    from hbjax.problems.mfbench import MFBenchmarkBackend
    from hbjax.strategies.peers import PEERS
    from hbjax.strategies.protocol import (
        PUBLISHED,
        protocol_markdown,
        protocol_options,
        protocol_table,
        run_protocol,
        seed_winners,
    )

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    missing = []
    for m in [m for m in methods if m in PEERS]:
        try:
            __import__("dehb" if m == "dehb" else "optuna")
        except ImportError:
            missing.append(m)
    methods = [m for m in methods if m not in missing]
    out_dir = args.out or RESULTS / "dehb_protocol"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "benchmark": "dehb_protocol",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "seeds": args.seeds,
        "fevals": args.fevals,
        "eta": 3,
        "methods": methods,
        "skipped_methods": missing,
        "preset": args.preset,
        "benchmarks": {},
    }
    t_all = time.perf_counter()
    for name in [b.strip() for b in args.benchmarks.split(",") if b.strip()]:
        preset = args.preset if name != "counting-ones" else "default"
        low = args.min_fidelity if name != "counting-ones" else None
        probe = MFBenchmarkBackend(name, preset=preset, min_fidelity=low)
        options = protocol_options(probe)
        t0 = time.perf_counter()
        raw = run_protocol(
            methods,
            lambda s, n=name, pr=preset, lo=low: MFBenchmarkBackend(n, preset=pr, seed=s, min_fidelity=lo),
            probe.space(),
            seeds=range(args.seeds),
            max_resource=probe.max_resource,
            eta=3,
            fevals=args.fevals,
            options=options,
        )
        seconds = time.perf_counter() - t0
        scale = 100.0 if name == "counting-ones" else 1.0
        published = PUBLISHED.get(name, {}) if preset == "default" else {}
        tag = (name if preset == "default" else f"{name}_{preset}") + (f"_z{low:g}" if low is not None else "")
        title = f"{probe.describe()}: {args.seeds} seeds, {args.fevals} function evaluations, eta 3"
        text = protocol_markdown(
            name, raw, published=published, scale=scale, title=title, fidelity=(probe.min_fidelity, probe.max_fidelity)
        )
        winners = seed_winners(raw) if args.seeds >= 20 else None
        if winners:
            text += (
                f"\nOver all {args.seeds} seeds the lowest mean incumbent at {args.fevals} evaluations is "
                f"{winners['winner']}'s; {winners['blocks_naming_another_winner']} of the {winners['blocks']} "
                f"blocks of {winners['block']} consecutive seeds would have named another method "
                f"({', '.join(winners['block_winners'])}).\n"
            )
        text += f"\n({seconds:.0f} s for every method and seed on {summary['machine']['cpu_count']} CPU cores.)\n"
        stem = f"{tag}_{args.seeds}seeds"
        (out_dir / f"{stem}.md").write_text(text)
        raw.to_csv(out_dir / f"{stem}.csv", index=False)
        table = protocol_table(raw, scale=scale)
        summary["benchmarks"][tag] = {
            "seconds": seconds,
            "description": probe.describe(),
            "table": table.to_dict(orient="records"),
            "published": published,
            "winners": winners,
        }
        print(text, flush=True)
    summary["seconds"] = time.perf_counter() - t_all
    summary["load_average_at_end"] = wait_for_quiet()["load_average_at_start"]
    suffix = "" if args.min_fidelity is None else f"_z{args.min_fidelity:g}"
    write_json(out_dir / f"dehb_protocol_{args.seeds}seeds{suffix}.json", summary)
    print(f"all benchmarks: {summary['seconds']:.0f} s; wrote {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
