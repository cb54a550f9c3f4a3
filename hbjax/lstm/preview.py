"""What a run will cost, before it runs: ``hbjax plan`` and ``hbjax run --dry-run``.

Walks the Hyperband schedule with stand-in losses (seeded random: which configs survive is
unknown before training, how many is not), plans every rung with the engine's own planner and
prices it with the cost model of this kind of device. No training and no compile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import scheduler as sched
from .plan import bytes_per_config, cost_model

__all__ = ["RungPreview", "preview_run"]


@dataclass(frozen=True)
class RungPreview:
    iteration: int
    bracket: int
    rung: int
    configs: int
    resource: float
    config_epochs: float
    programs: int
    new_programs: int
    seconds: float  # the cost model's estimate (the busiest device), compiles excluded
    max_program_bytes: int  # the largest call's estimated memory


def preview_run(search, backend, *, seed: int = 0) -> list[RungPreview]:
    """One :class:`RungPreview` per rung of ``search`` on ``backend`` (an ``LSTMBackend``)."""
    from ..hyperband import prepare_backend

    engine = backend.engine
    state = search.initial_state()
    prepare_backend(backend, state)  # the same programs the run will use
    rng = np.random.default_rng(seed)
    seen: set = set()
    out = []
    while not sched.done(state):
        job, state = sched.ask(state)
        plan = engine.plan_rung(job.configs, job.resource, job.previous_resource)
        programs = set(plan.programs)
        n_folds, n_train, n_val, n_features = engine._sizes(engine.default_window)
        biggest = max((bytes_per_config(p.hidden, p.layers, p.batch_size, p.window, n_features, n_folds, n_train,
                                        n_val) * p.width for p in programs), default=0)
        out.append(RungPreview(job.iteration, job.bracket, job.rung, len(job.config_ids), job.resource,
                               sum(job.resource - r for r in job.previous_resource), len(programs),
                               len(programs - seen), max(plan.device_seconds(), default=0.0), biggest))
        seen |= programs
        state = sched.tell(state, job, rng.random(len(job.config_ids)))
    return out


def format_preview(rows: list[RungPreview], *, device_kind: str, n_devices: int, memory_bytes: int,
                   folds: int) -> str:
    cost = cost_model(device_kind)
    compiles = sum(r.new_programs for r in rows)
    train_s = sum(r.seconds for r in rows)
    lines = [f"{'iter':>4s} {'bracket':>7s} {'rung':>4s} {'configs':>7s} {'epochs':>7s} {'config-epochs':>13s} "
             f"{'programs':>8s} {'new':>4s} {'est. s':>8s} {'MiB/program':>11s}"]
    for r in rows:
        lines.append(f"{r.iteration:4d} {r.bracket:7d} {r.rung:4d} {r.configs:7d} {r.resource:7.3g} "
                     f"{r.config_epochs:13.4g} {r.programs:8d} {r.new_programs:4d} {r.seconds:8.1f} "
                     f"{r.max_program_bytes / 2**20:11.1f}")
    total_ce = sum(r.config_epochs for r in rows)
    lines.append(f"{total_ce:g} config-epochs on {folds} fold(s); {compiles} programs to compile; largest program "
                 f"~{max(r.max_program_bytes for r in rows) / 2**20:.0f} MiB of {memory_bytes / 2**30:.1f} GiB "
                 f"planned per program")
    guess = "" if device_kind == "cpu" else " (a guess: the accelerator constants are not measured yet)"
    lines.append(f"estimated wall time on {n_devices} {device_kind} device(s): ~{_duration(train_s + compiles * cost.compile_s)}"
                 f" (training ~{_duration(train_s)}, compiles ~{_duration(compiles * cost.compile_s)} before overlap)"
                 f"{guess}; from the cost model's constants, which were measured on a 2-core CPU: expect +-50%")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
