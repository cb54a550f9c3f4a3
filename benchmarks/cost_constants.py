"""Measure the CPU cost-model constants on this machine (``hbjax.engine.cost.CostModel``) on the
real NVDA fold; ``hbjax calibrate`` measures any device (accelerators too) on synthetic data and
stores the result for the planner.

For a spread of shapes on the first NVDA fold (window 20), one config alone on one device:
compile seconds of its train program (empty cache) and the warm seconds of one epoch. A
least-squares fit (relative errors) of ``epoch_s / steps = seconds_per_step + flops_per_step / flops_per_s`` gives
the two rate constants; the median compile time is ``compile_s``. The JSON goes to
``benchmarks/results/cost_constants_<device>.json``; the committed CPU default in
``hbjax/lstm/cost.py`` (``COST_MODELS``) comes from it.

    python benchmarks/cost_constants.py            # ~2 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

from _common import RESULTS, device_name, first_fold_task, machine_info, wait_for_quiet, write_json

SHAPES = [(16, 1, 32), (32, 2, 64), (64, 1, 32), (64, 3, 128), (128, 2, 64), (256, 1, 128), (256, 3, 32)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    load = wait_for_quiet()

    import jax
    import numpy as np

    from hbjax.lstm.engine import FoldArrays, LSTMEngine
    from hbjax.lstm.padding import step_flops

    fw = first_fold_task(1).fold_windows(20)
    arrays = FoldArrays(fw.x_train, fw.y_train, fw.x_val, fw.y_val)
    n_train, n_features = fw.x_train.shape[1], fw.x_train.shape[-1]
    rows = []
    for hidden, layers, batch in SHAPES:
        config = dict(lr=1e-3, hidden=hidden, layers=layers, batch_size=batch, dropout=0.2)
        engine = LSTMEngine(lambda w: arrays, seed=0, plan="exact", devices=jax.devices()[:1], activations=("tanh",))
        engine.train([0], [config], 0.01, [0.0])  # compiles (and a step or two)
        compile_s = engine.compile_seconds
        times = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            engine.train([r + 1], [config], 1.0, [0.0])
            times.append(time.perf_counter() - t0)
        steps = n_train // batch
        rows.append(
            {
                "hidden": hidden,
                "layers": layers,
                "batch": batch,
                "compile_s": compile_s,
                "epoch_s": min(times),
                "steps": steps,
                "flops_per_step": step_flops(hidden, layers, batch, 20, n_features),
            }
        )
        print(f"H{hidden} L{layers} B{batch}: compile {compile_s:.2f} s, epoch {min(times):.3f} s", flush=True)
    per_step = np.array([r["epoch_s"] / r["steps"] for r in rows])
    flops = np.array([r["flops_per_step"] for r in rows])
    slope, intercept = np.polyfit(flops, per_step, 1, w=1.0 / per_step)  # relative errors: small shapes count
    fit = {
        "seconds_per_step": float(max(intercept, 0.0)),
        "flops_per_s": float(1.0 / slope),
        "compile_s": float(np.median([r["compile_s"] for r in rows])),
    }
    print(f"fit: {fit}")
    out = args.out or RESULTS / f"cost_constants_{device_name()}.json"
    write_json(
        out,
        {
            "benchmark": "cost_constants",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            **load,
            "task": "NVDA first fold, window 20, one config alone",
            "shapes": rows,
            "fit": fit,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
