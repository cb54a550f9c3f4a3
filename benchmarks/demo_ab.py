"""``hbjax demo`` at two commits, cold, back to back and alternating: what did a change do to it?

    python benchmarks/demo_ab.py BEFORE_DIR AFTER_DIR [--repeats 3] [--out JSON]   # ~40 s a run

Each DIR is a checkout of hbjax (``git worktree add /tmp/before <commit>``). Each run is the
command in a fresh process with that checkout first on ``PYTHONPATH`` and no compile cache (as on
a fresh machine): its wall seconds, from its ``summary.json`` the run's seconds, the devices' idle
time waiting for compiles and the held-out test's MSE (hex: the same floats or not), and the wall
outside the run (imports, data, baselines, the held-out retrain and test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import load_average, machine_info, write_json  # noqa: E402
from commit_speed import _commit  # noqa: E402


def run_demo(root: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root.resolve()), HBJAX_NO_COMPILE_CACHE="1")
    env.setdefault("JAX_PLATFORMS", "cpu")
    load = load_average()
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "hbjax.cli", "demo", "--out", str(out), "--quiet"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hbjax demo at {root} failed:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "wall_s": wall,
        "run_s": summary["seconds"],
        "outside_run_s": wall - summary["seconds"],
        "compile_idle_s": summary.get("compile_idle_s"),
        "best_val_loss": summary["best_val_loss"],
        "test_mse_hex": float(summary["test"]["test_mse"]).hex(),
        "load_average_at_start": load,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "results" / "demo_ab.json")
    args = p.parse_args(argv)
    rows = {"before": [], "after": []}
    order = [("before", args.before), ("after", args.after)]
    with tempfile.TemporaryDirectory(prefix="hbjax-demo-ab-") as tmp:
        for r in range(args.repeats):
            for name, root in order if r % 2 == 0 else order[::-1]:  # neither always runs first
                row = run_demo(root, Path(tmp) / f"{name}{r}")
                rows[name].append(row)
                print(
                    f"{name}: {row['wall_s']:.1f} s wall, run {row['run_s']:.1f} s, outside the run "
                    f"{row['outside_run_s']:.1f} s, load {row['load_average_at_start']}",
                    flush=True,
                )
    total = {
        name: {k: sum(row[k] for row in runs) for k in ("wall_s", "run_s", "outside_run_s")}
        for name, runs in rows.items()
    }
    same = len({row["test_mse_hex"] for runs in rows.values() for row in runs}) == 1
    ratio = total["after"]["wall_s"] / total["before"]["wall_s"]
    print(
        f"after / before wall {ratio:.3f}; outside the run {total['before']['outside_run_s'] / args.repeats:.1f} -> "
        f"{total['after']['outside_run_s'] / args.repeats:.1f} s a run; same held-out floats: {same}"
    )
    write_json(
        args.out,
        {
            "benchmark": "demo_ab",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            "commits": {"before": _commit(args.before), "after": _commit(args.after)},
            "runs": rows,
            "totals": total,
            "wall_ratio_after_over_before": ratio,
            "held_out_test_identical": same,
            "note": "cold (no compile cache), alternating; every run trains the demo's configs (its "
            "seed); this machine varies 10-25% between identical runs",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
