"""The LSTM's hand-written backward pass against ``jax.grad`` through the same padded forward.

``hbjax.lstm.network.lstm_layer`` is a ``jax.custom_vjp``: its backward computes the weight
gradients as matmuls over all steps at once. The alternative is the same forward differentiated by
JAX (``lstm_layer.fun``: the scan and its masks as written). For each shape (the demo's 32x2 with
5 folds, the peers' largest 256x3 on one fold) and each way, in a fresh process (compile cache
off): the engine's program for one config alone, its compile seconds, its first epoch and the best
of three warm epochs, and the validation loss after one epoch. The ways alternate, twice.

    JAX_PLATFORMS=cpu python benchmarks/backward_ab.py          # ~5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, first_fold_task, machine_info, wait_for_quiet, write_json

SHAPES = {"demo_32x2_b64_5folds": (32, 2, 64, 5), "peers_256x3_b64_1fold": (256, 3, 64, 1)}


def child(way: str, hidden: int, layers: int, batch: int, folds: int) -> dict:
    import jax

    from hbjax.lstm import network
    from hbjax.lstm.engine import FoldArrays, LSTMEngine

    if way == "autodiff":  # the same forward, differentiated by JAX instead of the hand-written rule
        network.lstm_layer = network.lstm_layer.fun
    jax.config.update("jax_compilation_cache_dir", None)
    fw = first_fold_task(folds).fold_windows(20)
    arrays = FoldArrays(fw.x_train, fw.y_train, fw.x_val, fw.y_val)
    cfg = {
        "hidden": hidden,
        "layers": layers,
        "batch_size": batch,
        "lr": 1e-3,
        "dropout": 0.2,
        "activation": "tanh",
        "optimizer": "adam",
    }
    eng = LSTMEngine(lambda w: arrays, seed=0, activations=("tanh",), plan="exact", devices=jax.devices()[:1])
    t0 = time.perf_counter()
    val, _ = eng.train([0], [cfg], 1.0, [0.0])
    cold = time.perf_counter() - t0
    warm = []
    for i in range(1, 4):
        t0 = time.perf_counter()
        eng.train([i], [cfg], 1.0, [0.0])
        warm.append(time.perf_counter() - t0)
    return {
        "compile_s": eng.compile_seconds,
        "first_epoch_s": cold,
        "warm_epoch_s": min(warm),
        "val_loss": float(val[0]),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", nargs=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="the demo's shape once (a smoke run)")
    args = p.parse_args(argv)
    if args.child:
        way, *sizes = args.child
        print(json.dumps(child(way, *(int(s) for s in sizes))))
        return 0
    load = wait_for_quiet()
    shapes = dict(list(SHAPES.items())[:1]) if args.quick else SHAPES
    repeats = 1 if args.quick else args.repeats
    out = {}
    for name, sizes in shapes.items():
        runs = {"hand_written": [], "autodiff": []}
        for _ in range(repeats):
            for way in runs:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", way.split("_")[0], *map(str, sizes)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")},
                )
                runs[way].append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(name, way, runs[way][-1], flush=True)
        best = {way: {k: min(r[k] for r in rs) for k in ("compile_s", "warm_epoch_s")} for way, rs in runs.items()}
        out[name] = {
            "runs": runs,
            "best": best,
            "autodiff_over_hand_written_warm_epoch": best["autodiff"]["warm_epoch_s"]
            / best["hand_written"]["warm_epoch_s"],
            "autodiff_over_hand_written_compile": best["autodiff"]["compile_s"] / best["hand_written"]["compile_s"],
        }
    summary = {
        "benchmark": "backward_ab",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "ways": "hand_written: lstm_layer's custom_vjp; autodiff: jax.grad through lstm_layer.fun",
        "order": "alternating hand_written, autodiff; each run a fresh process, compile cache off",
        "shapes": out,
        "load_average_at_end": wait_for_quiet()["load_average_at_start"],
    }
    if not args.quick:
        path = write_json(RESULTS / "backward_ab_cpu.json", summary)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
