"""``hbjax calibrate``: measure this device's cost-model constants (``cost.CostModel``).

On synthetic data of the reference task's step shape (window 20, 6 features, 2 folds), with the
persistent compile cache off so every compile is paid: the compile seconds of each program; the
warm seconds of one optimizer step for a few hidden sizes, depths and widths, batched the way the
plan batches on this device (side by side on an accelerator, one after another on a CPU); and the
device's memory limit. From those:

* on an accelerator, ``seconds_per_step`` and ``seconds_per_serial_step`` (per time step of a layer) from the smallest
  programs (latency-bound), ``flops_per_s`` from the largest (FLOP-bound): the two ends of
  ``max(floor, FLOPs / rate)``;
* on a CPU, a least-squares line through ``step_s = floor + FLOPs / rate`` (relative errors).

The constants are stored per device kind and JAX version (``cost.save_constants``); every plan on
this device uses them from then on.
"""

from __future__ import annotations

import time
from dataclasses import replace

import jax
import numpy as np

from ..engine.cost import CostModel, cost_model, save_constants
from ..engine.plan import Call
from .engine import FoldArrays, LSTMEngine, encode_hparams
from .padding import step_flops
from .program import lstm_program

__all__ = ["calibrate"]

WINDOW, FEATURES, FOLDS, N_TRAIN, N_VAL = 20, 6, 2, 1024, 128


def _arrays(window: int) -> FoldArrays:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(FOLDS, N_TRAIN, window, FEATURES)).astype(np.float32)
    xv = rng.normal(size=(FOLDS, N_VAL, window, FEATURES)).astype(np.float32)
    return FoldArrays(x, x[:, :, -1, 0], xv, xv[:, :, -1, 0])


def _points(accelerator: bool, quick: bool) -> list[tuple[int, int, int, int]]:
    """(hidden, layers, batch, width) to time."""
    if accelerator:
        points = [(16, 1, 32, 1), (16, 3, 32, 1), (16, 1, 32, 16), (128, 2, 128, 4), (256, 3, 256, 8)]
        return points[:3] + points[-1:] if quick else points
    points = [(16, 1, 32, 1), (64, 2, 64, 1), (128, 1, 128, 1), (256, 2, 64, 1)]
    return points[:3] if quick else points


def calibrate(*, quick: bool = False, save: bool = True, log=print) -> dict:
    """Measure, fit, and (``save``) store this device's constants. -> a report dict."""
    device = jax.local_devices()[0]
    accelerator = device.platform != "cpu"
    batching = "vmap" if accelerator else "map"
    data = {WINDOW: _arrays(WINDOW)}
    was_cached = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)  # every compile is paid, as on a new device
    rows = []
    t_all = time.perf_counter()
    try:
        for hidden, layers, batch, width in _points(accelerator, quick):
            engine = LSTMEngine(
                lambda w: data[w], plan="wide" if accelerator else "exact", devices=[device], activations=("tanh",)
            )
            program = lstm_program(hidden, layers, batch, WINDOW, batching, width)
            compile_s = -time.perf_counter()
            compiled = engine.compile_program(program)
            compile_s += time.perf_counter()
            spe = N_TRAIN // batch
            epochs = max(1, round(48 / spe)) if not quick else max(1, round(16 / spe))
            configs = [dict(lr=1e-3, hidden=hidden, layers=layers, batch_size=batch, dropout=0.1)] * width
            call = Call(program, (tuple(range(width)),), 0, (0.0,), bound=layers if batching == "vmap" else 0)
            hps = [encode_hparams(c) for c in configs]
            times = []
            for _ in range(2):  # the first run also transfers; the faster is the warm figure
                t0 = time.perf_counter()
                out = engine.launch(
                    call,
                    compiled,
                    list(range(width)),
                    configs,
                    hps,
                    engine.step_ranges(configs, float(epochs), [0.0] * width),
                )
                jax.block_until_ready(out)
                times.append(time.perf_counter() - t0)
            steps = epochs * spe
            rows.append(
                {
                    "hidden": hidden,
                    "layers": layers,
                    "batch": batch,
                    "width": width,
                    "compile_s": compile_s,
                    "steps": steps,
                    "step_s": min(times) / steps,
                    "slot_flops": step_flops(hidden, layers, batch, WINDOW, FEATURES) * FOLDS,
                    "analysed_bytes": engine.program_memory[program]["analysed"],
                    "estimated_bytes": engine.program_memory[program]["estimated"],
                }
            )
            r = rows[-1]
            log(
                f"H{hidden} L{layers} B{batch} x{width}: compile {compile_s:.2f} s, step {r['step_s'] * 1e3:.3f} ms, "
                f"memory analysed {r['analysed_bytes'] / 2**20:.1f} MiB (estimated {r['estimated_bytes'] / 2**20:.1f})"
            )
    finally:
        jax.config.update("jax_enable_compilation_cache", was_cached)
    model = _fit(rows, accelerator, device)
    report = {
        "device": str(device),
        "device_kind": getattr(device, "device_kind", device.platform),
        "platform": device.platform,
        "jax": jax.__version__,
        "quick": quick,
        "points": rows,
        "constants": model.to_dict(),
        "seconds": time.perf_counter() - t_all,
    }
    if save:
        report["path"] = str(
            save_constants(device, model, {k: v for k, v in report.items() if k != "constants"}, model_kind="lstm")
        )
    return report


def _fit(rows: list[dict], accelerator: bool, device) -> CostModel:
    default = cost_model(device.platform)
    compile_s = float(np.median([r["compile_s"] for r in rows]))
    stamp = time.strftime("%Y-%m-%d")
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - not every backend reports memory
        stats = {}
    memory = int(stats["bytes_limit"]) if "bytes_limit" in stats else None
    source = f"calibrated {stamp} on {getattr(device, 'device_kind', device.platform)} (jax {jax.__version__})"
    if accelerator:
        shallow = next(r for r in rows if r["width"] == 1 and r["layers"] == 1)
        deep = [r for r in rows if r["width"] == 1 and r["layers"] > 1 and r["hidden"] == shallow["hidden"]]
        per_layer = 0.0
        if deep:
            per_layer = max(0.0, (deep[0]["step_s"] - shallow["step_s"]) / (WINDOW * (deep[0]["layers"] - 1)))
        per_step = max(0.0, shallow["step_s"] - per_layer * WINDOW)
        rate = max(r["width"] * r["slot_flops"] / r["step_s"] for r in rows)
        return CostModel(
            flops_per_s=rate,
            seconds_per_step=per_step,
            compile_s=compile_s,
            vmap_parallel=True,
            seconds_per_serial_step=per_layer,
            memory_bytes=memory,
            source=source,
        )
    step = np.array([r["step_s"] for r in rows])
    flops = np.array([r["slot_flops"] for r in rows])
    slope, intercept = np.polyfit(flops, step, 1, w=1.0 / step)  # relative errors: small shapes count
    rate = 1.0 / slope if slope > 0 else default.flops_per_s
    return replace(
        default,
        flops_per_s=float(rate),
        seconds_per_step=float(max(intercept, 0.0)),
        compile_s=compile_s,
        memory_bytes=memory,
        source=source,
    )
