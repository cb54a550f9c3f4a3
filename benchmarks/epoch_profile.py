"""Where one warm epoch of the LSTM engine's program goes, by XLA CPU kernel, beside PyTorch.

For each config (the peers' largest shape and a middle one on the first NVDA fold, and the demo's
32 x 2 with its 5 folds side by side and three allowed activations), the engine's program alone
(``plan="exact"``, one device) is compiled and run warm, then one more epoch is traced with
``jax.profiler`` and each kernel's self time summed: the matmuls (YNNPACK library fusions, XLA
CPU's default dot path), every other kernel, and the thread pool's waits. The matmul FLOPs of the
epoch (``_common.lstm_flops``) over the matmuls' own seconds is the rate the dots reach inside
the program. Beside it the PyTorch loop's epoch of the same config (one fold; ``_common.TorchLoop``,
2 threads, flush-denormal), when PyTorch is installed: ``torch_epoch_s / dots_s`` is the most
hbjax could be faster than PyTorch with these dots if everything else took no time at all.

    JAX_PLATFORMS=cpu python benchmarks/epoch_profile.py     # ~2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    TorchLoop,
    first_fold_task,
    load_average,
    lstm_flops,
    machine_info,
    torch_version,
    write_json,
)
from lstm_program import _timed, torch_epoch

#: (hidden, layers, batch, folds, allowed activations)
CONFIGS = ((256, 3, 64, 1, "tanh"), (64, 2, 64, 1, "tanh"), (32, 2, 64, 5, "tanh,relu,sigmoid"))


def self_times(events: list) -> tuple[collections.Counter, collections.Counter]:
    """Self time (us) and count per event name: each complete event's duration minus that of the
    events nested in it on the same thread."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    own, count = collections.Counter(), collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack: list = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                own[stack[-1]["name"]] -= e["dur"]
            own[e["name"]] += e["dur"]
            count[e["name"]] += 1
            stack.append(e)
    return own, count


def kind_of(name: str) -> str | None:
    """The kernel kind of a trace event (None: not a kernel: the executor's and Python's frames)."""
    if name.startswith(("$", "while", "cond")) or "Execute" in name or "ThunkExecutor" in name:
        return None
    if name.startswith(("ynn", "dot")):
        return "matmuls"
    if "Await" in name:
        return "thread_pool_waits"
    return "other_kernels"


def profile_epoch(engine, config: dict, config_id: int) -> dict:
    import jax

    with tempfile.TemporaryDirectory(prefix="hbjax-epoch-profile-") as tmp:
        with jax.profiler.trace(tmp):
            engine.train([config_id], [config], 1.0, [0.0])
        path = sorted(glob.glob(os.path.join(tmp, "**", "*.trace.json.gz"), recursive=True), key=os.path.getmtime)[-1]
        with gzip.open(path) as f:
            trace = json.load(f)
    own, count = self_times(trace["traceEvents"] if isinstance(trace, dict) else trace)
    kinds: collections.Counter = collections.Counter()
    for name, us in own.items():
        kind = kind_of(name)
        if kind:
            kinds[kind] += us / 1e6
    top = [
        {"kernel": name, "seconds": us / 1e6, "calls": count[name]} for name, us in own.most_common() if kind_of(name)
    ][:12]
    return {"seconds_by_kind": dict(kinds), "top_kernels": top}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--quick", action="store_true", help="only 16 x 1, batch 128 (a smoke test)")
    p.add_argument("--out", type=Path, default=RESULTS / "epoch_profile_cpu.json")
    args = p.parse_args(argv)
    import jax

    from hbjax.lstm.engine import FoldArrays, LSTMEngine

    load0 = load_average()
    use_torch = not args.no_torch and torch_version() is not None
    rows = []
    for hidden, layers, batch, folds, acts in ((16, 1, 128, 1, "tanh"),) if args.quick else CONFIGS:
        w = first_fold_task(folds).fold_windows(20)
        arrays = FoldArrays(w.x_train, w.y_train, w.x_val, w.y_val)
        n_train, n_val, n_features = w.x_train.shape[1], w.x_val.shape[1], w.x_train.shape[2]
        config = {
            "hidden": hidden,
            "layers": layers,
            "batch_size": batch,
            "lr": 1e-3,
            "dropout": 0.2,
            "activation": "tanh",
            "optimizer": "adam",
        }
        engine = LSTMEngine(
            lambda _w, a=arrays: a, seed=0, activations=tuple(acts.split(",")), plan="exact", devices=jax.devices()[:1]
        )
        engine.train([0], [config], 1.0, [0.0])  # compile
        epochs = [_timed(lambda i=i: engine.train([i], [config], 1.0, [0.0])) for i in range(1, 4)]
        prof = profile_epoch(engine, config, 9)
        flops = folds * lstm_flops(hidden, layers, batch, 20, n_features, n_train // batch, n_val)
        dots_s = prof["seconds_by_kind"].get("matmuls", 0.0)
        torch_s = None
        if use_torch and folds == 1:
            loop = TorchLoop(w.x_train[0], w.y_train[0], w.x_val[0], w.y_val[0], threads=2, flush_denormal=True)
            torch_s = torch_epoch(loop, config)
        row = {
            "hidden": hidden,
            "layers": layers,
            "batch_size": batch,
            "folds": folds,
            "activations": acts,
            "warm_epoch_s": min(epochs),
            "warm_epochs_s": epochs,
            "matmul_gflop": flops / 1e9,
            **prof,
            "matmul_gflops_inside": flops / dots_s / 1e9 if dots_s else None,
            "torch_epoch_s": torch_s,
            "torch_over_hbjax_epoch": None if torch_s is None else torch_s / min(epochs),
            "torch_over_hbjax_matmuls_alone": None if torch_s is None or not dots_s else torch_s / dots_s,
        }
        rows.append(row)
        kinds = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(prof["seconds_by_kind"].items()))
        print(
            f"{hidden}x{layers} b{batch} {folds} fold(s): epoch {min(epochs):.3f} s (profiled: {kinds}); matmuls "
            f"at {row['matmul_gflops_inside'] or 0:.0f} GFLOP/s; PyTorch {torch_s if torch_s is None else round(torch_s, 3)} s",
            flush=True,
        )
    write_json(
        args.out,
        {
            "benchmark": "epoch_profile",
            "machine": machine_info(),
            "load_average_at_start": load0,
            "load_average_at_end": load_average(),
            "note": "fixed configs (the same in every run of this benchmark); self time per XLA CPU "
            "kernel from jax.profiler over one warm epoch (the profiled epoch runs somewhat "
            "slower than unprofiled ones); matmuls: YNNPACK library fusions",
            "configs": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
