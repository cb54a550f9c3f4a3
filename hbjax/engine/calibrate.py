"""Calibration of any model: the cost model's constants measured on this device by training the
model's own configs, stored per model kind and device (``cost.save_constants``).

For each config (one per program), a fresh engine trains it once (its compile, timed cold with
the compilation cache off) and once more warm for ``epochs``; a step's seconds are then fitted
against the model's FLOPs and serial steps (``Model.step_flops``, ``Model.serial_steps``) by
least squares on relative errors, so small configs count as much as large ones:
``seconds = seconds_per_step + seconds_per_serial_step x serial + FLOPs / flops_per_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import jax
import numpy as np

from .cost import CostModel, cost_model, save_constants

__all__ = ["calibrate_model", "fit", "measure"]


def measure(make_engine: Callable[[], object], configs: Sequence[Mapping], *, epochs: float, log=print) -> list[dict]:
    """One row per config: compile seconds (cold), warm seconds per optimizer step, the model's
    FLOPs and serial steps per step. ``make_engine()``: a fresh engine of the model (its plan
    and devices as the runs will use)."""
    was_cached = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)  # every compile is paid, as on a new device
    rows = []
    try:
        for i, config in enumerate(configs):
            engine = make_engine()
            engine.train([2 * i], [config], min(epochs, 0.05), [0.0])  # compiles, and a step or two
            compile_s = engine.compile_seconds
            t0 = time.perf_counter()
            engine.train([2 * i + 1], [config], float(epochs), [0.0])
            seconds = time.perf_counter() - t0
            shape = engine.shape(config)
            sizes = engine.sizes(shape.data)
            steps = max(1, engine.step_ranges([config], float(epochs), [0.0])[1][0])
            rows.append(
                {
                    "config": dict(config),
                    "program": engine.rung_stats[-1]["program_keys"][0],
                    "compile_s": compile_s,
                    "steps": steps,
                    "step_s": seconds / steps,
                    "flops_per_step": float(engine.model.step_flops(shape, shape.static, None, sizes)),
                    "serial_steps": int(engine.model.serial_steps(shape, None)),
                }
            )
            r = rows[-1]
            log(
                f"{r['program']}: compile {compile_s:.2f} s, step {r['step_s'] * 1e3:.3f} ms, "
                f"{r['flops_per_step'] / 1e6:.2f} MFLOP"
            )
    finally:
        jax.config.update("jax_enable_compilation_cache", was_cached)
    return rows


def fit(rows: Sequence[dict], device, *, source: str) -> CostModel:
    """The constants that best explain ``rows`` (relative least squares, every term >= 0),
    starting from the device kind's committed default (whose batching they keep)."""
    default = cost_model(device.platform)
    step = np.array([r["step_s"] for r in rows])
    terms = [
        np.ones_like(step),
        np.array([r["serial_steps"] for r in rows], float),
        np.array([r["flops_per_step"] for r in rows], float),
    ]
    used = [0] + [k for k in (1, 2) if np.ptp(terms[k]) > 0]  # a term that never varies is the intercept's
    a = np.stack([terms[k] / step for k in used], axis=1)
    coef = dict(zip(used, np.linalg.lstsq(a, np.ones_like(step), rcond=None)[0]))
    per_step, per_serial, per_flop = (max(0.0, float(coef.get(k, 0.0))) for k in range(3))
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - not every backend reports memory
        stats = {}
    return replace(
        default,
        flops_per_s=1.0 / per_flop if per_flop > 0 else default.flops_per_s,
        seconds_per_step=per_step,
        seconds_per_serial_step=per_serial,
        compile_s=float(np.median([r["compile_s"] for r in rows])),
        memory_bytes=int(stats["bytes_limit"]) if "bytes_limit" in stats else None,
        source=source,
    )


def calibrate_model(
    make_engine: Callable[[], object],
    configs: Sequence[Mapping],
    *,
    model_kind: str,
    epochs: float = 2.0,
    save: bool = True,
    log=print,
) -> dict:
    """Measure ``configs`` (one per program), fit, and (``save``) store the constants of
    ``model_kind`` on this device. -> a report dict."""
    device = jax.local_devices()[0]
    t0 = time.perf_counter()
    rows = measure(make_engine, configs, epochs=epochs, log=log)
    stamp = time.strftime("%Y-%m-%d")
    kind = getattr(device, "device_kind", device.platform)
    model = fit(rows, device, source=f"calibrated {stamp} for {model_kind} on {kind} (jax {jax.__version__})")
    report = {
        "device": str(device),
        "device_kind": kind,
        "platform": device.platform,
        "jax": jax.__version__,
        "model_kind": model_kind,
        "points": rows,
        "constants": model.to_dict(),
        "seconds": time.perf_counter() - t0,
    }
    if save:
        extra = {k: v for k, v in report.items() if k != "constants"}
        report["path"] = str(save_constants(device, model, extra, model_kind=model_kind))
    return report
