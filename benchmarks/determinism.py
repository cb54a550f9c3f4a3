"""Does anything but the seed change a run's numbers? The issue's command, varied.

Runs ``hbjax run -R 27 --space demo --folds 1 --seed 3`` (the CLI, one XLA device:
``HBJAX_CPU_DEVICES=1``, as the Python API and a single GPU run) with

* ``--configs-per-program 1`` (the reference), ``8``, and ``1`` again (the same command twice);
* every CPU core as a host device (the CLI's default): configs spread over devices;
* ``--plan exact`` (no padding at all) and ``--plan wide`` (the accelerator plan forced on CPU:
  hidden padded to the largest, configs vmapped side by side): the effect of padding itself.

and compares each trials table with the reference: rows whose loss differs, and the largest
relative difference. JSON in ``benchmarks/results/determinism_<device>.json``.

    python benchmarks/determinism.py            # ~10 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, wait_for_quiet, write_json

COMMAND = ["-R", "27", "--space", "demo", "--folds", "1", "--seed", "3", "--quiet"]
VARIANTS = {
    "configs-per-program 1 (reference)": (["--configs-per-program", "1"], "1"),
    "configs-per-program 8": (["--configs-per-program", "8"], "1"),
    "configs-per-program 1, again": (["--configs-per-program", "1"], "1"),
    "every core a device": (["--configs-per-program", "1"], ""),
    "plan exact": (["--plan", "exact"], "1"),
    "plan wide (accelerator plan on CPU)": (["--plan", "wide"], "1"),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    load = wait_for_quiet()
    import numpy as np
    import pandas as pd

    tables, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (extra, cpu_devices) in VARIANTS.items():
            out = Path(tmp) / str(len(tables))
            env = dict(os.environ, HBJAX_NO_COMPILE_CACHE="1")
            env.pop("HBJAX_CPU_DEVICES", None)
            if cpu_devices:
                env["HBJAX_CPU_DEVICES"] = cpu_devices
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "hbjax.cli", "run", *COMMAND, *extra, "--out", str(out)],
                env=env,
                capture_output=True,
                text=True,
            )
            seconds[name] = time.perf_counter() - t0
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
                return 1
            tables[name] = pd.read_csv(out / "trials.csv")
            print(f"{name}: {len(tables[name])} rows, {seconds[name]:.0f} s", flush=True)
    ref_name = next(iter(VARIANTS))
    ref = tables[ref_name]
    rows = {}
    keys = ["iteration", "bracket", "rung", "config_id"]
    for name, frame in tables.items():
        both = ref[keys + ["loss"]].merge(frame[keys + ["loss"]], on=keys, how="outer", suffixes=("_ref", ""))
        a, b = both["loss_ref"].to_numpy(float), both["loss"].to_numpy(float)
        diff = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        finite = diff & np.isfinite(a) & np.isfinite(b) & (a != 0)
        rel = float(np.max(np.abs(a - b)[finite] / np.abs(a)[finite])) if finite.any() else 0.0
        best_ref, best = ref.loc[ref["loss"].idxmin()], frame.loc[frame["loss"].idxmin()]
        rows[name] = {
            "rows": int(len(frame)),
            "rows_differing": int(diff.sum()),
            "max_relative_difference": rel,
            "same_best_config": bool(best_ref["config_id"] == best["config_id"]),
            "best_loss": float(frame["loss"].min()),
            "seconds": seconds[name],
        }
        print(
            f"  {name:40s} {rows[name]['rows_differing']:3d} of {len(frame)} rows differ, max rel "
            f"{rel:.2e}, same best config: {rows[name]['same_best_config']}",
            flush=True,
        )
    out = args.out or RESULTS / "determinism_cpu.json"
    write_json(
        out,
        {
            "benchmark": "determinism",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine_info(),
            **load,
            "command": "hbjax run " + " ".join(COMMAND),
            "reference": ref_name,
            "variants": {
                k: " ".join(v[0]) + (" (1 device)" if v[1] else " (every core a device)") for k, v in VARIANTS.items()
            },
            "results": rows,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
