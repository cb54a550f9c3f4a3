"""``EngineSettings``: how an engine plans and runs, fixed for its life (a frozen dataclass). The
engine's run state (trained states, compiled programs, figures) lives on the ``Engine`` apart
from it; a second engine with the same settings (``replace(engine.settings, ...)``) plans the
same programs."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

import numpy as np

from .cost import COST_MODELS, CostModel, cost_model

__all__ = ["PRECISIONS", "EngineSettings", "default_compile_threads", "precision_context", "resolve"]

#: matmul precision of the train programs: "highest" is full float32 everywhere (results
#: comparable across devices); "default" is the device's own (TF32 on recent NVIDIA GPUs: faster,
#: about 3 decimal digits per product; no effect on CPU)
PRECISIONS = ("highest", "default")


def precision_context(precision: str):
    """The context a program is traced in: JAX records the matmul precision in each jaxpr."""
    import jax

    return nullcontext() if precision == "default" else jax.default_matmul_precision(precision)


@dataclass(frozen=True)
class EngineSettings:
    """``plan``: ``auto`` | ``exact`` | ``wide`` (see ``plan.py``). ``configs_per_program``: the
    most configs per call (None: by plan). ``memory_limit_bytes``: the device memory the calls in
    flight may use together. ``devices``: None, every local device. ``compiler_options``: XLA
    options of every train program (None: by device). ``cost``: the cost model's constants (None:
    this device's calibration, else the committed default; a vmapped plan forced on a CPU is
    planned as on an accelerator). ``precision``: see ``PRECISIONS``. ``fold_loss_scale(data key)
    -> [K]``: divisors of each fold's validation loss before the mean over folds (None: 1).
    ``compile_threads``: programs compiled at once on background threads (None: by device,
    ``HBJAX_COMPILE_THREADS`` where set)."""

    seed: int = 0
    configs_per_program: int | None = None
    plan: str = "auto"
    memory_limit_bytes: int = 2 << 30
    devices: Sequence | None = None
    compiler_options: dict | None = None
    fold_loss_scale: Callable[[int], np.ndarray] | None = None
    cost: CostModel | None = None
    precision: str = "highest"
    compile_threads: int | None = None


def resolve(settings: EngineSettings, local_devices: Sequence, model_kind: str | None = None) -> EngineSettings:
    """``settings`` with every None that depends on the device filled in: the devices, the cost
    constants (calibrated for ``model_kind`` where they were) and the compiler options."""
    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    devices = tuple(settings.devices if settings.devices is not None else local_devices)
    kind = devices[0].platform
    cost = settings.cost
    if cost is None:
        cost = cost_model(kind, devices[0], model_kind)
        if settings.plan == "wide" and not cost.vmap_parallel:
            cost = replace(
                COST_MODELS["gpu"],
                source="committed accelerator default (wide plan forced on a CPU: planned as on an accelerator)",
            )
    options = settings.compiler_options
    if options is None and kind == "cpu":
        # LLVM -O1: faster compiles and epochs than -O2 on CPU (measured in the commit that set it:
        # git log -S xla_backend_optimization_level)
        options = {"xla_backend_optimization_level": 1}
    threads = settings.compile_threads
    if threads is None and os.environ.get("HBJAX_COMPILE_THREADS"):
        value = os.environ["HBJAX_COMPILE_THREADS"]
        if not value.strip().isdigit():
            raise ValueError(f"HBJAX_COMPILE_THREADS must be a whole number >= 1, got {value!r}")
        threads = int(value)
    threads = default_compile_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"compile_threads must be >= 1, got {threads}")
    return replace(settings, devices=devices, cost=cost, compiler_options=options, compile_threads=threads)


def default_compile_threads(cores: int | None = None) -> int:
    """Programs compiled at once: one per two cores, at most 4. While nothing trains yet, two
    compiles on 2 cores each take twice as long, so the first program is ready later (demo, cold:
    the devices idled 5.0 s for it with two threads, 3.4 s with one); once training runs, compiles
    share its cores either way. More cores (an accelerator's host) compile more at once."""
    if cores is None:  # the cores this process may use (a container's share, not the host's)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(1, min(4, cores // 2))
