"""Waves: every ready rung of every Hyperband bracket at once, as pure functions over a state.

    state = waves.init(space, plan, eta=3, seed=0)
    while not waves.done(state):
        jobs, state = waves.ask_ready(state)          # every job whose inputs are known
        losses = backend.train_wave(jobs)             # one plan for all of them
        for job, loss in zip(jobs, losses):
            state = waves.tell(state, job, loss)

Hyperband's brackets are independent: bracket b of iteration k draws its configs from
``config_rng(seed, k, b)`` and promotes by its own losses only. So every bracket of every
iteration starts in the first wave (its configs drawn, ids given in (iteration, bracket) order,
as the sequential scheduler gives them), and a bracket's next rung is ready as soon as its
previous rung is told. Wave w holds rung w of every bracket that still runs. With a backend whose
losses do not depend on what trains beside a config (the LSTM engine on CPU under ``auto``), the
trials are those of sequential :func:`hbjax.scheduler.ask`/``tell`` bit for bit; the history is
kept in the sequential order (iteration, bracket, rung), whatever order jobs are told in.

Only the space's own sampling proposes configs here: a proposer that learns from earlier brackets'
results (BOHB) needs them run in order, through :mod:`hbjax.scheduler`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .brackets import Bracket, shrink_bracket
from .scheduler import Observation, RungJob, config_rng, sanitize_losses, survivors_of
from .space import Space

__all__ = ["BracketRun", "WaveState", "ask_ready", "done", "init", "live_config_ids", "reset_asked", "tell", "walk"]


class BracketRun(NamedTuple):
    """One bracket of one iteration in progress."""

    iteration: int
    bracket_index: int
    bracket: Bracket  # as planned, or shrunk for a small finite space
    rung: int  # the rung it runs next (or runs now, when ``asked``)
    alive: tuple[int, ...]  # ids entering that rung
    asked: bool = False  # its job is out and not told yet


@dataclass(frozen=True)
class WaveState:
    space: Space
    plan: tuple[Bracket, ...]
    eta: int
    seed: int
    iterations: int
    configs: tuple[dict, ...] = ()  # every config sampled so far; id = position
    resources: tuple[float, ...] = ()  # resource each config has been trained to
    history: tuple[Observation, ...] = ()  # in sequential order: (iteration, bracket, rung)
    runs: tuple[BracketRun, ...] = ()  # brackets in progress, in (iteration, bracket) order
    started: bool = False  # every bracket of every iteration has drawn its configs
    waves: int = 0  # waves asked so far
    finished: bool = False


def init(space: Space, plan: Sequence[Bracket], *, eta: int = 3, seed: int = 0, iterations: int = 1) -> WaveState:
    from .scheduler import init as sequential_init

    base = sequential_init(space, plan, eta=eta, seed=seed, iterations=iterations)  # the same validation
    if len({b.s for b in base.plan}) != len(base.plan):
        raise ValueError("waves need brackets of distinct s (a Hyperband or successive-halving plan)")
    return WaveState(space=base.space, plan=base.plan, eta=base.eta, seed=base.seed, iterations=base.iterations)


def done(state: WaveState) -> bool:
    return state.finished


def _start_all(state: WaveState) -> WaveState:
    """Draw every bracket's configs, in (iteration, bracket) order: the ids sequential Hyperband gives."""
    configs, resources, runs = list(state.configs), list(state.resources), []
    for iteration in range(state.iterations):
        for index, bracket in enumerate(state.plan):
            new = list(state.space.sample_configs(config_rng(state.seed, iteration, index), bracket.n))
            if not new:
                raise ValueError("the search space produced no configurations")
            if len(new) < bracket.n:
                warnings.warn(
                    f"bracket s={bracket.s} wants {bracket.n} configs but the space has only {len(new)}: "
                    f"sampling all of them without replacement and shrinking the bracket",
                    stacklevel=4,
                )
                bracket = shrink_bracket(bracket, len(new), state.eta)
            ids = tuple(range(len(configs), len(configs) + len(new)))
            configs += [dict(c) for c in new]
            resources += [0.0] * len(new)
            runs.append(BracketRun(iteration, index, bracket, 0, ids))
    return dataclasses.replace(
        state, configs=tuple(configs), resources=tuple(resources), runs=tuple(runs), started=True
    )


def _job(state: WaveState, run: BracketRun) -> RungJob:
    rung = run.bracket.rungs[run.rung]
    return RungJob(
        iteration=run.iteration,
        bracket=run.bracket.s,
        bracket_index=run.bracket_index,
        rung=rung.index,
        config_ids=run.alive,
        configs=tuple(dict(state.configs[i]) for i in run.alive),
        resource=rung.resource,
        previous_resource=tuple(state.resources[i] for i in run.alive),
    )


def ask_ready(state: WaveState) -> tuple[tuple[RungJob, ...], WaveState]:
    """Every job that can run now (none while all running brackets wait to be told), in
    (iteration, bracket) order, and the state with them marked as asked."""
    if state.finished:
        raise RuntimeError("the scheduler is done: every bracket has been run")
    if not state.started:
        state = _start_all(state)
    ready = [run for run in state.runs if not run.asked]
    jobs = tuple(_job(state, run) for run in ready)
    runs = tuple(run._replace(asked=True) for run in state.runs)
    return jobs, dataclasses.replace(state, runs=runs, waves=state.waves + bool(jobs))


def tell(state: WaveState, job: RungJob, losses) -> WaveState:
    """Record the losses of an asked ``job``: promote its bracket's survivors, or end the bracket."""
    where = [
        i
        for i, run in enumerate(state.runs)
        if run.asked and (run.iteration, run.bracket_index, run.rung) == (job.iteration, job.bracket_index, job.rung)
    ]
    if not where or _job(state, state.runs[where[0]]) != job:
        raise ValueError("tell() got a job that is not pending; ask_ready() first and tell each of its jobs once")
    i = where[0]
    run = state.runs[i]
    raw = np.asarray(losses, dtype=np.float64).reshape(-1)
    clean = sanitize_losses(raw, len(job.config_ids))
    last = run.rung == run.bracket.s
    survivors = () if last else survivors_of(job.config_ids, clean, run.bracket.rungs[run.rung].n_promote)
    promoted = set(survivors)
    new = tuple(
        Observation(cid, job.iteration, job.bracket, job.rung, float(job.resource), float(loss), cid in promoted)
        for cid, loss in zip(job.config_ids, raw)
    )
    order = {b.s: k for k, b in enumerate(state.plan)}
    history = tuple(sorted(state.history + new, key=lambda o: (o.iteration, order[o.bracket], o.rung)))  # stable
    resources = list(state.resources)
    for cid in job.config_ids:
        resources[cid] = float(job.resource)
    runs = list(state.runs)
    if survivors:
        runs[i] = run._replace(rung=run.rung + 1, alive=survivors, asked=False)
    else:
        del runs[i]
    return dataclasses.replace(state, history=history, resources=tuple(resources), runs=tuple(runs), finished=not runs)


def reset_asked(state: WaveState) -> WaveState:
    """Every running bracket's job marked as not asked: a run resumed from a checkpoint taken
    while other jobs were in flight trains those jobs again (their configs' states in the
    checkpoint are those before them)."""
    return dataclasses.replace(state, runs=tuple(run._replace(asked=False) for run in state.runs))


def walk(state, losses_of):
    """Every rung of a sequential state (``hbjax.scheduler``), or every wave of a ``WaveState``,
    in order: yields ``(jobs, state)`` after asking them, then tells each job ``losses_of(job)``
    (stand-in losses: a plan preview, a planner benchmark)."""
    from . import scheduler as sched

    while not state.finished:
        if isinstance(state, WaveState):
            jobs, state = ask_ready(state)
        else:
            job, state = sched.ask(state)
            jobs = (job,)
        yield jobs, state
        for job in jobs:
            losses = losses_of(job)
            state = tell(state, job, losses) if isinstance(state, WaveState) else sched.tell(state, job, losses)


def live_config_ids(state: WaveState) -> list[int]:
    """Configs whose trained state a checkpoint must keep: those entering a running bracket's
    next rung that have trained already."""
    return sorted(i for run in state.runs for i in run.alive if state.resources[i] > 0)
