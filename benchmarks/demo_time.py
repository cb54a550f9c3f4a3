"""``hbjax demo`` as a user runs it: cold (no compile cache, as on a fresh machine) and warm.

    JAX_PLATFORMS=cpu python benchmarks/demo_time.py [--repeats 2] [--threads 1 2]   # ~8 minutes on 2 cores

Each run is the command itself in a fresh process (``hbjax demo --out TMP``): its wall seconds
(imports, data, baselines, the run, the held-out test), and from its ``summary.json`` the run's
seconds, how long the devices sat idle waiting for compiles, how long the dispatch waited, and
each program's compile seconds in the run. Cold runs set ``HBJAX_NO_COMPILE_CACHE=1``; warm runs
read a compile cache one unmeasured run filled. Cold runs are repeated for each compile-thread
count in ``--threads`` (``HBJAX_COMPILE_THREADS``; the first is the default's comparison), warm
with the default; runs alternate so that neither kind always runs on a quieter machine. Every run
trains the same configs (the demo's seed), so seconds compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, load_average, machine_info, write_json


def run_demo(env: dict, out: Path) -> dict:
    load = load_average()
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "hbjax.cli", "demo", "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hbjax demo failed:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "wall_s": wall,
        "run_s": summary["seconds"],
        "compile_idle_s": summary["compile_idle_s"],
        "compile_idle_share": summary["compile_idle_share"],
        "compile_wait_s": summary["compile_wait_s"],
        "compiles": summary["compiles"],
        "best_val_loss": summary["best_val_loss"],
        "program_compile_s": {p["program"]: p["compile_s"] for p in summary["program_memory"]},
        "load_average_at_start": load,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="compile threads of the cold runs")
    p.add_argument("--out", type=Path, default=RESULTS / "demo_time_cpu.json")
    args = p.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if k not in ("HBJAX_NO_COMPILE_CACHE", "HBJAX_COMPILE_THREADS")}
    base.setdefault("JAX_PLATFORMS", "cpu")
    rows: dict[str, list] = {f"cold_threads{t}": [] for t in args.threads}
    rows["warm"] = []
    with tempfile.TemporaryDirectory(prefix="hbjax-demo-time-") as tmp:
        warm_env = dict(base, HBJAX_CACHE_DIR=str(Path(tmp) / "xla"))
        run_demo(warm_env, Path(tmp) / "prime")  # fills the warm runs' compile cache
        for r in range(args.repeats):
            kinds = [
                (f"cold_threads{t}", dict(base, HBJAX_NO_COMPILE_CACHE="1", HBJAX_COMPILE_THREADS=str(t)))
                for t in args.threads
            ] + [("warm", warm_env)]
            for name, env in kinds if r % 2 == 0 else kinds[::-1]:
                row = run_demo(env, Path(tmp) / f"{name}-{r}")
                rows[name].append(row)
                print(
                    f"{name}: {row['wall_s']:.1f} s wall, run {row['run_s']:.1f} s, devices idle for compiles "
                    f"{row['compile_idle_s']:.1f} s, load {row['load_average_at_start']}",
                    flush=True,
                )
    losses = {row["best_val_loss"] for runs in rows.values() for row in runs}
    median = {name: statistics.median(row["wall_s"] for row in runs) for name, runs in rows.items()}
    default_cold = f"cold_threads{args.threads[0]}"
    write_json(
        args.out,
        {
            "benchmark": "demo_time",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            "command": "hbjax demo (R=9, eta=3, 5 NVDA folds, the demo space, seed 0)",
            "runs": rows,
            "median_wall_s": median,
            "cold_over_warm": median[default_cold] / median["warm"],
            "same_best_loss_in_every_run": len(losses) == 1,
            "targets": {"cold_wall_s": 35.0, "cold_over_warm": 1.25, "compile_idle_share": 0.10},
            "note": "same configs in every run; this machine varies 10-25% between identical runs",
        },
    )
    print(f"median wall: {median}; cold/warm {median[default_cold] / median['warm']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
