"""Functional Hyperband scheduler: pure functions over an immutable state.

    state = init(space, plan, seed=0)
    while not done(state):
        job, state = ask(state)                   # RungJob: which configs, to what resource
        losses = backend.train_rung(job)          # any backend; the scheduler never trains
        state = tell(state, job, losses)          # records, picks the survivors

No training, no arrays of weights, no I/O here: a state is plain data (configs are dicts of
Python scalars), so it can be checkpointed as JSON and replayed exactly.

Rules:
* NaN / inf losses count as +inf: such a config never survives over a finite loss; a diverged
  config is never promoted at all (training it further would waste budget), so a rung whose
  configs all diverged ends its bracket early.
* Ties are broken by the lower config id (deterministic).
* New configs of bracket b in Hyperband iteration k are drawn from
  ``numpy.random.default_rng([seed, k, b])``, independent of everything else, so a run is
  reproducible from its seed and resumable from any rung.
* A finite space smaller than a bracket's n is sampled without replacement and the bracket is
  shrunk (every rung keeps >= 1 config) with a warning.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .brackets import Bracket, Rung, hyperband_plan, shrink_bracket, successive_halving_plan
from .space import Space

__all__ = [
    "Observation",
    "RungJob",
    "SchedulerState",
    "ask",
    "config_rng",
    "done",
    "hyperband",
    "init",
    "sanitize_losses",
    "successive_halving",
    "tell",
]

#: ``propose(rng, n, state) -> list[dict]``: where new configs come from (default: the space).
Proposer = Callable[[np.random.Generator, int, "SchedulerState"], list]


class RungJob(NamedTuple):
    """Train ``configs`` (ids ``config_ids``) until each has ``resource``.

    ``previous_resource[j]`` is what config j already has (0 for new configs), so a backend that
    keeps trained state continues from there instead of restarting."""

    iteration: int
    bracket: int  # s of the bracket
    bracket_index: int  # position in the plan
    rung: int
    config_ids: tuple[int, ...]
    configs: tuple[dict, ...]
    resource: float
    previous_resource: tuple[float, ...]

    @property
    def is_last_rung(self) -> bool:
        return self.rung == self.bracket

    @property
    def added_resource(self) -> float:
        """Resource this job adds when the backend continues survivors (config-epochs)."""
        return float(sum(self.resource - p for p in self.previous_resource))


class Observation(NamedTuple):
    config_id: int
    iteration: int
    bracket: int
    rung: int
    resource: float
    loss: float  # as reported (NaN kept, so the table shows divergence)
    promoted: bool


@dataclass(frozen=True)
class SchedulerState:
    space: Space
    plan: tuple[Bracket, ...]
    eta: int
    seed: int
    iterations: int
    iteration: int = 0
    bracket_index: int = 0
    rung: int = 0
    active: Bracket | None = None  # the bracket in progress (possibly shrunk)
    alive: tuple[int, ...] = ()  # ids entering the current rung
    configs: tuple[dict, ...] = ()  # every config sampled so far; id = position
    resources: tuple[float, ...] = ()  # resource each config has been trained to
    history: tuple[Observation, ...] = ()
    pending: RungJob | None = None
    finished: bool = False


def init(space: Space, plan: Sequence[Bracket], *, eta: int = 3, seed: int = 0, iterations: int = 1) -> SchedulerState:
    if not isinstance(space, Space):
        raise TypeError(f"space must be an hbjax.Space, got {type(space).__name__}")
    plan = tuple(plan)
    if not plan:
        raise ValueError("the plan has no brackets")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"hyperband_iterations must be a positive integer, got {iterations!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return SchedulerState(space=space, plan=plan, eta=int(eta), seed=int(seed), iterations=int(iterations))


def hyperband(
    space: Space, max_resource, eta: int = 3, *, seed: int = 0, iterations: int = 1, integer_resource: bool = False
) -> SchedulerState:
    """Scheduler state for Hyperband (all brackets s_max..0, repeated ``iterations`` times)."""
    plan = hyperband_plan(max_resource, eta, integer_resource=integer_resource)
    return init(space, plan, eta=eta, seed=seed, iterations=iterations)


def successive_halving(
    space: Space,
    n_configs: int,
    max_resource,
    eta: int = 3,
    *,
    min_resource=None,
    seed: int = 0,
    integer_resource: bool = False,
) -> SchedulerState:
    plan = (
        successive_halving_plan(
            n_configs, max_resource, eta, min_resource=min_resource, integer_resource=integer_resource
        ),
    )
    return init(space, plan, eta=eta, seed=seed)


def done(state: SchedulerState) -> bool:
    return state.finished


def config_rng(seed: int, iteration: int, bracket_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, iteration, bracket_index])


def _default_propose(rng, n, state):
    return state.space.sample_configs(rng, n)


def ask(state: SchedulerState, propose: Proposer | None = None) -> tuple[RungJob, SchedulerState]:
    """The next rung's job. Asking again before ``tell`` returns the same job."""
    if state.finished:
        raise RuntimeError("the scheduler is done: every bracket has been run")
    if state.pending is not None:
        return state.pending, state
    if state.active is None:
        state = _start_bracket(state, propose or _default_propose)
    assert state.active is not None  # _start_bracket sets it
    rung = state.active.rungs[state.rung]
    ids = state.alive
    job = RungJob(
        iteration=state.iteration,
        bracket=state.active.s,
        bracket_index=state.bracket_index,
        rung=rung.index,
        config_ids=ids,
        configs=tuple(dict(state.configs[i]) for i in ids),
        resource=rung.resource,
        previous_resource=tuple(state.resources[i] for i in ids),
    )
    return job, dataclasses.replace(state, pending=job)


def _start_bracket(state: SchedulerState, propose: Proposer) -> SchedulerState:
    bracket = state.plan[state.bracket_index]
    rng = config_rng(state.seed, state.iteration, state.bracket_index)
    new = list(propose(rng, bracket.n, state))
    if not new:
        raise ValueError("the search space produced no configurations")
    if len(new) > bracket.n:
        raise ValueError(f"proposer returned {len(new)} configs for a bracket of {bracket.n}")
    if len(new) < bracket.n:
        warnings.warn(
            f"bracket s={bracket.s} wants {bracket.n} configs but the space has only {len(new)}: "
            f"sampling all of them without replacement and shrinking the bracket",
            stacklevel=3,
        )
        bracket = shrink_bracket(bracket, len(new), state.eta)
    first = len(state.configs)
    ids = tuple(range(first, first + len(new)))
    return dataclasses.replace(
        state,
        active=bracket,
        rung=0,
        alive=ids,
        configs=state.configs + tuple(dict(c) for c in new),
        resources=state.resources + (0.0,) * len(new),
    )


def sanitize_losses(losses, n: int) -> np.ndarray:
    """Losses as float64 with NaN/inf mapped to +inf; shape checked."""
    arr = np.asarray(losses, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"expected {n} losses for this rung, got {arr.shape[0]}")
    return np.where(np.isfinite(arr), arr, np.inf)


def survivors_of(ids: Sequence[int], losses: np.ndarray, k: int) -> tuple[int, ...]:
    order = sorted((loss, cid) for cid, loss in zip(ids, losses) if np.isfinite(loss))
    return tuple(sorted(cid for _, cid in order[:k]))


def tell(state: SchedulerState, job: RungJob, losses) -> SchedulerState:
    """Record the losses of ``job`` and move on (promote survivors, or start the next bracket)."""
    if state.pending is None or job != state.pending:
        raise ValueError("tell() got a job that is not the one pending; call ask() first and tell its job")
    raw = np.asarray(losses, dtype=np.float64).reshape(-1)
    clean = sanitize_losses(raw, len(job.config_ids))
    assert state.active is not None  # a pending job belongs to the active bracket
    rung: Rung = state.active.rungs[job.rung]
    last = job.rung == state.active.s
    survivors = () if last else survivors_of(job.config_ids, clean, rung.n_promote)
    promoted = set(survivors)
    history = state.history + tuple(
        Observation(cid, job.iteration, job.bracket, job.rung, float(job.resource), float(loss), cid in promoted)
        for cid, loss in zip(job.config_ids, raw)
    )
    resources = list(state.resources)
    for cid in job.config_ids:
        resources[cid] = float(job.resource)
    state = dataclasses.replace(state, history=history, resources=tuple(resources), pending=None)
    if survivors:
        return dataclasses.replace(state, rung=job.rung + 1, alive=survivors)
    return _next_bracket(state)


def _next_bracket(state: SchedulerState) -> SchedulerState:
    b, it = state.bracket_index + 1, state.iteration
    if b == len(state.plan):
        b, it = 0, it + 1
    return dataclasses.replace(
        state, bracket_index=b, iteration=it, rung=0, active=None, alive=(), finished=it >= state.iterations
    )


def best_observation(state: SchedulerState) -> Observation | None:
    """The smallest finite loss seen (Algorithm 1 returns the best intermediate loss); ties -> the
    larger resource, then the lower id."""
    finite = [o for o in state.history if math.isfinite(o.loss)]
    if not finite:
        return None
    return min(finite, key=lambda o: (o.loss, -o.resource, o.config_id))


def total_resource(state: SchedulerState, *, continued: bool = True) -> float:
    """Resource spent so far: config-epochs if the backend continues survivors, else the sum of
    every rung's resource (a backend that retrains from scratch)."""
    spent = 0.0
    have: dict[int, float] = {}
    for o in state.history:
        spent += o.resource - (have.get(o.config_id, 0.0) if continued else 0.0)
        have[o.config_id] = o.resource
    return spent
