"""How fast does one rung train? hbjax's planned rung vs the same configs one at a time vs PyTorch.

For N configs of a small (H=16, batch 16), a medium (H=64, batch 64) and a mixed rung (shapes
drawn from the reference task's full space ``default_space()``: hidden 16-256, layers 1-5, batch
16-256; tanh and Adam so all three columns train the same model), ``--epochs`` on the first NVDA
walk-forward fold, one process:

  (a) hbjax: one ``LSTMEngine`` rung, ``auto`` plan, every host device (one per core, as the CLI),
      hidden buckets fixed as for a whole R=81 run over the rung's shapes;
  (b) one at a time: each config alone in its own exact-shape program on one device (what a loop
      over configs with ``jax.jit`` does);
  (c) a plain sequential PyTorch loop (torch.nn.LSTM, Adam, same steps), ``--torch-threads``.

(a) and (b) are timed cold (empty compile cache: every compile paid, as on a fresh machine) and
warm (the same shapes again, new config ids). Reports config-epochs/s, speed-ups a/b and a/c,
programs and compiles.

    python benchmarks/rung_throughput.py --quick        # N in {9, 27}, 1000 train windows
    python benchmarks/rung_throughput.py                # N in {9, 27, 81}, all 2980 windows
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import (
    RESULTS,
    TorchLoop,
    device_name,
    first_fold_task,
    machine_info,
    torch_version,
    wait_for_quiet,
    write_json,
)


def rung_configs(kind: str, n: int, seed: int = 0) -> list[dict]:
    """N configs of one rung kind (a larger N extends a smaller one)."""
    from hbjax.lstm.backend import default_space

    rng = np.random.default_rng([seed, {"small": 0, "medium": 1, "mixed": 2}[kind]])
    if kind == "mixed":
        configs = default_space().sample_configs(rng, n)
        for c in configs:
            c.update(activation="tanh", optimizer="adam", lr=min(float(c["lr"]), 1e-2))
        return configs
    hidden, batch = {"small": (16, 16), "medium": (64, 64)}[kind]
    return [
        {
            "hidden": hidden,
            "layers": 1,
            "batch_size": batch,
            "lr": float(10 ** rng.uniform(-4, -2)),
            "dropout": float(rng.uniform(0.1, 0.5)),
            "activation": "tanh",
            "optimizer": "adam",
        }
        for _ in range(n)
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N in {9, 27}, 1000 train windows")
    p.add_argument("--sizes", default=None, help="comma-separated N (default 9,27,81; --quick 9,27)")
    p.add_argument("--kinds", default="small,medium,mixed")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--train-windows", type=int, default=None)
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--devices", type=int, default=None, help="XLA host devices (default: one per core)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    n_devices = args.devices or os.cpu_count() or 1
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
    ).strip()
    sizes = [int(s) for s in (args.sizes or ("9,27" if args.quick else "9,27,81")).split(",")]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    n_windows = args.train_windows or (1000 if args.quick else None)
    load = wait_for_quiet()

    import jax

    from hbjax.brackets import continued_budget, hyperband_plan
    from hbjax.lstm.engine import FoldArrays, LSTMEngine

    fw = first_fold_task(1).fold_windows(20)
    arrays = FoldArrays(fw.x_train[:, :n_windows], fw.y_train[:, :n_windows], fw.x_val, fw.y_val)
    n_train = arrays.x_train.shape[1]
    info = machine_info()
    print(
        f"device {info['device']} x{len(jax.devices())} ({info['processor']}, {info['cpu_count']} CPUs), "
        f"jax {info['jax']}, torch {info['torch']}; load {load['load_average_at_start']}; {n_train} train "
        f"windows, {args.epochs:g} epoch(s), N in {sizes}",
        flush=True,
    )
    run_budget = continued_budget(hyperband_plan(81, 3))  # config-epochs of an R=81 run (1581)
    torch_loop, torch_note = None, None
    if args.no_torch or torch_version() is None:
        torch_note = "skipped" + ("" if args.no_torch else ": torch not installed")
    else:
        torch_loop = TorchLoop(
            arrays.x_train[0], arrays.y_train[0], fw.x_val[0], fw.y_val[0], threads=args.torch_threads
        )
        torch_loop.train(rung_configs("small", 1)[0], [0.05])  # first-call allocations

    def engine(**kw):
        return LSTMEngine(lambda w: arrays, seed=0, activations=("tanh",), **kw)

    def timed(eng, configs, first_id):
        t0 = time.perf_counter()
        eng.train(list(range(first_id, first_id + len(configs))), configs, args.epochs, [0.0] * len(configs))
        return time.perf_counter() - t0

    rows = []
    for kind in kinds:
        for n in sizes:
            configs = rung_configs(kind, n)
            ce = n * args.epochs
            jax.config.update("jax_compilation_cache_dir", None)  # empty cache: every compile is real
            a = engine()  # the planned rung on all devices; buckets as a whole R=81 run over these shapes fixes them
            shapes = {k: sorted({int(x[k]) for x in configs}) for k in ("hidden", "batch_size", "layers")}
            a.configure(
                hiddens=shapes["hidden"],
                batch_sizes=shapes["batch_size"],
                windows=[20],
                layers=shapes["layers"],
                config_epochs=run_budget,
            )
            a_cold = timed(a, configs, 0)
            a_warm = timed(a, configs, n)
            b = engine(plan="exact", configs_per_program=1, devices=jax.devices()[:1])
            b_cold = timed(b, configs, 0)
            b_warm = timed(b, configs, n)
            c = None
            if torch_loop is not None:
                t0 = time.perf_counter()
                for i, cfg in enumerate(configs):
                    torch_loop.train(cfg, [args.epochs], seed=i)
                c = time.perf_counter() - t0
            stats = a.rung_stats[0]
            row = {
                "kind": kind,
                "n_configs": n,
                "config_epochs": ce,
                "shapes": len({(x["hidden"], x["layers"], x["batch_size"]) for x in configs}),
                "a_programs": stats["programs"],
                "a_calls": stats["calls"],
                "a_compiles": a.compiles,
                "a_compile_cpu_s": a.compile_cpu_seconds,
                "a_compile_wait_s": stats["compile_wait_s"],
                "b_compiles": b.compiles,
                "b_compile_cpu_s": b.compile_cpu_seconds,
                "a_cold_s": a_cold,
                "a_warm_s": a_warm,
                "b_cold_s": b_cold,
                "b_warm_s": b_warm,
                "c_torch_s": c,
                "a_cold_ce_per_s": ce / a_cold,
                "a_warm_ce_per_s": ce / a_warm,
                "b_cold_ce_per_s": ce / b_cold,
                "b_warm_ce_per_s": ce / b_warm,
                "c_ce_per_s": ce / c if c else None,
                "speedup_a_over_b_cold": b_cold / a_cold,
                "speedup_a_over_b_warm": b_warm / a_warm,
                "speedup_a_over_c_cold": c / a_cold if c else None,
                "speedup_a_over_c_warm": c / a_warm if c else None,
            }
            rows.append(row)
            print(
                f"  {kind:6s} N={n:3d} ({row['shapes']} shapes): (a) {row['a_programs']} programs, cold "
                f"{a_cold:6.1f} s warm {a_warm:6.1f} s | (b) {b.compiles} compiles, cold {b_cold:6.1f} s warm "
                f"{b_warm:6.1f} s | (c) {c or float('nan'):6.1f} s | a/b cold x{row['speedup_a_over_b_cold']:.2f} "
                f"warm x{row['speedup_a_over_b_warm']:.2f}"
                + (
                    f" | a/c cold x{row['speedup_a_over_c_cold']:.2f} warm x{row['speedup_a_over_c_warm']:.2f}"
                    if c
                    else ""
                ),
                flush=True,
            )
    out = args.out or RESULTS / f"rung_throughput_{device_name()}{'_quick' if args.quick else ''}.json"
    write_json(
        out,
        {
            "benchmark": "rung_throughput",
            "quick": args.quick,
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": info,
            **load,
            "load_average_at_end": wait_for_quiet()["load_average_at_start"],
            "settings": {
                "sizes": sizes,
                "kinds": kinds,
                "epochs": args.epochs,
                "train_windows": n_train,
                "window": 20,
                "xla_host_devices": n_devices,
                "torch_threads": args.torch_threads,
                "a": "LSTMEngine auto plan over all host devices, buckets as for an R=81 run over the rung's shapes",
                "b": "each config alone: exact plan, width 1, one device",
                "cold": "empty compile cache (every compile paid)",
                "warm": "same shapes, new config ids",
            },
            "torch_note": torch_note,
            "rows": rows,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
