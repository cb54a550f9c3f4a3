"""The LSTM before and after its move onto the shared engine, back to back on one machine.

Runs the peer task of ``hyperband_run.py`` (NVDA first fold, R=27, eta=3, the issue's space,
waves, compile cache off) once with the code of ``--before`` (a commit, checked out in a
temporary git worktree) and once with this checkout, each in its own process, alternating
``--repeats`` times (before, after, before, after, ...). Reports config-epochs/s of each (the
same configs: the trials are compared bit for bit) and the ratio after / before.

    python benchmarks/engine_move.py --before bf93b88
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
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def child(tree: Path, out: Path, max_resource: float, seed: int) -> None:
    """In a fresh process whose ``hbjax`` is ``tree``'s: one waves run, its summary and trials."""
    sys.path.insert(0, str(tree / "benchmarks"))
    import hyperband_run as hr
    import numpy as np
    from _common import first_fold_task

    import hbjax as hb
    from hbjax.lstm.backend import LSTMBackend
    from hbjax.lstm.engine import steps_for

    assert Path(hb.__file__).resolve().is_relative_to(tree.resolve()), hb.__file__
    task = first_fold_task(1)
    fw = task.fold_windows(20)
    args = argparse.Namespace(seed=seed, plan="auto")
    run = hr.run_hbjax(
        search_kw=dict(max_resource=max_resource, eta=3, seed=seed),
        waves=True,
        task=task,
        args=args,
        n_folds=1,
        n_devices=os.cpu_count() or 1,
        persistence_mse=np.asarray(fw.persistence_mse, dtype=np.float64),
        fw=fw,
        LSTMBackend=LSTMBackend,
        hb=hb,
        steps_for=steps_for,
    )
    frame = run["frame"]
    trials = {
        c: [float(v).hex() if isinstance(v, float) else v for v in frame[c]]
        for c in ("config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted")
    }
    summary = {k: v for k, v in run["summary"].items() if not isinstance(v, (dict,)) or k == "best_config"}
    out.write_text(json.dumps({"summary": summary, "trials": trials}, default=float))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="bf93b88", help="the commit before the move")
    p.add_argument("--repeats", type=int, default=1, help="alternations (before, after) to run")
    p.add_argument("--max-resource", type=float, default=27.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        child(args.child, args.child_out, args.max_resource, args.seed)
        return 0

    from _common import RESULTS, machine_info, wait_for_quiet, write_json

    load = wait_for_quiet()
    work = Path(tempfile.mkdtemp(prefix="hbjax-engine-move-"))
    before = work / "before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before],
        check=True,
        capture_output=True,
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    runs = []
    try:
        for r in range(args.repeats):
            for name, tree in (("before", before), ("after", ROOT)):
                out = work / f"{name}_{r}.json"
                env = dict(
                    os.environ,
                    PYTHONPATH=str(tree),
                    HBJAX_NO_COMPILE_CACHE="1",
                    XLA_FLAGS=f"--xla_force_host_platform_device_count={os.cpu_count() or 1}",
                )
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        str(HERE / "engine_move.py"),
                        "--child",
                        str(tree),
                        "--child-out",
                        str(out),
                        "--max-resource",
                        str(args.max_resource),
                        "--seed",
                        str(args.seed),
                    ],
                    check=True,
                    env=env,
                    cwd=str(tree),
                )
                data = json.loads(out.read_text())
                runs.append({"code": name, "repeat": r, "process_s": time.perf_counter() - t0, **data})
                s = data["summary"]
                print(
                    f"{name} #{r}: {s['config_epochs']:g} config-epochs in {s['wall_s']:.1f} s = "
                    f"{s['config_epochs_per_s']:.4f} config-epochs/s",
                    flush=True,
                )
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], capture_output=True)
    rate = {
        name: [r["summary"]["config_epochs_per_s"] for r in runs if r["code"] == name] for name in ("before", "after")
    }
    identical = all(r["trials"] == runs[0]["trials"] for r in runs)
    differing = (
        []
        if identical
        else [
            {
                "code": r["code"],
                "repeat": r["repeat"],
                "rows_differing": sum(a != b for a, b in zip(r["trials"]["loss"], runs[0]["trials"]["loss"])),
            }
            for r in runs
            if r["trials"] != runs[0]["trials"]
        ]
    )
    ratio = (sum(rate["after"]) / len(rate["after"])) / (sum(rate["before"]) / len(rate["before"]))
    summary = {
        "benchmark": "engine_move",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "before_commit": args.before,
        "after_commit": commit,
        "task": f"NVDA first fold (2980/500 windows), R={args.max_resource:g}, eta=3, waves, the issue's space, compile cache off",
        "configs": f"the same configs in every run (seed {args.seed}): the trials are compared bit for bit",
        "order": "alternating before, after",
        "config_epochs_per_s": rate,
        "ratio_after_over_before": ratio,
        "target_ratio_at_least": 0.95,
        "trials_identical_bit_for_bit": identical,
        "differences": differing,
        "runs": [{k: v for k, v in r.items() if k != "trials"} for r in runs],
        "load_average_at_end": wait_for_quiet()["load_average_at_start"],
    }
    path = write_json(RESULTS / "engine_move_cpu.json", summary)
    print(f"after / before config-epochs/s: {ratio:.3f} (target >= 0.95); trials identical: {identical}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
