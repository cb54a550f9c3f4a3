"""What a run will cost, before it runs: ``hbjax plan`` and ``hbjax run --dry-run``.

Walks the Hyperband schedule with stand-in losses (seeded random: which configs survive is
unknown before training, how many is not), plans every rung (or every wave: all ready rungs of
all brackets as one plan) with the engine's own planner and prices it with the cost model of this
kind of device. No training and no compile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import waves as wave_sched

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
    computed_flops: float = 0.0  # matmul FLOPs the plan computes (padding and empty slots included)
    real_flops: float = 0.0  # what the configs would compute alone at their own shapes
    calls: int = 0
    wave: int | None = None  # in waves: its number (the row is the whole wave)
    rungs: tuple = ()  # in waves: (bracket, rung) of each job it holds


def preview_run(search, backend, *, seed: int = 0, waves: bool | None = None) -> list[RungPreview]:
    """One :class:`RungPreview` per rung of ``search`` on ``backend`` (an engine backend), or
    per wave (``waves``; None: as ``search`` would run on ``backend``)."""
    from ..hyperband import prepare_backend

    engine = backend.engine
    if waves is None:
        waves = search.uses_waves(backend) if hasattr(search, "uses_waves") else False
    state = search.initial_state(waves=True) if waves else search.initial_state()
    prepare_backend(backend, state)  # the same programs the run will use
    rng = np.random.default_rng(seed)
    seen: set = set()
    out = []
    for jobs, after in wave_sched.walk(state, lambda job: rng.random(len(job.config_ids))):
        expand = getattr(backend, "expand_job", None)  # Repeats: every seed of every config
        planned = [expand(j) for j in jobs] if expand is not None else jobs
        configs = [c for j in planned for c in j.configs]
        plan = engine.plan_rung(
            configs,
            [j.resource for j in planned for _ in j.config_ids],
            [r for j in planned for r in j.previous_resource],
        )
        programs = set(plan.programs)
        biggest = max((engine.estimated_bytes(p) for p in programs), default=0)
        first = jobs[0]
        out.append(
            RungPreview(
                first.iteration,
                first.bracket,
                first.rung,
                len(configs),
                max(j.resource for j in jobs),
                sum(j.added_resource for j in planned),
                len(programs),
                len(programs - seen),
                max(plan.device_seconds(), default=0.0),
                biggest,
                plan.computed_flops,
                plan.real_flops,
                len(plan.calls),
                after.waves - 1 if waves else None,
                tuple((j.bracket, j.rung) for j in jobs),
            )
        )
        seen |= programs
    return out


def format_preview(
    rows: list[RungPreview], *, device_kind: str, n_devices: int, memory_bytes: int, folds: int, cost
) -> str:
    compiles = sum(r.new_programs for r in rows)
    train_s = sum(r.seconds for r in rows)
    in_waves = any(r.wave is not None for r in rows)
    where = (
        f"{'wave':>4s} {'rungs (bracket s, rung)':>24s}" if in_waves else f"{'iter':>4s} {'bracket':>7s} {'rung':>4s}"
    )
    lines = [
        f"{where} {'configs':>7s} {'epochs':>7s} {'config-epochs':>13s} "
        f"{'programs':>8s} {'new':>4s} {'calls':>5s} {'est. s':>8s} {'MiB/call':>8s} {'FLOPs x':>7s}"
    ]
    for r in rows:
        where = f"{r.wave:4d} {_rungs(r.rungs):>24s}" if in_waves else f"{r.iteration:4d} {r.bracket:7d} {r.rung:4d}"
        lines.append(
            f"{where} {r.configs:7d} {r.resource:7.3g} "
            f"{r.config_epochs:13.4g} {r.programs:8d} {r.new_programs:4d} {r.calls:5d} {r.seconds:8.1f} "
            f"{r.max_program_bytes / 2**20:8.1f} {_ratio(r.computed_flops, r.real_flops):>7s}"
        )
    total_ce = sum(r.config_epochs for r in rows)
    computed, real = sum(r.computed_flops for r in rows), sum(r.real_flops for r in rows)
    lines.append(
        f"{total_ce:g} config-epochs on {folds} fold(s); {compiles} programs to compile (widths counted); "
        f"largest call ~{max(r.max_program_bytes for r in rows) / 2**20:.0f} MiB of the "
        f"{memory_bytes / 2**30:.1f} GiB budget; computed / real matmul FLOPs {_ratio(computed, real)}"
    )
    lines.append(
        (f"{len(rows)} waves (every ready rung of every bracket planned together); " if in_waves else "")
        + f"estimated wall time on {n_devices} {device_kind} device(s): ~{_duration(train_s + compiles * cost.compile_s)}"
        f" (training ~{_duration(train_s)}, compiles ~{_duration(compiles * cost.compile_s)} before overlap); "
        f"cost constants: {cost.source}: expect +-50%"
    )
    return "\n".join(lines)


def _rungs(rungs) -> str:
    text = " ".join(f"s{s}r{r}" for s, r in rungs)
    return text if len(text) <= 24 else f"{len(rungs)} rungs, s{rungs[0][0]}..s{rungs[-1][0]}"


def _ratio(computed: float, real: float) -> str:
    return f"{computed / real:.2f}" if real > 0 else "-"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
