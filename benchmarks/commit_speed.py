"""The peers' task at two commits, back to back: has a change made hbjax slower?

    python benchmarks/commit_speed.py BEFORE_DIR AFTER_DIR [-R 27] [--repeats N] [--out JSON]

Each DIR is a checkout of hbjax (``git worktree add /tmp/before <commit>``). Each runs in its own
process with its own hbjax on ``sys.path``: Hyperband in waves on the first NVDA fold, the space
of ``hyperband_run.py``, the compilation cache off (every compile paid, as on a fresh machine), 2
host devices. Reported per commit: wall and process CPU seconds, the engine's compile seconds
(wall, and its threads' own CPU), the dispatch's wait for them and the devices' idle time while
waiting (0 at commits that do not measure it), and the trials table's hash, so the same configs
and floats are compared (a speed ratio of different trials would mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import hashlib, json, os, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2])
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["HBJAX_NO_COMPILE_CACHE"] = "1"
import hbjax as hb
from hbjax.lstm.backend import LSTMBackend
from _common import first_fold_task
from hyperband_run import space
R = float(sys.argv[3])
task = first_fold_task(1)
backend = LSTMBackend(task, seed=0, window=20)
t0, cpu0 = time.perf_counter(), time.process_time()
result = hb.Hyperband(space(), max_resource=R, eta=3, seed=0).run(backend)
wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
frame = result.to_frame()[["config_id", "rung", "resource", "loss", "promoted"]]
stats = backend.engine.rung_stats
total = lambda k: sum(s.get(k, 0.0) for s in stats)
print(json.dumps({"hbjax": hb.__file__, "wall_s": wall, "process_cpu_s": cpu, "n_trials": len(frame),
                  "compiles": total("compiles"), "compile_s": total("compile_s"), "compile_cpu_s": total("compile_cpu_s"),
                  "compile_wait_s": total("compile_wait_s"), "compile_idle_s": total("compile_idle_s"),
                  "submissions": len(stats),
                  "trials_sha256": hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest(),
                  "trials": frame.to_dict(orient="list")}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("-R", "--max-resource", type=float, default=27)
    p.add_argument("--repeats", type=int, default=1, help="runs of each, alternating (the second pair after first)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "commit_speed.json")
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from _common import load_average, machine_info, write_json

    rows = {"before": [], "after": []}
    order = [("before", args.before), ("after", args.after)]
    for r in range(args.repeats):
        for name, root in order if r % 2 == 0 else order[::-1]:  # alternate: neither always runs first
            load = load_average()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(root.resolve()), str(HERE), str(args.max_resource)],
                capture_output=True,
                text=True,
                env=dict(os.environ, JAX_PLATFORMS="cpu"),
            )
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            row = {
                **json.loads(done.stdout.strip().splitlines()[-1]),
                "commit": _commit(root),
                "load_average_at_start": load,
            }
            rows[name].append(row)
            print(
                f"{name} ({row['commit'][:10]}): {row['wall_s']:.1f} s wall, {row['process_cpu_s']:.1f} s CPU, "
                f"compiles {row['compile_s']:.1f} s (waited {row['compile_wait_s']:.1f} s), load {load}",
                flush=True,
            )
    same = len({row["trials_sha256"] for runs in rows.values() for row in runs}) == 1
    difference = None if same else trials_difference(rows["before"][0]["trials"], rows["after"][0]["trials"])
    if difference:
        print(f"trials differ: {difference}")
    walls = {name: [row["wall_s"] for row in runs] for name, runs in rows.items()}
    ratio = sum(walls["after"]) / sum(walls["before"])
    print(f"after / before wall (summed over {args.repeats} run(s) each) {ratio:.3f}; trials identical: {same}")
    write_json(
        args.out,
        {
            "benchmark": "commit_speed",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            "max_resource": args.max_resource,
            "task": "NVDA first walk-forward fold, hyperband_run.py's space, waves, 2 host devices, cold",
            "runs": rows,
            "wall_s": walls,
            "wall_ratio_after_over_before": ratio,
            "trials_identical": same,
            "trials_difference": difference,
            "note": "back to back, alternating; this machine varies 10-25% between identical runs",
        },
    )
    return 0


def trials_difference(before: dict, after: dict) -> dict:
    """How far two runs' trials are apart, when their hashes differ: the losses equal to the last
    bit, the largest relative difference, whether the same configs were promoted, the best losses."""
    if before["config_id"] != after["config_id"] or before["resource"] != after["resource"]:
        return {"same_trials_run": False}
    pairs = list(zip(before["loss"], after["loss"]))
    finite = [(a, b) for a, b in pairs if a == a and b == b and a != 0]
    return {
        "same_trials_run": True,
        "losses": len(pairs),
        "losses_identical": sum(a == b for a, b in pairs),
        "max_relative_loss_difference": max((abs(b - a) / abs(a) for a, b in finite), default=0.0),
        "promotions_identical": before["promoted"] == after["promoted"],
        "best_loss": {
            "before": min((a for a, _ in finite), default=None),
            "after": min((b for _, b in finite), default=None),
        },
    }


def _commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
