"""Repeats: N seeds of every config trained side by side, and the loss their mean.

``Repeats(backend, 4)`` is a backend: each job's configs are handed to ``backend`` four times in
ONE wave (the LSTM engine plans them as one rung, so the seeds of a config share its program; the
test functions evaluate them in one vectorised call). Seed r of config ``c`` trains as config id
``c + r * SEED_STRIDE``: seed 0 is the config itself (``Repeats(backend, 1)`` is ``backend``),
the others draw their own initial weights, shuffles, dropout or noise, as the backend derives
them from a config id. The scheduler sees one loss per config, the mean over seeds (NaN when
any seed diverged, so a config that diverges on some seeds is never promoted); the trials table
keeps each seed's loss (``loss_seed0`` ...) and their standard deviation (``loss_std``).

A repeated evaluation costs N times the resource: ``resource_multiplier`` says so to budgeted
strategies (``HyperbandStrategy(repeats=...)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

from .scheduler import RungJob

__all__ = ["SEED_STRIDE", "Repeats"]

#: config ids of seed r are offset by r * SEED_STRIDE (ids stay below 2^31 up to 127 seeds)
SEED_STRIDE = 1 << 24


class Repeats:
    def __init__(self, backend, repeats: int):
        if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or not 1 <= repeats < 128:
            raise ValueError(f"repeats must be an integer in 1..127, got {repeats!r}")
        if not hasattr(backend, "train_rung") and not hasattr(backend, "train_wave"):
            raise ValueError(f"{type(backend).__name__} is not a backend (no train_rung / train_wave)")
        self.backend = backend
        self.repeats = int(repeats)
        self.continues = bool(getattr(backend, "continues", False))
        self.trial_columns: dict = {}  # (config id, resource) -> the seeds' losses and spread

    resource_multiplier = property(lambda self: self.repeats)

    def __getattr__(self, name):  # everything else is the wrapped backend's (engine, evaluate_on_test, ...)
        if name in ("backend", "submit_wave", "wait_wave"):  # training goes through train_wave, seeds expanded
            raise AttributeError(name)
        return getattr(self.backend, name)

    def seed_ids(self, config_id: int) -> list[int]:
        if not 0 <= config_id < SEED_STRIDE:
            raise ValueError(f"config id {config_id} is out of range for repeats (< {SEED_STRIDE})")
        return [config_id + r * SEED_STRIDE for r in range(self.repeats)]

    @staticmethod
    def base_id(config_id: int) -> int:
        return config_id % SEED_STRIDE

    def state_ids(self, config_ids: Sequence[int]) -> list[int]:
        """The ids whose trained state a checkpoint keeps for ``config_ids``: every seed's."""
        return [s for cid in config_ids for s in self.seed_ids(cid)]

    def expand_job(self, job: RungJob) -> RungJob:
        """The job as the wrapped backend trains it: every seed of every config."""
        n = self.repeats
        ids = tuple(cid + r * SEED_STRIDE for r in range(n) for cid in job.config_ids)
        return job._replace(
            config_ids=ids, configs=tuple(job.configs) * n, previous_resource=tuple(job.previous_resource) * n
        )

    def prepare(self, space, config_epochs: float, first_rung_configs: int | None = None) -> None:
        prepare = getattr(self.backend, "prepare", None)
        if prepare is None:
            return
        extra = {}
        if first_rung_configs is not None and "first_rung_configs" in inspect.signature(prepare).parameters:
            extra["first_rung_configs"] = first_rung_configs * self.repeats
        prepare(space, config_epochs * self.repeats, **extra)

    def train_wave(self, jobs) -> list[np.ndarray]:
        from .hyperband import train_wave

        jobs = list(jobs)
        losses = train_wave(self.backend, [self.expand_job(job) for job in jobs])
        out = []
        for job, loss in zip(jobs, losses):
            per_seed = np.asarray(loss, dtype=np.float64).reshape(self.repeats, len(job.config_ids))
            for j, cid in enumerate(job.config_ids):
                seeds = per_seed[:, j]
                row = {f"loss_seed{r}": float(v) for r, v in enumerate(seeds)}
                row["loss_std"] = float(np.std(seeds, ddof=1)) if self.repeats > 1 else 0.0
                self.trial_columns[(int(cid), float(job.resource))] = row
            out.append(per_seed.mean(axis=0))
        return out

    def train_rung(self, job: RungJob) -> np.ndarray:
        return self.train_wave([job])[0]

    def release(self, config_ids) -> None:
        release = getattr(self.backend, "release", None)
        if release is not None:
            release(self.state_ids(config_ids))

    def config_cost(self, config) -> float:
        cost = getattr(self.backend, "config_cost", None)
        return self.repeats * (cost(config) if cost is not None else 1.0)
