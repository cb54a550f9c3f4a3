"""Other libraries' multi-fidelity optimisers, run through hbjax's backends and budget accounting.

=============== ===========================================================================
name            strategy
=============== ===========================================================================
optuna-tpe-hb   :class:`OptunaTPEHyperband`: Optuna ``TPESampler`` + ``HyperbandPruner``
optuna-random   :class:`OptunaRandom`: Optuna ``RandomSampler``, every trial at ``max_resource``
dehb            :class:`DEHBStrategy`: DEHB (Awad, Mallik & Hutter 2021), ask/tell
=============== ===========================================================================

They are driven by their own ask/tell interfaces, but every evaluation is a
:class:`~hbjax.scheduler.RungJob` sent to ``backend.train_rung`` and charged
:func:`~hbjax.strategies.base.budget_of` (continued config-epochs when ``backend.continues``,
else the full resource of every config), exactly as hbjax's own strategies: no job is started
that would take the run over its budget, so ``resource_spent <= budget``, and a run ends with
less than one ``max_resource`` evaluation's worth left. The trials table has one row per config
per job, ``result.best_*`` is the smallest finite loss of any row (as for Hyperband).

Optuna and DEHB are imported when a strategy is constructed (not by ``import hbjax``); without
them the constructor raises an ``ImportError`` that says what to install::

    pip install 'hbjax[peers]'          # optuna>=3.5 and dehb==0.1.1

(DEHB 0.1.2 declares ``numpy<2``, which no jax that hbjax can use accepts; 0.1.1 has the same
ask/tell interface without the pin. 0.1.2 also works here if it is installed anyway, e.g.
``pip install --no-deps dehb==0.1.2``.)

**optuna-tpe-hb.** Trials are asked ``batch_size`` at a time and advanced together, resource
level by resource level: every trial reports (``trial.report``) only at the rung resources of
the Hyperband bracket the pruner gives it (bracket b of Optuna's ``HyperbandPruner``: steps
``eta^b, eta^(b+1), ...`` up to R, then R), so that a backend that retrains from scratch pays
only for the evaluations the pruner looks at. All trials of the batch due at the same resource
train as one job (survivors continue from their state when the backend continues). After each
report ``trial.should_prune()`` decides; a trial that reaches R is told COMPLETE with its value
at R, a pruned one PRUNED, a diverged one (NaN/inf loss) FAIL. A trial whose next rung no longer
fits in the budget stops there (PRUNED, or FAIL if it never trained). The bracket is read from
the pruner (``HyperbandPruner._get_bracket_id``, private API; if it is missing, every trial
reports at every ``eta^k``, which is correct but costlier on a retraining backend). ``max_resource``
must be an integer (Optuna's steps are). The study is named after the seed, so the pruner's
bracket assignment (a hash of study name and trial number) is reproducible too.

**optuna-random.** ``batch_size`` trials per job, each trained once at R, told COMPLETE (FAIL
when diverged); the last batch shrinks to fit the budget, as :class:`RandomSearch`.

**dehb.** DEHB's own successive-halving brackets (min fidelity ``min_resource``, max fidelity
R, ``eta``): jobs are asked while they come from the same bracket rung (DEHB's next job would
otherwise have to wait for results and start a new bracket instead: ``DEHB._get_next_bracket``,
private API, else one job at a time), up to ``batch_size``, trained as one job, and told with
``fitness`` = the loss (``inf`` when diverged, DEHB's value for "no fitness") and ``cost`` = the
resource charged. Every DEHB job is trained from scratch under a fresh config id, including a
config DEHB promotes to a higher fidelity in its first brackets (the ``dehb_config_id`` column
links them): DEHB's own cost model, and a fair one on a retraining backend; on a continuing
backend this charges the promoted config its whole fidelity again, which hbjax's Hyperband would
not. DEHB's log output (loguru) is muted, and its files go to a temporary folder that is removed.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..results import Result, Trials
from ..scheduler import RungJob
from ..space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform
from .base import (BatchRunner, SearchState, budget_of, check_backend, check_budget, check_callbacks, check_eta,
                   check_int, check_max_resource, check_real, check_seed, check_space, fits, param_column)

__all__ = ["OptunaTPEHyperband", "OptunaRandom", "DEHBStrategy", "PEERS", "optuna_distributions",
           "to_configspace", "from_configspace", "config_from_configspace", "PEERS_INSTALL"]

#: the install line the ImportErrors give
PEERS_INSTALL = "pip install 'hbjax[peers]'"
_PIP = {"optuna": "pip install 'optuna>=3.5'", "dehb": "pip install 'dehb==0.1.1'"}


def _require(module: str, strategy: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        raise ImportError(
            f"strategy {strategy!r} needs {top}, which is not installed: {PEERS_INSTALL} "
            f"(or {_PIP.get(top, 'pip install ' + top)})"
        ) from err


# -- spaces ----------------------------------------------------------------------------------------
def _primitive(values: Sequence) -> bool:
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in values)


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def optuna_distributions(space: Space) -> dict:
    """Optuna distributions of ``space``: Uniform -> float, LogUniform -> log float, IntUniform ->
    int, Choice / IntChoice -> categorical (of the values, or of their indices when a value is not
    a None / bool / int / float / str, which Optuna cannot store)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, dim in space.dims.items():
        if isinstance(dim, Uniform):
            out[name] = FloatDistribution(float(dim.low), float(dim.high))
        elif isinstance(dim, LogUniform):
            out[name] = FloatDistribution(float(dim.low), float(dim.high), log=True)
        elif isinstance(dim, IntUniform):
            out[name] = IntDistribution(int(dim.low), int(dim.high))
        else:
            values = [_scalar(v) for v in dim.options]
            out[name] = CategoricalDistribution(values if _primitive(values) else list(range(len(values))))
    return out


def _from_optuna(space: Space, params: dict) -> dict:
    config = {}
    for name, dim in space.dims.items():
        v = params[name]
        if isinstance(dim, (Uniform, LogUniform)):
            v = float(min(max(float(v), dim.low), dim.high))
        elif isinstance(dim, IntUniform):
            v = int(v)
        elif not _primitive([_scalar(o) for o in dim.options]):
            v = _scalar(dim.options[int(v)])
        config[name] = v
    return config


def to_configspace(space: Space, *, seed: int | None = None):
    """A ``ConfigSpace.ConfigurationSpace`` of ``space``: Uniform -> float, LogUniform -> log float,
    IntUniform -> integer, Choice -> categorical, IntChoice -> ordinal (in the given order)."""
    CS = _require("ConfigSpace", "dehb")
    cs = CS.ConfigurationSpace(seed=seed)
    hps = []
    for name, dim in space.dims.items():
        if isinstance(dim, (Uniform, LogUniform)):
            hps.append(CS.UniformFloatHyperparameter(name, float(dim.low), float(dim.high),
                                                     log=isinstance(dim, LogUniform)))
        elif isinstance(dim, IntUniform):
            hps.append(CS.UniformIntegerHyperparameter(name, int(dim.low), int(dim.high)))
        elif isinstance(dim, IntChoice):
            hps.append(CS.OrdinalHyperparameter(name, [int(v) for v in dim.options]))
        else:
            hps.append(CS.CategoricalHyperparameter(name, [_scalar(v) for v in dim.options]))
    add = getattr(cs, "add", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        add(hps) if add is not None else cs.add_hyperparameters(hps)
    return cs


def from_configspace(cs) -> Space:
    """The hbjax :class:`~hbjax.space.Space` of a ConfigurationSpace without conditions or
    forbidden clauses: float -> Uniform / LogUniform, integer (not log) -> IntUniform, categorical ->
    Choice, ordinal of integers -> IntChoice (other ordinals -> Choice), constant -> a one-value
    Choice. Anything else raises ValueError."""
    CS = _require("ConfigSpace", "dehb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        hps = list(cs.values()) if hasattr(cs, "values") else cs.get_hyperparameters()
        if list(cs.get_conditions()) or list(cs.get_forbiddens()):
            raise ValueError("conditional spaces and forbidden clauses have no hbjax Space equivalent")
    dims = {}
    for hp in hps:
        if isinstance(hp, CS.UniformFloatHyperparameter):
            dims[hp.name] = (LogUniform if hp.log else Uniform)(float(hp.lower), float(hp.upper))
        elif isinstance(hp, CS.UniformIntegerHyperparameter) and not hp.log:
            dims[hp.name] = IntUniform(int(hp.lower), int(hp.upper))
        elif isinstance(hp, CS.CategoricalHyperparameter):
            dims[hp.name] = Choice([_scalar(v) for v in hp.choices])
        elif isinstance(hp, CS.OrdinalHyperparameter):
            seq = [_scalar(v) for v in hp.sequence]
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in seq)
            dims[hp.name] = IntChoice(seq) if ints else Choice(seq)
        elif isinstance(hp, CS.Constant):
            dims[hp.name] = Choice([_scalar(hp.value)])
        else:
            raise ValueError(f"hyperparameter {hp.name!r} ({type(hp).__name__}) has no hbjax equivalent")
    return Space(dims)


def config_from_configspace(space: Space, configuration) -> dict:
    """A ConfigSpace ``Configuration`` (or dict) as an hbjax config of ``space``: Python scalars,
    in the space's order, numbers clipped to their bounds (ConfigSpace rounds floats)."""
    values = dict(configuration)
    config = {}
    for name, dim in space.dims.items():
        v = _scalar(values[name])
        if isinstance(dim, (Uniform, LogUniform)):
            v = float(min(max(float(v), dim.low), dim.high))
        elif isinstance(dim, (IntUniform, IntChoice)):
            v = int(v)
        else:
            v = next((_scalar(o) for o in dim.options if type(_scalar(o)) is type(v) and _scalar(o) == v), v)
        config[name] = v
    return config


# -- a multi-fidelity runner: jobs, budget, rows ------------------------------------------------------
class _Runner:
    """Sends jobs of configs (new or continued) to a backend, charges :func:`budget_of`, keeps the
    trials table; ``state`` (a :class:`SearchState`: ``losses[cid]`` = the config's best finite loss
    so far) is what callbacks get."""

    def __init__(self, name: str, space: Space, backend, *, budget: float, callbacks=()):
        check_backend(backend)
        self.space, self.backend, self.budget = space, backend, float(budget)
        self.callbacks = check_callbacks(callbacks)
        self.continues = bool(getattr(backend, "continues", False))
        self.state = SearchState(strategy=name, budget=self.budget)
        self.rows: list[dict] = []
        self._start = time.perf_counter()

    def fits(self, cost: float) -> bool:
        return fits(cost, self.budget - self.state.spent, self.budget)

    def cost(self, resource: float, previous: float) -> float:
        return float(resource - previous) if self.continues else float(resource)

    def add_config(self, config: dict) -> int:
        self.state.configs.append(dict(config))
        self.state.losses.append(math.nan)
        return len(self.state.configs) - 1

    def train(self, cids: Sequence[int], resource: float, previous: Sequence[float], *, iteration: int,
              bracket: int = 0, rung: int = 0):
        """One job -> (job, losses, seconds)."""
        job = RungJob(iteration=int(iteration), bracket=int(bracket), bracket_index=0, rung=int(rung),
                      config_ids=tuple(int(c) for c in cids), configs=tuple(self.state.configs[c] for c in cids),
                      resource=float(resource), previous_resource=tuple(float(p) for p in previous))
        cost = budget_of(job, self.continues)
        if not self.fits(cost):  # a strategy bug, never the user's
            raise RuntimeError(f"job of {len(cids)} configs ({cost:g} units) would exceed the budget")
        t0 = time.perf_counter()
        losses = np.asarray(self.backend.train_rung(job), dtype=np.float64).reshape(-1)
        seconds = time.perf_counter() - t0
        if losses.shape[0] != len(cids):
            raise ValueError(f"the backend returned {losses.shape[0]} losses for a job of {len(cids)} configs")
        self.state.spent += cost
        self.state.batches += 1
        for cid, loss in zip(job.config_ids, losses):
            old = self.state.losses[cid]
            if math.isfinite(loss) and not (math.isfinite(old) and old <= loss):
                self.state.losses[cid] = float(loss)
        return job, losses, seconds

    def record(self, job: RungJob, j: int, *, loss: float, promoted: bool, seconds: float, bracket: int | None = None,
               rung: int | None = None, **columns) -> None:
        """The trials-table row of config ``j`` of ``job`` (``bracket`` / ``rung``: the config's own,
        when they differ from the job's)."""
        loss = float(loss)
        self.rows.append({
            "config_id": job.config_ids[j], "iteration": job.iteration,
            "bracket": job.bracket if bracket is None else int(bracket),
            "rung": job.rung if rung is None else int(rung),
            "resource": job.resource, "loss": loss, "promoted": bool(promoted), "diverged": not math.isfinite(loss),
            "seconds": self._share(job, j, seconds), "rung_seconds": seconds,
            **{param_column(k): v for k, v in job.configs[j].items()}, **columns,
        })

    def _share(self, job: RungJob, j: int, seconds: float) -> float:
        """Config ``j``'s part of its job's time: by the backend's cost estimate times the
        resource it trained in the job (as in hbjax's own trials tables)."""
        cost_of = getattr(self.backend, "config_cost", None)
        weights = [(1.0 if cost_of is None else float(cost_of(c))) * max(job.resource - p, 0.0)
                   for c, p in zip(job.configs, job.previous_resource)]
        return seconds * weights[j] / sum(weights) if sum(weights) > 0 else seconds

    def release(self, cids) -> None:
        release = getattr(self.backend, "release", None)
        if release is not None and cids:
            release(list(cids))

    def done(self, job: RungJob, losses: np.ndarray, seconds: float, release=()) -> None:
        self.release(release)
        for cb in self.callbacks:
            cb(job, losses, self.state, seconds)

    def result(self, **extras) -> Result:
        trials = Trials(param_names=tuple(param_column(k) for k in self.space.names))
        best = None
        for row in self.rows:
            trials.add(row)
            if math.isfinite(row["loss"]) and (best is None or row["loss"] < best["loss"]):
                best = row
        cid = None if best is None else best["config_id"]
        return Result(
            trials=trials,
            best_config=None if best is None else dict(self.state.configs[cid]),
            best_loss=math.inf if best is None else float(best["loss"]),
            best_config_id=cid,
            best_resource=None if best is None else float(best["resource"]),
            resource_spent=self.state.spent,
            seconds=time.perf_counter() - self._start,
            extras={"strategy": self.state.strategy, "budget": self.budget, "continues": self.continues, **extras},
            state=self.state,
        )


# -- Optuna ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_optuna(optuna):
    """Optuna logs every finished trial at INFO; keep it to warnings during a run, then restore."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _integer_resource(strategy: str, max_resource) -> int:
    if not float(max_resource).is_integer():
        raise ValueError(f"{strategy} needs an integer max_resource (Optuna's steps are integers), got {max_resource}")
    return int(max_resource)


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

    def __init__(self, space: Space, *, max_resource, eta: int = 3, seed: int = 0, batch_size: int = 8,
                 n_startup_trials: int = 10):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.R = _integer_resource(self.name, max_resource)
        self.eta = check_eta(eta)
        self.seed = check_seed(seed)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 0)
        self._optuna = _require("optuna", self.name)

    def describe(self) -> str:
        return (f"Optuna {self._optuna.__version__} TPE + HyperbandPruner R={self.R} eta={self.eta} "
                f"batch={self.batch_size} seed={self.seed}")

    def _study(self):
        optuna = self._optuna
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials)
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=self.R, reduction_factor=self.eta)
        study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner,
                                    study_name=f"hbjax-{self.name}-seed{self.seed}")
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
        steps, r = [], self.eta ** b
        while r < self.R:
            steps.append(r)
            r *= self.eta
        return steps + [self.R]

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        optuna = self._optuna
        from optuna.trial import TrialState

        runner = _Runner(self.name, self.space, backend, budget=budget, callbacks=callbacks)
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

    def _advance(self, runner: _Runner, study, trials: list, batch: int, levels: list, counts: dict, TrialState):
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
            job, losses, seconds = runner.train([t.cid for t in chosen], r, [t.previous for t in chosen],
                                                iteration=batch, bracket=0, rung=level)
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
                runner.record(job, j, loss=loss, promoted=outcome == "continued", seconds=seconds, bracket=t.s,
                              rung=t.k, optuna_trial=t.trial.number, outcome=outcome)
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
        self._optuna = _require("optuna", self.name)

    def describe(self) -> str:
        return (f"Optuna {self._optuna.__version__} random sampler R={self.max_resource:g} batch={self.batch_size} "
                f"seed={self.seed}")

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        optuna = self._optuna
        from optuna.trial import TrialState

        runner = BatchRunner(self.name, self.space, backend, budget=budget, max_resource=self.max_resource,
                             callbacks=callbacks)
        batch = 0
        with _quiet_optuna(optuna):
            study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=self.seed),
                                        study_name=f"hbjax-{self.name}-seed{self.seed}")
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
class _Mute:
    """Stands in for DEHB's loguru logger while DEHB is built: no handlers replaced, no log file."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextlib.contextmanager
def _dehb_call(*, building: bool = False):
    """Around DEHB's own calls only (not the backend's training): its deprecation warnings (it
    calls ConfigSpace's old API) are dropped, and while DEHB is built its module-level loguru
    logger is a mute stand-in, so DEHB neither replaces loguru's handlers nor opens a log file
    (DEHB keeps the stand-in as ``self.logger``)."""
    module = sys.modules.get("dehb.optimizers.dehb") if building else None
    saved = getattr(module, "logger", None)
    if module is not None:
        module.logger = _Mute()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if module is not None:
            module.logger = saved


def _import_dehb(strategy: str):
    dehb = _require("dehb", strategy)
    _require("ConfigSpace", strategy)
    try:
        from loguru import logger

        logger.disable("dehb")  # DEHB's messages only (loguru's per-library switch)
    except ImportError:  # pragma: no cover - loguru is a DEHB dependency
        pass
    return dehb


class DEHBStrategy:
    """DEHB (differential evolution in Hyperband brackets) through its ask/tell interface; see the
    module doc for batching and for why every job trains from scratch."""

    name = "dehb"

    def __init__(self, space: Space, *, max_resource, eta: int = 3, seed: int = 0, min_resource=1,
                 batch_size: int | None = None, mutation_factor: float = 0.5, crossover_prob: float = 0.5):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.eta = check_eta(eta)
        self.seed = check_seed(seed)
        self.min_resource = check_real("min_resource", min_resource, low=0.0, low_open=True)
        if not self.min_resource < float(max_resource):
            raise ValueError(f"dehb needs min_resource < max_resource (DEHB needs two fidelities at least), "
                             f"got min_resource={min_resource}, max_resource={max_resource}")
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)
        self.mutation_factor = check_real("mutation_factor", mutation_factor, low=0.0, low_open=True)
        self.crossover_prob = check_real("crossover_prob", crossover_prob, low=0.0, high=1.0)
        self._dehb = _import_dehb(self.name)

    def describe(self) -> str:
        version = getattr(self._dehb, "__version__", "")
        return (f"DEHB {version} fidelity {self.min_resource:g}..{float(self.max_resource):g} eta={self.eta} "
                f"batch={self.batch_size or 'rung'} seed={self.seed}").replace("  ", " ")

    def _resource(self, fidelity) -> float:
        r = float(fidelity)
        near = round(r)
        if abs(r - near) <= 1e-9 * max(1.0, abs(r)):
            r = float(near)
        return min(r, float(self.max_resource))

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = _Runner(self.name, self.space, backend, budget=budget, callbacks=callbacks)
        folder = tempfile.mkdtemp(prefix="hbjax-dehb-")
        seen: set = set()
        repeats = 0
        dehb = None
        try:
            with _dehb_call(building=True):
                dehb = self._dehb.DEHB(
                    cs=to_configspace(self.space, seed=self.seed), f=None, dimensions=len(self.space.names),
                    min_fidelity=self.min_resource, max_fidelity=float(self.max_resource), eta=self.eta,
                    mutation_factor=self.mutation_factor, crossover_prob=self.crossover_prob, seed=self.seed,
                    n_workers=1, output_path=folder, save_freq="end", log_level="ERROR")
            levels = [self._resource(f) for f in dehb.fidelities]
            s_max = len(levels) - 1
            pending = None
            while True:
                with _dehb_call():
                    first = pending if pending is not None else dehb.ask()
                pending = None
                r = self._resource(first["fidelity"])
                cost = runner.cost(r, 0.0)  # every DEHB job trains from scratch
                if not runner.fits(cost):
                    break  # its job no longer fits: the run ends (never told: DEHB is dropped)
                batch = [first]
                while self.batch_size is None or len(batch) < self.batch_size:
                    if not runner.fits(cost * (len(batch) + 1)) or not self._same_rung_next(dehb, first):
                        break
                    with _dehb_call():
                        job = dehb.ask()
                    if job["bracket_id"] != first["bracket_id"] or self._resource(job["fidelity"]) != r:
                        pending = job
                        break
                    batch.append(job)
                with _dehb_call():
                    configs = [config_from_configspace(self.space, j["config"]) for j in batch]
                cids = [runner.add_config(c) for c in configs]
                s = s_max - int(first["bracket_id"]) % (s_max + 1)
                rung = levels.index(r) - (s_max - s) if r in levels else 0
                job, losses, seconds = runner.train(cids, r, [0.0] * len(cids), iteration=int(first["bracket_id"]),
                                                    bracket=s, rung=rung)
                for j, (info, loss) in enumerate(zip(batch, losses)):
                    loss = float(loss)
                    with _dehb_call():
                        dehb.tell(info, {"fitness": loss if math.isfinite(loss) else math.inf, "cost": cost})
                    did = int(info["config_id"])
                    repeats += did in seen
                    seen.add(did)
                    runner.record(job, j, loss=loss, promoted=False, seconds=seconds, dehb_config_id=did)
                runner.done(job, losses, seconds, release=cids)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return runner.result(brackets=int(getattr(dehb, "iteration_counter", -1)) + 1, retrained_promotions=repeats)

    @staticmethod
    def _same_rung_next(dehb, first) -> bool:
        """Would DEHB's next job come from the same bracket, without waiting for results? (Private
        API; without it, one job at a time: exactly DEHB's sequential schedule.)"""
        try:
            with _dehb_call():
                return dehb._get_next_bracket(only_id=True) == first["bracket_id"]
        except Exception:  # noqa: BLE001
            return False


PEERS = {
    "optuna-tpe-hb": OptunaTPEHyperband,
    "optuna-random": OptunaRandom,
    "dehb": DEHBStrategy,
}
