"""Optuna's TPE + HyperbandPruner and its random sampler as hbjax strategies (see ``peers.py``)."""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

from ..results import Result
from ..space import IntUniform, LogUniform, Space, Uniform, python_scalar
from .base import BatchRunner, check_budget, check_eta, check_int, check_max_resource, check_seed, check_space
from .peer_common import PeerRunner, integer_resource, primitive, require


def optuna_distributions(space: Space) -> dict:
    """Optuna distributions of ``space``: Uniform -> float, LogUniform -> log float, IntUniform ->
    int, Choice / IntChoice -> categorical (of the values, or of their indices when a value is not
    a None / bool / int / float / str, which Optuna cannot store)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict = {}
    for name, dim in space.dims.items():
        if isinstance(dim, Uniform):
            out[name] = FloatDistribution(float(dim.low), float(dim.high))
        elif isinstance(dim, LogUniform):
            out[name] = FloatDistribution(float(dim.low), float(dim.high), log=True)
        elif isinstance(dim, IntUniform):
            out[name] = IntDistribution(int(dim.low), int(dim.high))
        else:
            values = [python_scalar(v) for v in dim.options]
            out[name] = CategoricalDistribution(values if primitive(values) else list(range(len(values))))
    return out


def _from_optuna(space: Space, params: dict) -> dict:
    config = {}
    for name, dim in space.dims.items():
        v = params[name]
        if isinstance(dim, (Uniform, LogUniform)):
            v = float(min(max(float(v), dim.low), dim.high))
        elif isinstance(dim, IntUniform):
            v = int(v)
        elif not primitive([python_scalar(o) for o in dim.options]):
            v = python_scalar(dim.options[int(v)])
        config[name] = v
    return config


@contextlib.contextmanager
def _quiet_optuna(optuna):
    """Optuna logs every finished trial at INFO; keep it to warnings during a run, then restore."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


@dataclass
class _Trial:
    trial: Any
    cid: int
    steps: list  # the resources it reports at (ascending; the last is R)
    s: int  # its bracket, numbered as hbjax's (s_max: most configs, lowest first rung)
    k: int = 0  # index of its next step
    previous: float = 0.0  # resource it has been trained to


class OptunaTPEHyperband:
    """Optuna's TPE sampler with its Hyperband pruner (min_resource 1, max_resource R, reduction
    factor eta), trials advanced ``batch_size`` at a time (see the module doc)."""

    name = "optuna-tpe-hb"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        batch_size: int = 8,
        n_startup_trials: int = 10,
    ):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.R = integer_resource(self.name, max_resource)
        self.eta = check_eta(eta)
        self.seed = check_seed(seed)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 0)
        self._optuna = require("optuna", self.name)

    def describe(self) -> str:
        return (
            f"Optuna {self._optuna.__version__} TPE + HyperbandPruner R={self.R} eta={self.eta} "
            f"batch={self.batch_size} seed={self.seed}"
        )

    def _study(self):
        optuna = self._optuna
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials)
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=self.R, reduction_factor=self.eta)
        study = optuna.create_study(
            direction="minimize", sampler=sampler, pruner=pruner, study_name=f"hbjax-{self.name}-seed{self.seed}"
        )
        return study, pruner

    def _bracketing(self, study, pruner):
        """-> (trial -> Optuna bracket b, number of brackets, whether the pruner told): the bracket
        from the pruner's private API; without it, b = 0 for every trial (it then reports at every
        rung resource, which the pruner handles correctly, at more cost on a retraining backend)."""
        levels = len(self._steps(0))
        try:
            if not pruner._pruners:
                pruner._try_initialization(study)
            n = int(pruner._n_brackets)
            get = pruner._get_bracket_id
        except Exception:  # noqa: BLE001 - another library's private API: fall back, correctly
            return (lambda trial: 0), levels, False

        def bracket_of(trial) -> int:
            return min(int(get(study, trial)), n - 1)

        return bracket_of, n, True

    def _steps(self, b: int) -> list[int]:
        steps, r = [], self.eta**b
        while r < self.R:
            steps.append(r)
            r *= self.eta
        return steps + [self.R]

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        optuna = self._optuna
        from optuna.trial import TrialState

        runner = PeerRunner(self.name, self.space, backend, budget=budget, callbacks=callbacks)
        counts = dict(complete=0, pruned=0, diverged=0, stopped_by_budget=0)
        with _quiet_optuna(optuna), warnings.catch_warnings():
            warnings.simplefilter("ignore", getattr(optuna.exceptions, "ExperimentalWarning", Warning))
            study, pruner = self._study()
            bracket_of, n_brackets, told = self._bracketing(study, pruner)
            dists = optuna_distributions(self.space)
            levels = self._steps(0)  # every bracket's rungs are among these
            batch = 0
            while True:
                trials, reserved, last = [], 0.0, False
                for _ in range(self.batch_size):
                    trial = study.ask(dists)
                    b = bracket_of(trial)
                    steps = self._steps(b)
                    if not runner.fits(reserved + steps[0]):  # its first rung no longer fits: the run ends
                        study.tell(trial, state=TrialState.FAIL)
                        last = True
                        break
                    reserved += steps[0]
                    cid = runner.add_config(_from_optuna(self.space, trial.params))
                    trials.append(_Trial(trial, cid, steps, s=max(0, n_brackets - 1 - b)))
                if trials:
                    self._advance(runner, study, trials, batch, levels, counts, TrialState)
                    batch += 1
                if last or not trials:
                    break
        return runner.result(batches=batch, trials_asked=len(study.trials), bracket_from_pruner=told, **counts)

    def _advance(self, runner: PeerRunner, study, trials: list, batch: int, levels: list, counts: dict, TrialState):
        alive = list(trials)
        while alive:
            r = min(t.steps[t.k] for t in alive)
            group = [t for t in alive if t.steps[t.k] == r]
            chosen, cost, stopped = [], 0.0, []
            for t in group:
                c = runner.cost(r, t.previous)
                if runner.fits(cost + c):
                    chosen.append(t)
                    cost += c
                else:
                    stopped.append(t)
            for t in stopped:  # its next rung does not fit in the budget
                study.tell(t.trial, state=TrialState.PRUNED if t.k > 0 else TrialState.FAIL)
                counts["stopped_by_budget"] += 1
                alive.remove(t)
            if not chosen:
                runner.release([t.cid for t in stopped])
                continue
            level = levels.index(r) if r in levels else 0
            job, losses, seconds = runner.train(
                [t.cid for t in chosen], r, [t.previous for t in chosen], iteration=batch, bracket=0, rung=level
            )
            finished = [t.cid for t in stopped]
            for j, (t, loss) in enumerate(zip(chosen, losses)):
                loss = float(loss)
                if not math.isfinite(loss):
                    study.tell(t.trial, state=TrialState.FAIL)
                    outcome = "diverged"
                else:
                    t.trial.report(loss, step=int(r))
                    if t.k == len(t.steps) - 1:
                        study.tell(t.trial, loss)
                        outcome = "complete"
                    elif t.trial.should_prune():
                        study.tell(t.trial, state=TrialState.PRUNED)
                        outcome = "pruned"
                    else:
                        outcome = "continued"
                runner.record(
                    job,
                    j,
                    loss=loss,
                    promoted=outcome == "continued",
                    seconds=seconds,
                    bracket=t.s,
                    rung=t.k,
                    optuna_trial=t.trial.number,
                    outcome=outcome,
                )
                if outcome == "continued":
                    t.previous, t.k = float(r), t.k + 1
                else:
                    counts[outcome] += 1
                    finished.append(t.cid)
                    alive.remove(t)
            runner.done(job, losses, seconds, release=finished)


class OptunaRandom:
    """Optuna's RandomSampler: ``batch_size`` trials per job, each trained once at ``max_resource``."""

    name = "optuna-random"

    def __init__(self, space: Space, *, max_resource, seed: int = 0, batch_size: int = 8):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.seed = check_seed(seed)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self._optuna = require("optuna", self.name)

    def describe(self) -> str:
        return (
            f"Optuna {self._optuna.__version__} random sampler R={self.max_resource:g} batch={self.batch_size} "
            f"seed={self.seed}"
        )

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        optuna = self._optuna
        from optuna.trial import TrialState

        runner = BatchRunner(
            self.name, self.space, backend, budget=budget, max_resource=self.max_resource, callbacks=callbacks
        )
        batch = 0
        with _quiet_optuna(optuna):
            study = optuna.create_study(
                direction="minimize",
                sampler=optuna.samplers.RandomSampler(seed=self.seed),
                study_name=f"hbjax-{self.name}-seed{self.seed}",
            )
            dists = optuna_distributions(self.space)
            while (k := min(self.batch_size, runner.affordable())) > 0:
                trials = [study.ask(dists) for _ in range(k)]
                configs = [_from_optuna(self.space, t.params) for t in trials]
                losses = runner.evaluate(configs, iteration=batch, columns=[{"optuna_trial": t.number} for t in trials])
                for t, loss in zip(trials, losses):
                    if math.isfinite(loss):
                        study.tell(t, float(loss))
                    else:
                        study.tell(t, state=TrialState.FAIL)
                batch += 1
        return runner.result(batches=batch)


# -- DEHB --------------------------------------------------------------------------------------------
