"""How fast does one rung train? hbjax's batched rung vs the same configs one at a time vs PyTorch.

For N configs (1, 3, 9, 27, 81; --quick: 1, 3, 9) of a small (H=16, batch 16), a medium (H=64,
batch 64) and a mixed-shape rung (drawn from ``demo_space()``: H 16/32, 1-2 layers, batch 64/128),
trained for ``--epochs`` on the first NVDA walk-forward fold, all in one process:

  (a) hbjax: ``LSTMEngine`` with the default configs-per-program width (warm; the first call,
      which compiles, is reported separately as compile time);
  (b) the same configs one at a time with the same JAX code (``configs_per_program=1``, warm);
  (c) a plain sequential PyTorch loop (torch.nn.LSTM, Adam, same batch size and steps,
      ``torch.set_num_threads(2)``); skipped with a note when torch is not installed;
  (d) float32 ``jnp.dot`` micro-benchmarks: achievable matmul FLOP/s on this device.

Reports config-epochs/s, speed-ups (a)/(b) and (a)/(c), vectorisation efficiency time(N)/time(1),
achieved matmul FLOP/s of (a) as a fraction of (d), and padding waste. Medians of ``--repeats``.

    python benchmarks/rung_throughput.py --quick
    python benchmarks/rung_throughput.py --out benchmarks/results/rung_throughput_cpu.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import (RESULTS, CompileClock, TorchLoop, device_name, first_fold_task, lstm_flops,  # noqa: E402
                     machine_info, matmul_flops_per_s, median, torch_version, wait_for_quiet, write_json)


def rung_configs(kind: str, n: int, seed: int = 0) -> list[dict]:
    """N configs of one rung kind; the first n of a fixed list, so a larger N extends a smaller one."""
    from hbjax.lstm.backend import demo_space

    rng = np.random.default_rng([seed, {"small": 0, "medium": 1, "mixed": 2}[kind]])
    lrs = 10 ** rng.uniform(-4, -2, size=n)
    drops = rng.uniform(0.1, 0.5, size=n)
    if kind == "mixed":
        configs = demo_space().sample_configs(np.random.default_rng([seed, 2]), n)
        for c in configs:  # the loop in (c) is plain tanh + Adam: keep (a), (b), (c) the same model
            c.update(activation="tanh", optimizer="adam")
        return configs
    hidden, batch = {"small": (16, 16), "medium": (64, 64)}[kind]
    return [{"hidden": hidden, "layers": 1, "batch_size": batch, "lr": float(lr), "dropout": float(d),
             "activation": "tanh", "optimizer": "adam"} for lr, d in zip(lrs, drops)]


def padding(engine, configs) -> tuple[int, int]:
    """(real slots, padded slots) the engine runs for these configs (all starting fresh)."""
    from hbjax.lstm.grouping import group_by_shape

    real = pad = 0
    for key, positions in group_by_shape(configs, engine.default_window).items():
        for part, padded in engine.chunks(key, positions):
            real += len(part)
            pad += padded - len(part)
    return real, pad


def rung_flops(configs, epochs, n_train, n_val, n_features, window=20) -> float:
    from hbjax.lstm.engine import steps_for

    total = 0.0
    for c in configs:
        b = int(c["batch_size"])
        total += lstm_flops(int(c["hidden"]), int(c["layers"]), b, window, n_features,
                            steps_for(epochs, n_train // b), n_val)
    return total


def timed_train(engine, configs, epochs) -> float:
    n = len(configs)
    t0 = time.perf_counter()
    val, _ = engine.train(list(range(n)), configs, epochs, [0.0] * n)  # returns after blocking on results
    dt = time.perf_counter() - t0
    engine.release(range(n))
    if not np.isfinite(val).any():
        print("  warning: every config diverged", flush=True)
    return dt


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N in {1,3,9}, 1000 train windows: ~3 min on 2 CPU cores")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default results/rung_throughput_<device>[_quick].json)")
    p.add_argument("--sizes", type=str, default=None, help="comma-separated N (default 1,3,9,27,81; quick 1,3,9)")
    p.add_argument("--kinds", type=str, default="small,medium,mixed")
    p.add_argument("--epochs", type=float, default=1.0, help="epochs each config trains per call")
    p.add_argument("--train-windows", type=int, default=None, help="train windows used (default all ~2980; quick 1000)")
    p.add_argument("--repeats", type=int, default=3, help="warm repeats per measurement (median)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-threads", type=str, default="2,1",
                   help="torch.set_num_threads values to time (c) with; the first is the headline (default 2,1)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="first wait up to this long for the 1-min load average to drop below 1.0")
    args = p.parse_args(argv)

    sizes = [int(s) for s in (args.sizes or ("1,3,9" if args.quick else "1,3,9,27,81")).split(",")]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    n_windows = args.train_windows or (1000 if args.quick else None)
    load = wait_for_quiet(max_wait_s=args.wait_quiet)

    from hbjax.lstm.engine import FoldArrays, LSTMEngine, default_width
    from hbjax.lstm.grouping import ShapeKey

    task = first_fold_task(1)
    fw = task.fold_windows(20)
    x_tr, y_tr = fw.x_train[:, :n_windows], fw.y_train[:, :n_windows]
    arrays = FoldArrays(x_tr, y_tr, fw.x_val, fw.y_val)
    n_train, n_val, n_features = x_tr.shape[1], fw.x_val.shape[1], x_tr.shape[-1]
    info = machine_info()
    print(f"device {info['device']} ({info['processor']}, {info['cpu_count']} CPUs), jax {info['jax']}, "
          f"flax {info['flax']}, torch {info['torch']}; load average {load['load_average_at_start']}", flush=True)
    print(f"first NVDA fold: {n_train} train windows x 20 days x {n_features} features, {n_val} val windows; "
          f"{args.epochs:g} epoch(s) per config; N in {sizes}; {args.repeats} warm repeats", flush=True)

    # (d) matmul roofline
    mm_shapes = [(1024, 1024, 1024), (16, 16 + 16, 64), (64, 64 + 64, 256), (8 * 64, 128, 256)]
    mm = matmul_flops_per_s(mm_shapes)
    peak = mm["1024x1024x1024"]
    print("(d) jnp.dot float32 best-of-7: " + ", ".join(f"{k}: {v / 1e9:.1f} GFLOP/s" for k, v in mm.items()), flush=True)

    torch_loop = None
    torch_note = None
    if args.no_torch:
        torch_note = "skipped (--no-torch)"
    elif torch_version() is None:
        torch_note = "skipped: torch not installed (pip install torch, or the 'bench' extra)"
    else:
        torch_loop = TorchLoop(x_tr[0], y_tr[0], fw.x_val[0], fw.y_val[0], threads=2)
        torch_loop.train(rung_configs("small", 1)[0], [0.05])  # warm-up (first-call allocations)
    threads = [int(t) for t in args.torch_threads.split(",")]
    if torch_note:
        print(f"(c) PyTorch loop {torch_note}", flush=True)

    rows = []
    for kind in kinds:
        engine = LSTMEngine(lambda w: arrays, seed=0)  # one engine per kind: programs compiled once per width
        t_a1 = None
        alone_shapes: set = set()
        for n in sizes:
            configs = rung_configs(kind, n)
            epochs_total = n * args.epochs
            engine.configs_per_program = None  # (a) default width
            real, pad = padding(engine, configs)
            traces0 = engine.traces
            with CompileClock() as clock:
                t_first = timed_train(engine, configs, args.epochs)
            compiles_a = engine.traces - traces0
            t_a = [timed_train(engine, configs, args.epochs) for _ in range(args.repeats)]
            engine.configs_per_program = 1  # (b) one at a time, same code
            traces1 = engine.traces
            with CompileClock() as clock_b:  # warm-up: one config of each shape not yet run alone
                new = {}
                for c in configs:
                    key = (c["hidden"], c["layers"], c["batch_size"])
                    if key not in alone_shapes:
                        new.setdefault(key, c)
                if new:
                    timed_train(engine, list(new.values()), min(args.epochs, 0.05))
                alone_shapes.update(new)
            t_b = [timed_train(engine, configs, args.epochs) for _ in range(args.repeats)]
            compiles_b = engine.traces - traces1
            ta, tb = median(t_a), median(t_b)
            if n == sizes[0]:
                t_a1 = ta / n
                alone_shapes.update((c["hidden"], c["layers"], c["batch_size"]) for c in configs if n == 1)
            tc, t_c, tc_by_threads = None, None, {}
            if torch_loop is not None:
                for th in threads:
                    torch_loop.torch.set_num_threads(th)
                    times = []
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        for i, c in enumerate(configs):
                            torch_loop.train(c, [args.epochs], seed=i)
                        times.append(time.perf_counter() - t0)
                    tc_by_threads[th] = {"s": median(times), "s_all": times,
                                         "config_epochs_per_s": epochs_total / median(times)}
                t_c = tc_by_threads[threads[0]]["s_all"]
                tc = tc_by_threads[threads[0]]["s"]
            flops = rung_flops(configs, args.epochs, n_train, n_val, n_features)
            shapes = sorted({(c["hidden"], c["layers"], c["batch_size"]) for c in configs})
            widths = sorted({min(default_width(ShapeKey(h, l, b, 20)), n) for h, l, b in shapes})
            row = {
                "kind": kind, "n_configs": n, "shapes": [list(s) for s in shapes], "default_width": widths,
                "config_epochs": epochs_total,
                "a_batched_s": ta, "a_batched_s_all": t_a, "a_first_call_s": t_first,
                "a_compile_s": max(0.0, t_first - ta), "a_compile_s_jax_events": clock.total,
                "a_compiles": compiles_a,
                "b_one_at_a_time_s": tb, "b_one_at_a_time_s_all": t_b, "b_compiles": compiles_b,
                "b_compile_s_jax_events": clock_b.total,
                "c_torch_threads": threads[0] if tc else None,
                "c_torch_s": tc, "c_torch_s_all": t_c, "c_torch_by_threads": tc_by_threads,
                "a_config_epochs_per_s": epochs_total / ta, "b_config_epochs_per_s": epochs_total / tb,
                "c_config_epochs_per_s": epochs_total / tc if tc else None,
                "speedup_a_over_b": tb / ta, "speedup_a_over_c": tc / ta if tc else None,
                "speedup_b_over_c": tc / tb if tc else None,
                "speedup_a_over_c_best_threads": min(v["s"] for v in tc_by_threads.values()) / ta if tc else None,
                "vectorisation_time_ratio": ta / (t_a1 * sizes[0]) if t_a1 else None,
                "vectorisation_time_ratio_per_config": (ta / n) / t_a1 if t_a1 else None,
                "matmul_flops": flops, "a_flops_per_s": flops / ta, "b_flops_per_s": flops / tb,
                "c_flops_per_s": flops / tc if tc else None,
                "a_fraction_of_matmul_peak": flops / ta / peak,
                "padding_real_slots": real, "padding_padded_slots": pad, "padding_waste": pad / real,
            }
            rows.append(row)
            print(f"  {kind:6s} N={n:3d}: (a) {row['a_config_epochs_per_s']:6.2f} ce/s "
                  f"[compile {row['a_compile_s']:5.1f} s, {compiles_a} new]  (b) {row['b_config_epochs_per_s']:6.2f}"
                  + "".join(f"  (c{th}) {v['config_epochs_per_s']:6.2f}" for th, v in tc_by_threads.items())
                  + f"  a/b x{row['speedup_a_over_b']:.2f}" + (f"  a/c x{row['speedup_a_over_c']:.2f}" if tc else "")
                  + f"  t(N)/t(1) {row['vectorisation_time_ratio']:.2f}  {row['a_flops_per_s'] / 1e9:.2f} GFLOP/s "
                  f"({100 * row['a_fraction_of_matmul_peak']:.1f}% of dot)  pad {row['padding_waste']:.2f}", flush=True)

    print_table(rows, peak)
    out = args.out or RESULTS / f"rung_throughput_{device_name()}{'_quick' if args.quick else ''}.json"
    write_json(out, {
        "benchmark": "rung_throughput", "quick": args.quick, "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": info, **load, "load_average_at_end": wait_for_quiet()["load_average_at_start"],
        "settings": {"sizes": sizes, "kinds": kinds, "epochs": args.epochs, "train_windows": n_train,
                     "val_windows": n_val, "window": 20, "n_features": n_features, "repeats": args.repeats,
                     "statistic": "median of warm repeats", "torch_threads": threads,
                     "jax_compilation_cache": "off (every compile is real)",
                     "flops": "analytic LSTM+head matmul FLOPs: fwd 2*B*T*(in+H)*4H per layer, bwd 2x, "
                              "plus one validation forward pass; real configs only (padding excluded)"},
        "torch_note": torch_note,
        "matmul_flops_per_s": mm, "matmul_peak_flops_per_s": peak,
        "rows": rows,
    })
    print(f"wrote {out}")
    return 0


def print_table(rows, peak) -> None:
    head = (f"{'rung':6s} {'N':>3s} {'(a) ce/s':>9s} {'(b) ce/s':>9s} {'(c) ce/s':>9s} {'(c*)':>7s} {'a/b':>6s} {'a/c':>6s} "
            f"{'a/c*':>6s} "
            f"{'t(N)/t(1)':>9s} {'GFLOP/s':>8s} {'%dot':>6s} {'pad':>5s} {'compile s':>9s}")
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        c = r["c_config_epochs_per_s"]
        print(f"{r['kind']:6s} {r['n_configs']:3d} {r['a_config_epochs_per_s']:9.2f} {r['b_config_epochs_per_s']:9.2f} "
              f"{(f'{c:9.2f}' if c else '        -')} "
              f"{(format(r['c_config_epochs_per_s'] * r['speedup_a_over_c'] / r['speedup_a_over_c_best_threads'], '7.2f') if c else '      -')} "
              f"{r['speedup_a_over_b']:6.2f} "
              f"{(format(r['speedup_a_over_c'], '6.2f') if c else '     -')} "
              f"{(format(r['speedup_a_over_c_best_threads'], '6.2f') if c else '     -')} {r['vectorisation_time_ratio']:9.2f} "
              f"{r['a_flops_per_s'] / 1e9:8.2f} {100 * r['a_fraction_of_matmul_peak']:6.2f} {r['padding_waste']:5.2f} "
              f"{r['a_compile_s']:9.1f}")
    print(f"(d) matmul peak (1024^3 jnp.dot): {peak / 1e9:.1f} GFLOP/s. ce/s = config-epochs per second; "
          f"a/b, a/c = speed-ups of hbjax's batched rung; (c) PyTorch at the first --torch-threads value, "
          f"(c*) at its fastest thread count.")


if __name__ == "__main__":
    sys.exit(main())
