"""The driver: runs a scheduler against a backend and collects the results.

A backend is anything with ``train_rung(job) -> losses`` (one loss per config of the job, lower
is better). A backend that keeps trained state per config (the LSTM engine) sets
``continues = True`` and may offer ``release(config_ids)`` to drop the states of pruned configs.

A backend with ``train_wave(jobs) -> [losses per job]`` trains every ready rung of every bracket
at once (:mod:`hbjax.waves`): Hyperband then runs in waves by default (``waves=None``), with the
trials of the sequential run. ``waves=False`` runs brackets one after another.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from . import scheduler as sched
from . import waves as wave_sched
from .brackets import continued_budget, format_plan, hyperband_plan, validate_resource_and_eta
from .results import Result, trials_from_history
from .space import Space

__all__ = [
    "Backend",
    "Hyperband",
    "SuccessiveHalving",
    "prepare_backend",
    "run_job",
    "run_scheduler",
    "run_wave",
    "run_waves",
    "train_wave",
]


class Backend(Protocol):
    def train_rung(self, job: sched.RungJob) -> np.ndarray: ...


#: ``callback(job, losses, state, seconds)`` after every rung.
RungCallback = Callable[[sched.RungJob, np.ndarray, sched.SchedulerState, float], None]


def run_scheduler(
    state: sched.SchedulerState, backend: Backend, *, callbacks=(), propose=None, seconds_by_rung: dict | None = None
) -> Result:
    """Ask/train/tell until done. ``seconds_by_rung`` carries rung timings across a resume.
    A backend with ``prepare(space, config_epochs)`` learns the run's space and budget first (the
    LSTM engine fixes its programs from them)."""
    seconds_by_rung = dict(seconds_by_rung or {})
    prepare_backend(backend, state)
    start = time.perf_counter()
    while not sched.done(state):
        job, state = sched.ask(state, propose)
        state = run_job(state, job, backend, seconds_by_rung, callbacks)
    return make_result(
        state,
        seconds_by_rung,
        time.perf_counter() - start,
        continued=getattr(backend, "continues", False),
        cost=getattr(backend, "config_cost", None),
        columns=getattr(backend, "trial_columns", None),
    )


def prepare_backend(backend: Backend, state: sched.SchedulerState) -> None:
    """Tell a backend with ``prepare(space, config_epochs)`` the run's space and budget (the LSTM
    engine fixes its programs from them), the same way wherever a run or a part of it runs."""
    prepare = getattr(backend, "prepare", None)
    if prepare is not None:
        extra = {}
        if "first_rung_configs" in inspect.signature(prepare).parameters:  # how wide a rung can be
            extra["first_rung_configs"] = max(b.n for b in state.plan)
        prepare(state.space, continued_budget(state.plan) * state.iterations, **extra)


def run_job(
    state: sched.SchedulerState, job: sched.RungJob, backend: Backend, seconds_by_rung: dict, callbacks=()
) -> sched.SchedulerState:
    """Train one asked job, tell its losses, time it into ``seconds_by_rung``, let the backend drop
    the states of configs that were not promoted, then run the callbacks. -> the new state."""
    t0 = time.perf_counter()
    losses = np.asarray(backend.train_rung(job), dtype=np.float64).reshape(-1)
    seconds = time.perf_counter() - t0
    state = sched.tell(state, job, losses)
    seconds_by_rung[(job.iteration, job.bracket, job.rung)] = seconds
    release = getattr(backend, "release", None)
    if release is not None:
        kept = set(state.alive) if state.active is not None else set()
        release([cid for cid in job.config_ids if cid not in kept])
    for cb in callbacks:
        cb(job, losses, state, seconds)
    return state


def run_waves(
    state: wave_sched.WaveState, backend: Backend, *, callbacks=(), seconds_by_rung: dict | None = None
) -> Result:
    """Ask every ready job, train them as one wave, tell each its losses; until done. A backend
    with ``submit_wave(jobs) -> handles`` (one per job) and ``wait_wave(handles) -> (handle,
    losses)`` overlaps waves: each job is told as soon as it is done, and its bracket's next rung
    is submitted at once, behind the work still on the devices, so a short bracket never waits for
    a long one."""
    seconds_by_rung = dict(seconds_by_rung or {})
    prepare_backend(backend, state)
    state = wave_sched.reset_asked(state)  # a resumed run's jobs in flight when it died run again
    start = time.perf_counter()
    if hasattr(backend, "submit_wave") and hasattr(backend, "wait_wave"):
        in_flight: dict = {}  # handle -> its job
        last = start
        while not wave_sched.done(state):
            jobs, state = wave_sched.ask_ready(state)
            if jobs:
                in_flight.update(zip(backend.submit_wave(jobs), jobs))
            handle, losses = backend.wait_wave(list(in_flight))
            job = in_flight.pop(handle)
            now = time.perf_counter()  # the wall since the last job came in is this one's
            state = tell_wave(
                state, [job], _as_losses([losses], [job]), now - last, backend, seconds_by_rung, callbacks
            )
            last = now
    else:
        while not wave_sched.done(state):
            jobs, state = wave_sched.ask_ready(state)
            state = run_wave(state, jobs, backend, seconds_by_rung, callbacks)
    return make_result(
        state,
        seconds_by_rung,
        time.perf_counter() - start,
        continued=getattr(backend, "continues", False),
        cost=getattr(backend, "config_cost", None),
        columns=getattr(backend, "trial_columns", None),
    )


def _as_losses(out, jobs) -> list[np.ndarray]:
    out = list(out)
    if len(out) != len(jobs):
        raise ValueError(f"train_wave returned {len(out)} loss arrays for {len(jobs)} jobs")
    return [np.asarray(losses, dtype=np.float64).reshape(-1) for losses in out]


def train_wave(backend: Backend, jobs) -> list[np.ndarray]:
    """Each job's losses: from one ``backend.train_wave(jobs)`` where the backend has it, else
    rung after rung."""
    wave = getattr(backend, "train_wave", None)
    return _as_losses(wave(list(jobs)) if wave is not None else [backend.train_rung(job) for job in jobs], jobs)


def run_wave(
    state: wave_sched.WaveState, jobs, backend: Backend, seconds_by_rung: dict, callbacks=()
) -> wave_sched.WaveState:
    """Train one wave and tell it (``tell_wave``). -> the new state."""
    t0 = time.perf_counter()
    losses = train_wave(backend, jobs)
    return tell_wave(state, jobs, losses, time.perf_counter() - t0, backend, seconds_by_rung, callbacks)


def tell_wave(
    state: wave_sched.WaveState, jobs, losses, seconds: float, backend: Backend, seconds_by_rung: dict, callbacks=()
) -> wave_sched.WaveState:
    """Tell every job of a wave its losses, share the wave's ``seconds`` among its jobs (by the
    backend's ``config_cost`` of the epochs each adds, else by the epochs), release the states of
    configs no bracket continues, then run the callbacks once per job with the state after the
    whole wave (or once per wave, for a callback with ``wave_done(jobs, losses, state, seconds)``).
    -> the new state."""
    for job, loss in zip(jobs, losses):
        state = wave_sched.tell(state, job, loss)
    cost = getattr(backend, "config_cost", None)
    weights = [
        sum((job.resource - prev) * (cost(c) if cost else 1.0) for c, prev in zip(job.configs, job.previous_resource))
        for job in jobs
    ]
    total = sum(weights)
    shares = [seconds * (w / total if total > 0 else 1.0 / len(jobs)) for w in weights]
    for job, share in zip(jobs, shares):
        seconds_by_rung[(job.iteration, job.bracket, job.rung)] = share
    release = getattr(backend, "release", None)
    if release is not None:
        kept = {cid for run in state.runs for cid in run.alive}
        release([cid for job in jobs for cid in job.config_ids if cid not in kept])
    for cb in callbacks:  # a callback with ``wave_done`` hears of the wave once (checkpoints)
        if hasattr(cb, "wave_done"):
            cb.wave_done(jobs, losses, state, shares)
        else:
            for job, loss, share in zip(jobs, losses, shares):
                cb(job, loss, state, share)
    return state


def make_result(
    state: sched.SchedulerState, seconds_by_rung: dict, seconds: float, *, continued: bool, cost=None, columns=None
) -> Result:
    """``cost``: the backend's ``config_cost`` (estimated seconds per unit of resource), used to
    share each rung's wall time among its configs in the trials table; ``columns``: its
    ``trial_columns`` ((config id, resource) -> more columns)."""
    best = sched.best_observation(state)
    return Result(
        trials=trials_from_history(
            state.history, state.configs, seconds_by_rung, cost=cost, continued=continued, columns=columns
        ),
        best_config=None if best is None else dict(state.configs[best.config_id]),
        best_loss=float("inf") if best is None else best.loss,
        best_config_id=None if best is None else best.config_id,
        best_resource=None if best is None else best.resource,
        resource_spent=sched.total_resource(state, continued=continued),
        seconds=seconds,
        state=state,
    )


class Hyperband:
    """Hyperband (Li et al. 2018, Algorithm 1) over ``space``, with exact integer bracket maths.

    Args:
        space: the search space (``hb.Space``).
        max_resource: R, the most resource one config gets (epochs for the engine's models),
            a number >= 1.
        eta: the halving rate, an integer >= 2: each rung keeps the best 1/eta.
        seed: the seed of the configs drawn.
        hyperband_iterations: how many times every bracket runs (as keras-tuner does).
        integer_resource: round every rung's resource down to an integer.
        waves: train every ready rung of every bracket together (None: where the backend has
            ``train_wave``); the trials are the same either way.

    Raises:
        ValueError: R, eta or waves unusable, named in the message.
        TypeError: ``space`` is not an ``hb.Space``.

    ``run(backend)`` trains and returns a :class:`Result`.
    """

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        hyperband_iterations: int = 1,
        integer_resource: bool = False,
        waves: bool | None = None,
    ):
        if not isinstance(space, Space):
            raise TypeError(f"space must be an hbjax.Space, got {type(space).__name__}")
        validate_resource_and_eta(max_resource, eta)
        self.space = space
        self.max_resource = max_resource
        self.eta = eta
        self.seed = seed
        self.hyperband_iterations = hyperband_iterations
        self.integer_resource = integer_resource
        if waves not in (None, True, False):
            raise ValueError(f"waves must be True, False or None (by backend), got {waves!r}")
        self.waves = waves
        self.initial_state(waves=True)  # validates seed / iterations (and distinct brackets) now

    @property
    def plan(self):
        return hyperband_plan(self.max_resource, self.eta, integer_resource=self.integer_resource)

    def describe(self) -> str:
        return f"Hyperband R={self.max_resource:g} eta={self.eta} seed={self.seed}\n{format_plan(self.plan)}"

    def uses_waves(self, backend: Backend) -> bool:
        return self.waves if self.waves is not None else hasattr(backend, "train_wave")

    def initial_state(self, *, waves: bool = False):
        """The state a run starts from: sequential (:mod:`hbjax.scheduler`) or in waves
        (:mod:`hbjax.waves`)."""
        init = wave_sched.init if waves else sched.init
        return init(self.space, self.plan, eta=self.eta, seed=self.seed, iterations=self.hyperband_iterations)

    def run(self, backend: Backend, *, callbacks=(), state=None, seconds_by_rung: dict | None = None) -> Result:
        """Run every bracket to the end.

        Args:
            backend: what trains the configs (``hb.LSTMBackend``, ``hb.FlaxBackend``, a
                scikit-learn backend, or any object with ``train_rung``).
            callbacks: each called as ``callback(job, losses, state, seconds)`` after every rung.
            state: a resumed run's scheduler state (it runs the way it started); None: a new run.
            seconds_by_rung: a resumed run's rung timings, carried into the trials.

        Returns:
            The :class:`Result`: every trial, the best config and its loss.
        """
        state = state or self.initial_state(waves=self.uses_waves(backend))
        runner = run_waves if isinstance(state, wave_sched.WaveState) else run_scheduler
        return runner(state, backend, callbacks=callbacks, seconds_by_rung=seconds_by_rung)


class SuccessiveHalving(Hyperband):
    """One successive-halving bracket of ``n_configs`` (Jamieson & Talwalkar 2016)."""

    def __init__(
        self,
        space: Space,
        *,
        n_configs: int,
        max_resource,
        eta: int = 3,
        min_resource=None,
        seed: int = 0,
        integer_resource: bool = False,
        waves: bool | None = None,
    ):
        self.n_configs = n_configs
        self.min_resource = min_resource
        super().__init__(
            space, max_resource=max_resource, eta=eta, seed=seed, integer_resource=integer_resource, waves=waves
        )

    @property
    def plan(self):
        from .brackets import successive_halving_plan

        return (
            successive_halving_plan(
                self.n_configs,
                self.max_resource,
                self.eta,
                min_resource=self.min_resource,
                integer_resource=self.integer_resource,
            ),
        )
