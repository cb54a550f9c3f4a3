"""Asynchronous successive halving (ASHA; Li et al. 2020), as pure functions over an immutable state.

    state = init(space, max_resource=81, eta=3, min_resource=1, seed=0)
    job, state = ask(state)             # a RungJob for ONE config (None: wait for a pending job)
    state = tell(state, job, loss)      # many jobs may be outstanding at once (workers)

Rungs ``k = 0..s`` train to ``r_k = R * eta**(k - s)`` with ``s = floor(log_eta(R / min_resource))``
(so the top rung is exactly R, as in hbjax's Hyperband). ``ask`` never waits for a rung to fill:
it promotes the best not-yet-promoted config of the highest rung ``k < s`` in which that config is
among the top ``floor(n_k / eta)`` of the ``n_k`` results told so far at rung k; if no config is
promotable it starts a new random config at rung 0. Rules shared with the Hyperband scheduler:
NaN / inf losses count as +inf and are never promoted; ties go to the lower config id. Config
``i`` is drawn from ``numpy.random.default_rng([seed, i])`` (a finite space of at most
``GRID_PERMUTATION_LIMIT`` points is instead visited in one seeded random order, without
repetition), so the configs do not depend on timing; with one worker a run is deterministic.

``done(state)``: ``max_configs`` configs have been started (for a finite space at most its
size), every job has been told and nothing is promotable. Without ``max_configs`` ASHA never
finishes by itself: the caller stops it by budget (``run_asha``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..brackets import validate_resource_and_eta
from ..results import Result, trials_from_history
from ..scheduler import Observation, RungJob
from ..space import Space

__all__ = [
    "GRID_PERMUTATION_LIMIT",
    "AshaState",
    "ask",
    "done",
    "history",
    "init",
    "promotable",
    "run_asha",
    "rung_resources",
    "tell",
]

#: finite spaces up to this size are sampled without replacement (one seeded permutation)
GRID_PERMUTATION_LIMIT = 1_000_000


@dataclass(frozen=True)
class AshaState:
    space: Space
    eta: int
    seed: int
    resources: tuple[float, ...]  # r_0 < ... < r_s (the top rung is max_resource)
    max_configs: int | None = None
    configs: tuple[dict, ...] = ()  # every config started; id = position
    results: tuple[tuple[tuple[int, float], ...], ...] = ()  # per rung: (config id, loss) told
    promoted: tuple[frozenset, ...] = ()  # per rung: ids promoted out of it (pending or told)
    pending: tuple[RungJob, ...] = ()
    history: tuple[Observation, ...] = ()  # in tell order, promoted=False (see ``history()``)

    @property
    def top_rung(self) -> int:
        return len(self.resources) - 1


def rung_resources(max_resource, eta: int, min_resource=1) -> tuple[float, ...]:
    validate_resource_and_eta(max_resource, eta)
    if (
        isinstance(min_resource, bool)
        or not isinstance(min_resource, (int, float, np.integer, np.floating))
        or not 0 < min_resource <= max_resource
    ):
        raise ValueError(f"min_resource must be in (0, max_resource], got {min_resource!r}")
    R = Fraction(max_resource).limit_denominator(10**9)
    ratio = R / Fraction(min_resource).limit_denominator(10**9)
    s = 0
    while eta ** (s + 1) <= ratio:
        s += 1
    return tuple(float(R * Fraction(eta) ** (k - s)) for k in range(s + 1))


def init(
    space: Space, *, max_resource, eta: int = 3, min_resource=1, seed: int = 0, max_configs: int | None = None
) -> AshaState:
    if not isinstance(space, Space):
        raise TypeError(f"space must be an hbjax.Space, got {type(space).__name__}")
    resources = rung_resources(max_resource, eta, min_resource)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if max_configs is not None and (
        isinstance(max_configs, bool) or not isinstance(max_configs, (int, np.integer)) or max_configs < 1
    ):
        raise ValueError(f"max_configs must be a positive integer or None, got {max_configs!r}")
    size = space.size
    if size is not None:
        max_configs = size if max_configs is None else min(int(max_configs), size)
    n = len(resources)
    return AshaState(
        space=space,
        eta=int(eta),
        seed=int(seed),
        resources=resources,
        max_configs=None if max_configs is None else int(max_configs),
        results=((),) * n,
        promoted=(frozenset(),) * n,
    )


def promotable(state: AshaState) -> tuple[int, int] | None:
    """``(config_id, rung)`` that ``ask`` would promote out of ``rung`` now, or None."""
    for k in range(state.top_rung - 1, -1, -1):
        told = state.results[k]
        n_top = len(told) // state.eta
        if n_top == 0:
            continue
        ranked = sorted((loss, cid) for cid, loss in told)[:n_top]
        for loss, cid in ranked:
            if math.isfinite(loss) and cid not in state.promoted[k]:
                return cid, k
    return None


@lru_cache(maxsize=8)
def _grid_order(seed: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, size]).permutation(size)


def _new_config(state: AshaState, cid: int) -> dict:
    size = state.space.size
    if size is not None and size <= GRID_PERMUTATION_LIMIT:
        return state.space.grid_point(int(_grid_order(state.seed, size)[cid]))
    return state.space.sample_configs(np.random.default_rng([state.seed, cid]), 1, unique=False)[0]


def ask(state: AshaState) -> tuple[RungJob | None, AshaState]:
    """The next job (one config), or ``(None, state)`` when nothing can start until a pending job
    is told (``max_configs`` reached and nothing promotable)."""
    top = state.top_rung
    pick = promotable(state)
    if pick is not None:
        cid, k = pick
        promoted = list(state.promoted)
        promoted[k] = promoted[k] | {cid}
        job = RungJob(
            0, top, 0, k + 1, (cid,), (dict(state.configs[cid]),), state.resources[k + 1], (state.resources[k],)
        )
        return job, dataclasses.replace(state, promoted=tuple(promoted), pending=state.pending + (job,))
    cid = len(state.configs)
    if state.max_configs is not None and cid >= state.max_configs:
        return None, state
    config = _new_config(state, cid)
    job = RungJob(0, top, 0, 0, (cid,), (dict(config),), state.resources[0], (0.0,))
    return job, dataclasses.replace(state, configs=state.configs + (config,), pending=state.pending + (job,))


def tell(state: AshaState, job: RungJob, loss) -> AshaState:
    """Record the loss of a pending ``job`` (a scalar or a 1-element array)."""
    if job not in state.pending:
        raise ValueError("tell() got a job that is not pending; tell each asked job exactly once")
    raw = np.asarray(loss, dtype=np.float64).reshape(-1)
    if raw.shape[0] != 1:
        raise ValueError(f"an ASHA job has one config: expected 1 loss, got {raw.shape[0]}")
    value = float(raw[0])
    clean = value if math.isfinite(value) else math.inf
    pending = list(state.pending)
    pending.remove(job)
    results = list(state.results)
    results[job.rung] = results[job.rung] + ((job.config_ids[0], clean),)
    obs = Observation(job.config_ids[0], 0, state.top_rung, job.rung, float(job.resource), value, False)
    return dataclasses.replace(state, pending=tuple(pending), results=tuple(results), history=state.history + (obs,))


def done(state: AshaState) -> bool:
    return (
        state.max_configs is not None
        and len(state.configs) >= state.max_configs
        and not state.pending
        and promotable(state) is None
    )


def history(state: AshaState) -> tuple[Observation, ...]:
    """The observations with ``promoted`` = whether the config was (later) promoted out of that rung."""
    return tuple(o._replace(promoted=o.config_id in state.promoted[o.rung]) for o in state.history)


def _spent(observations, continued: bool) -> float:
    spent, have = 0.0, {}
    for o in observations:
        spent += o.resource - (have.get(o.config_id, 0.0) if continued else 0.0)
        have[o.config_id] = o.resource
    return spent


def make_result(state: AshaState, seconds_by_job: dict, seconds: float, *, continued: bool) -> Result:
    obs = history(state)
    trials = trials_from_history(obs, state.configs, {})
    for row in trials.rows:  # ASHA trains one config per job: its job's time is its own
        row["seconds"] = row["rung_seconds"] = seconds_by_job.get((row["config_id"], row["rung"]), float("nan"))
    finite = [o for o in obs if math.isfinite(o.loss)]
    best = min(finite, key=lambda o: (o.loss, -o.resource, o.config_id)) if finite else None
    return Result(
        trials=trials,
        best_config=None if best is None else dict(state.configs[best.config_id]),
        best_loss=float("inf") if best is None else best.loss,
        best_config_id=None if best is None else best.config_id,
        best_resource=None if best is None else best.resource,
        resource_spent=_spent(obs, continued),
        seconds=seconds,
        extras={"scheduler": "asha"},
        state=state,
    )


def run_asha(
    space: Space,
    backend,
    *,
    max_resource,
    eta: int = 3,
    seed: int = 0,
    budget: float,
    workers: int = 2,
    min_resource=1,
    max_configs: int | None = None,
) -> Result:
    """Keep ``workers`` single-config jobs in flight (a thread pool; JAX / NumPy backends release
    the GIL) until the next job would overrun ``budget`` (or ASHA is done).

    A job costs ``resource - previous`` for a backend with ``continues = True``, else ``resource``;
    a job is started only if everything started so far plus it fits in ``budget``, so
    ``result.resource_spent <= budget``. With ``workers > 1`` the backend is called from several
    threads at once (never twice at once for the same config) and must allow that."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if not budget > 0 or not math.isfinite(budget):
        raise ValueError(f"budget must be a positive finite number, got {budget!r}")
    state = init(
        space, max_resource=max_resource, eta=eta, min_resource=min_resource, seed=seed, max_configs=max_configs
    )
    continued = bool(getattr(backend, "continues", False))
    release = getattr(backend, "release", None)
    seconds_by_job: dict = {}
    lock = threading.Lock()

    def train(job):
        t0 = time.perf_counter()
        losses = np.asarray(backend.train_rung(job), dtype=np.float64).reshape(-1)
        with lock:
            seconds_by_job[(job.config_ids[0], job.rung)] = time.perf_counter() - t0
        return losses

    start = time.perf_counter()
    committed, stopped = 0.0, False
    with ThreadPoolExecutor(max_workers=int(workers)) as pool:
        running: dict = {}
        while True:
            while not stopped and len(running) < workers:
                job, new_state = ask(state)
                if job is None:
                    break
                cost = job.added_resource if continued else float(job.resource)
                if committed + cost > budget * (1 + 1e-12):
                    stopped = True  # the state without this job: it was never started
                    break
                state, committed = new_state, committed + cost
                running[pool.submit(train, job)] = job
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: (running[f].rung, running[f].config_ids)):
                job = running.pop(fut)
                losses = fut.result()
                state = tell(state, job, losses)
                if release is not None and (job.rung == state.top_rung or not math.isfinite(losses[0])):
                    release(list(job.config_ids))  # a top-rung or diverged config is never continued
    if release is not None:
        release(list(range(len(state.configs))))
    return make_result(state, seconds_by_job, time.perf_counter() - start, continued=continued)
