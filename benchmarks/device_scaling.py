"""Throughput of one rung vs device count: the config axis sharded over 1, 2, 4 devices.

On a CPU the devices are forced host devices (XLA_FLAGS=--xla_force_host_platform_device_count=N)
sharing the same cores, so this measures the sharding overhead, not a speed-up; on a multi-GPU
host run it with --real to use the real devices. Each device count runs in its own process.

    python benchmarks/device_scaling.py [--quick] [--out benchmarks/results/device_scaling_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
import jax, numpy as np
from hbjax.data import StockTask, load_nvda
from hbjax.lstm.engine import FoldArrays, LSTMEngine
n_configs, epochs, rows = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
task = StockTask(load_nvda(), max_folds=1, train_size=rows, val_size=200)
w = task.fold_windows(20)
arrays = FoldArrays(w.x_train, w.y_train, w.x_val, w.y_val)
rng = np.random.default_rng(0)
configs = [dict(lr=float(10 ** rng.uniform(-4, -2)), hidden=32, layers=1, batch_size=64, dropout=0.2,
                activation="tanh", optimizer="adam") for _ in range(n_configs)]
engine = LSTMEngine(lambda win: arrays, seed=0, configs_per_program=n_configs)
t0 = time.perf_counter(); engine.train(list(range(n_configs)), configs, epochs, [0.0] * n_configs)
compile_s = time.perf_counter() - t0
times = []
for rep in range(3):
    ids = list(range(n_configs * (rep + 1), n_configs * (rep + 2)))
    t0 = time.perf_counter(); val, _ = engine.train(ids, configs, epochs, [0.0] * n_configs)
    times.append(time.perf_counter() - t0)
print(json.dumps({"devices": engine.n_devices, "device_kind": jax.devices()[0].device_kind,
                  "first_call_s": compile_s, "seconds": float(np.median(times)),
                  "config_epochs_per_s": n_configs * epochs / float(np.median(times)),
                  "val_mse": val.tolist()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--real", action="store_true", help="use the real devices (multi-GPU host)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    n_configs, epochs, rows = (8, 1.0, 1000) if args.quick else (16, 1.0, 3000)
    rows_out = []
    for n_dev in (1, 2, 4):
        env = dict(os.environ)
        if not args.real:
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_dev}"
            env["JAX_PLATFORMS"] = "cpu"
        else:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(n_dev))
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(n_configs), str(epochs), str(rows)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows_out.append(row)
        print(
            f"{row['devices']} device(s): {row['seconds']:.2f} s per rung of {n_configs} configs x {epochs:g} epoch "
            f"= {row['config_epochs_per_s']:.2f} config-epochs/s (first call {row['first_call_s']:.1f} s)"
        )
    base = rows_out[0]
    for row in rows_out:  # the same configs must give the same losses on any device count
        row["speedup_vs_1"] = base["seconds"] / row["seconds"]
        row["max_abs_loss_diff_vs_1"] = max(abs(a - b) for a, b in zip(row["val_mse"], base["val_mse"]))
    result = {
        "benchmark": "device_scaling",
        "forced_host_devices": not args.real,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg()[0],
        "n_configs": n_configs,
        "epochs": epochs,
        "train_rows": rows,
        "rows": rows_out,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = Path(args.out or f"benchmarks/results/device_scaling_{'real' if args.real else 'forced_cpu'}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
