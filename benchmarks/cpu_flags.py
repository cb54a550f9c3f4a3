"""What the installed jaxlib's XLA CPU flags do to the LSTM's matmuls, compiles and results.

Each flag set runs in its own process (``XLA_FLAGS`` is read once, at backend start), one after
another: ``jnp.dot`` inside a jitted loop at the LSTM's shapes, and the engine's program for a
64x3 and a 256x3 config (batch 64, first NVDA fold, one epoch: compile from an empty cache, warm
epoch best of 2) with its validation and train loss, so a flag that changes results shows it.
Flags that the jaxlib rejects are recorded as such.

    JAX_PLATFORMS=cpu python benchmarks/cpu_flags.py        # ~6 minutes on 2 cores
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

from _common import RESULTS, load_average, wait_for_quiet, write_json

#: (name, XLA_FLAGS, what it is) -- XLA CPU in jaxlib 0.10 runs dots through YNNPACK by default
FLAG_SETS = (
    ("default", "", "jaxlib's defaults: dots as YNNPACK fusions"),
    ("no_ynnpack", "--xla_cpu_experimental_ynn_fusion_type=", "dots back on XLA's own (Eigen) path"),
    (
        "onednn_dots",
        "--xla_cpu_experimental_ynn_fusion_type= --xla_cpu_experimental_onednn_fusion_type=LIBRARY_FUSION_TYPE_DOT",
        "dots through oneDNN instead",
    ),
    (
        "ynn_dot_eltwise_reduce",
        "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_DOT,"
        "LIBRARY_FUSION_TYPE_ELTWISE,LIBRARY_FUSION_TYPE_REDUCE",
        "YNNPACK also for elementwise ops and reductions",
    ),
    (
        "xnn_graph_greedy",
        "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
        "XNNPACK subgraph fusion",
    ),
    ("fast_compile", "--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_COMPILE", "XLA CPU's fast-compile preset"),
    ("llvm_cheap", "--xla_llvm_disable_expensive_passes=true", "skip LLVM's expensive passes"),
    ("opt_level_0", "--xla_backend_optimization_level=0", "no LLVM optimisation"),
    ("one_eigen_thread", "--xla_cpu_multi_thread_eigen=false", "intra-op parallelism off"),
)

PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import jax
jax.config.update("jax_compilation_cache_dir", None)
from _common import first_fold_task
from hbjax.lstm.engine import FoldArrays, LSTMEngine
from lstm_program import dot_rate_jax
out = {}
out["dot_gflops"] = {f"{m}x{k}x{n}": dot_rate_jax(m, k, n) / 1e9 for m, k, n in
                     ((64, 64, 256), (64, 256, 1024), (1280, 256, 1024), (64, 512, 1024), (1024, 1024, 1024))}
fw = first_fold_task(1).fold_windows(20)
arrays = FoldArrays(fw.x_train, fw.y_train, fw.x_val, fw.y_val)
for hidden in (64, 256):
    cfg = {"hidden": hidden, "layers": 3, "batch_size": 64, "lr": 1e-3, "dropout": 0.2, "activation": "tanh",
           "optimizer": "adam"}
    eng = LSTMEngine(lambda w: arrays, seed=0, activations=("tanh",), plan="exact", devices=jax.devices()[:1])
    val, train = eng.train([0], [cfg], 1.0, [0.0])
    warm = []
    for i in (1, 2):
        t = time.perf_counter(); eng.train([i], [cfg], 1.0, [0.0]); warm.append(time.perf_counter() - t)
    out[f"{hidden}x3_b64"] = {"compile_s": eng.compile_seconds, "warm_epoch_s": min(warm),
                              "val_loss": float(val[0]), "train_loss": float(train[0])}
print("RESULT " + json.dumps(out))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", default=None, help="comma-separated names of FLAG_SETS (default: all)")
    p.add_argument("--quick", action="store_true", help="only 'default' and 'llvm_cheap' (a smoke test)")
    p.add_argument("--out", type=Path, default=RESULTS / "cpu_flags_cpu.json")
    args = p.parse_args(argv)
    names = args.sets.split(",") if args.sets else ["default", "llvm_cheap"] if args.quick else None
    chosen = [s for s in FLAG_SETS if names is None or s[0] in names]
    load = wait_for_quiet()
    here = str(Path(__file__).resolve().parent)
    rows = []
    for name, flags, what in chosen:
        env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", PROBE, here], env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        row = {"name": name, "xla_flags": flags, "what": what, "seconds": time.perf_counter() - t0}
        if line is None:
            row["error"] = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        else:
            row.update(json.loads(line[len("RESULT ") :]))
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["name"] == "default" and "error" not in r), None)
    if base is not None:
        for r in rows:
            if "error" in r:
                continue
            for key in ("64x3_b64", "256x3_b64"):
                r[key]["epoch_vs_default"] = r[key]["warm_epoch_s"] / base[key]["warm_epoch_s"]
                r[key]["compile_vs_default"] = r[key]["compile_s"] / base[key]["compile_s"]
                r[key]["same_losses_as_default"] = (
                    r[key]["val_loss"] == base[key]["val_loss"] and r[key]["train_loss"] == base[key]["train_loss"]
                )
    write_json(
        args.out,
        {
            "benchmark": "cpu_flags",
            **load,
            "load_average_at_end": load_average(),
            "note": "each flag set in its own process, one after another; epochs and compiles of "
            "the engine's program for one config alone (first NVDA fold, 2,980 windows)",
            "flag_sets": rows,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
