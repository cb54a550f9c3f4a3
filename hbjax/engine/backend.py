"""``EngineBackend``: what every Hyperband backend on the engine shares, whatever its model.

A backend owns an ``Engine`` (``self.engine``) and turns the scheduler's jobs into submissions:
a wave's jobs planned together, each job's losses handed back as soon as its calls are in, the
states of pruned configs released. Survivors continue from their trained state (``continues``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np

from ..scheduler import RungJob
from .cost import step_seconds

__all__ = ["EngineBackend", "default_memory_limit", "enable_compilation_cache"]


class EngineBackend:
    """Hyperband's backend over ``engine`` (an ``Engine`` of any model client). Subclasses may
    set ``self.engine`` later and fill ``rung_info`` with extra trial columns."""

    continues = True
    engine = None
    sharing_check = None  # engine.verify.SharingCheck: shared programs checked against configs alone

    def __init__(self, engine=None):
        if engine is not None:
            self.engine = engine
        self.rung_info: dict[tuple, dict] = {}  # (config_id, resource) -> extra columns
        self.wave_stats: dict | None = None

    @property
    def compiles(self) -> int:
        return self.engine.compiles

    def config_cost(self, config: Mapping) -> float:
        """Estimated seconds of one epoch of ``config`` on all folds, from the plan's cost model
        (matmul FLOPs and a per-step overhead): the trials table shares each rung's wall time
        among its configs by it."""
        engine = self.engine
        key = engine.shape(config)
        steps = engine.steps_per_epoch(key.batch_size, key.data)
        flops = engine.model.step_flops(key, key.static, None, engine.sizes(key.data))
        return steps * step_seconds(
            engine.cost, batching="map", width=1, slot_flops=flops, serial_steps=engine.model.serial_steps(key, None)
        )

    def train_rung(self, job: RungJob) -> np.ndarray:
        return self.train_wave([job])[0]

    def train_wave(self, jobs) -> list[np.ndarray]:
        """Every job's configs planned and trained together (one plan: shared programs, devices
        balanced longest-first over the whole wave); each job gets its own losses."""
        parts = self.submit_wave(jobs)
        out = {}
        while len(out) < len(parts):
            part, losses = self.wait_wave([p for p in parts if p.index not in out])
            out[part.index] = losses
        return [out[i] for i in range(len(parts))]

    def submit_wave(self, jobs) -> list:
        """Plan and dispatch a wave without waiting for it, behind the work already on the devices:
        one handle per job, for ``wait_wave``."""
        jobs = list(jobs)
        ids = [cid for job in jobs for cid in job.config_ids]
        configs = [c for job in jobs for c in job.configs]
        resources = [float(job.resource) for job in jobs for _ in job.config_ids]
        previous = [p for job in jobs for p in job.previous_resource]
        # a job whose bracket has more rungs to go runs first: its result unlocks the next rung
        priorities = [job.rung - job.bracket for job in jobs for _ in job.config_ids]
        if self.sharing_check is not None:
            self.sharing_check.pick(ids, configs, resources, previous)
        ticket = self.engine.submit(
            ids, configs, resources, previous, parts=[len(j.config_ids) for j in jobs], priorities=priorities
        )
        ticket.jobs = jobs
        return ticket.parts

    def wait_wave(self, handles):
        """(the first of ``handles`` whose job is done, that job's losses)."""
        part = self.engine.wait(list(handles))
        self.engine.commit(part)  # its states become the engine's now, as the driver tells its job
        job = part.ticket.jobs[part.index]
        self.wave_stats = part.ticket.stats  # the engine's figures of its wave (programs, compiles)
        if self.sharing_check is not None:
            self.sharing_check.check(job.config_ids, part.val)
        for cid, t in zip(job.config_ids, part.train_loss):
            self.rung_info[(cid, float(job.resource))] = {"train_loss": float(t)}
        return part, part.val.copy()

    def release(self, config_ids) -> None:
        self.engine.release(config_ids)


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Persist XLA compiles on disk (``$HBJAX_CACHE_DIR`` or ~/.cache/hbjax/xla) so a rerun, a
    resume or a second engine in the same process skips the ~5 s per-shape CPU compile."""
    if os.environ.get("HBJAX_NO_COMPILE_CACHE"):
        return None
    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    target = Path(path or os.environ.get("HBJAX_CACHE_DIR") or Path.home() / ".cache" / "hbjax" / "xla")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return target


def default_memory_limit() -> int:
    """Bytes one program may plan for: 70% of a GPU's memory, 2 GiB on CPU."""
    device = jax.devices()[0]
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - not every backend reports memory
        stats = {}
    if "bytes_limit" in stats:
        return int(0.7 * stats["bytes_limit"])
    return 2 << 30
