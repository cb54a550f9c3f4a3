"""Hyperband and successive halving under a budget.

:class:`~hbjax.hyperband.Hyperband` runs a fixed number of iterations; here the brackets repeat
(iteration after iteration, new configs each time) for as long as the budget allows. Before each
bracket starts, its cost is measured the way the backend spends (:func:`bracket_cost`: continued
config-epochs when ``backend.continues``, else every rung from scratch), and:

1. the next bracket of the plan runs in full if it fits in what is left;
2. else the first later bracket of this iteration that fits in full;
3. else the first of them that fits when started with fewer configs (the scheduler shrinks it:
   every rung keeps >= 1 config, as for a small finite space), as many configs as fit;
4. else, while at least one full-resource evaluation fits, a last one-rung bracket of
   ``floor(left / R)`` configs at R (only successive halving needs it: Hyperband's s=0 bracket
   already is one).

So ``resource_spent <= budget`` and less than one full-resource evaluation is left unspent
(unless configs diverge and end brackets early, which only leaves more budget unspent).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from functools import partial

from .. import scheduler as sched
from ..brackets import Bracket, Rung, bracket_budget, continued_budget, s_max, shrink_bracket
from ..hyperband import Hyperband, SuccessiveHalving, make_result, run_job
from ..results import Result
from ..space import Space
from .base import check_backend, check_budget, check_callbacks, check_int, check_space, fits

__all__ = ["HyperbandStrategy", "SuccessiveHalvingStrategy", "bracket_cost", "run_within_budget"]


def bracket_cost(bracket: Bracket, continues: bool) -> float:
    """Resource units a bracket spends: continued config-epochs, or every rung from scratch."""
    return float(continued_budget([bracket]) if continues else bracket_budget(bracket))


def _largest_fit(bracket: Bracket, eta: int, remaining: float, budget: float, continues: bool) -> int:
    for m in range(bracket.n, 0, -1):
        if fits(bracket_cost(shrink_bracket(bracket, m, eta), continues), remaining, budget):
            return m
    return 0


def _choose_bracket(state: sched.SchedulerState, remaining: float, budget: float, continues: bool):
    """(state positioned on the bracket to run, configs to start it with), or None: budget used up."""
    plan, start = state.plan, state.bracket_index
    for j in range(start, len(plan)):
        if fits(bracket_cost(plan[j], continues), remaining, budget):
            return dataclasses.replace(state, bracket_index=j), plan[j].n
    for j in range(start, len(plan)):
        m = _largest_fit(plan[j], state.eta, remaining, budget, continues)
        if m:
            return dataclasses.replace(state, bracket_index=j), m
    top = max(b.rungs[-1].resource for b in plan)
    k = int(math.floor(remaining / top + 1e-9))
    while k > 0 and not fits(k * top, remaining, budget):
        k -= 1
    if k <= 0:
        return None
    fill = Bracket(0, k, top, (Rung(0, k, top, 0),))
    return dataclasses.replace(state, plan=plan + (fill,), bracket_index=len(plan)), k


def _sample_space(rng, n, state):
    return state.space.sample_configs(rng, n)


def run_within_budget(state: sched.SchedulerState, backend, *, budget: float, propose=None, callbacks=()) -> Result:
    """Ask/train/tell like :func:`hbjax.hyperband.run_scheduler`, choosing (and if need be shrinking)
    every bracket so that the resource spent never exceeds ``budget``."""
    check_backend(backend)
    callbacks = check_callbacks(callbacks)
    continues = bool(getattr(backend, "continues", False))
    base = propose or _sample_space
    seconds_by_rung: dict = {}
    start = time.perf_counter()
    brackets_run = shrunk = 0
    while not sched.done(state):
        if state.active is None and state.pending is None:
            remaining = budget - sched.total_resource(state, continued=continues)
            pick = _choose_bracket(state, remaining, budget, continues)
            if pick is None:
                break
            state, m = pick
            full = state.plan[state.bracket_index].n
            brackets_run += 1
            shrunk += m < full
            with warnings.catch_warnings():
                if m < full:  # the scheduler's "space too small" warning: here it is the budget
                    warnings.filterwarnings("ignore", message=r"bracket s=\d+ wants")
                job, state = sched.ask(state, partial(_capped, base, m))
        else:
            job, state = sched.ask(state)
        state = run_job(state, job, backend, seconds_by_rung, callbacks)
    state = dataclasses.replace(state, finished=True)
    result = make_result(
        state,
        seconds_by_rung,
        time.perf_counter() - start,
        continued=continues,
        cost=getattr(backend, "config_cost", None),
        columns=getattr(backend, "trial_columns", None),
    )
    result.extras.update(budget=float(budget), continues=continues, brackets=brackets_run, shrunk_brackets=shrunk)
    return result


class HyperbandStrategy:
    """Hyperband (Li et al. 2018) repeated for as long as ``budget`` allows (see the module doc);
    ``max_iterations`` caps the number of Hyperband iterations (None: the budget decides).
    ``repeats``: evaluate every config with that many seeds side by side and use their mean
    (:class:`hbjax.repeats.Repeats`); each repeat costs its resource, so the budget buys
    ``repeats`` times fewer configs."""

    name = "hyperband"
    repeats = 1  # seeds per config (subclasses without the option keep one)

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        integer_resource: bool = False,
        max_iterations: int | None = None,
        repeats: int = 1,
    ):
        check_space(space)
        self.hyperband: Hyperband | SuccessiveHalving = Hyperband(
            space, max_resource=max_resource, eta=eta, seed=seed, integer_resource=integer_resource
        )
        self.max_iterations = None if max_iterations is None else check_int("max_iterations", max_iterations, 1)
        self.repeats = check_int("repeats", repeats, 1)

    space = property(lambda self: self.hyperband.space)
    max_resource = property(lambda self: self.hyperband.max_resource)
    eta = property(lambda self: self.hyperband.eta)
    seed = property(lambda self: self.hyperband.seed)

    @property
    def plan(self):
        return self.hyperband.plan

    def describe(self) -> str:
        return f"{self.hyperband.describe()}\n(repeated within the budget)"

    def initial_state(self) -> sched.SchedulerState:
        return sched.init(self.space, self.plan, eta=self.eta, seed=self.seed, iterations=self.max_iterations or 2**62)

    def _propose(self):
        return None

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        if self.repeats > 1:
            from ..repeats import Repeats

            backend = Repeats(backend, self.repeats)
        result = run_within_budget(
            self.initial_state(), backend, budget=budget / self.repeats, propose=self._propose(), callbacks=callbacks
        )
        result.resource_spent *= self.repeats
        result.extras.update(strategy=self.name, repeats=self.repeats)
        return result


class SuccessiveHalvingStrategy(HyperbandStrategy):
    """Successive halving (Jamieson & Talwalkar 2016): one bracket of ``n_configs`` (default
    ``eta**s_max``, i.e. from R/eta^s_max up to R), repeated with new configs within the budget."""

    name = "sh"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        n_configs: int | None = None,
        min_resource=None,
        integer_resource: bool = False,
        max_iterations: int | None = None,
    ):
        check_space(space)
        if n_configs is None:
            Hyperband(space, max_resource=max_resource, eta=eta, seed=seed)  # clear errors for R / eta first
            n_configs = eta ** s_max(max_resource, eta)
        self.hyperband = SuccessiveHalving(
            space,
            n_configs=n_configs,
            max_resource=max_resource,
            eta=eta,
            min_resource=min_resource,
            seed=seed,
            integer_resource=integer_resource,
        )
        _ = self.hyperband.plan  # validates n_configs / min_resource now
        self.max_iterations = None if max_iterations is None else check_int("max_iterations", max_iterations, 1)

    @property
    def n_configs(self) -> int:
        assert isinstance(self.hyperband, SuccessiveHalving)  # set so by __init__
        return self.hyperband.n_configs

    def describe(self) -> str:
        from ..brackets import format_plan

        return (
            f"successive halving n={self.n_configs} R={self.max_resource:g} eta={self.eta} seed={self.seed}\n"
            f"{format_plan(self.plan)}\n(repeated within the budget)"
        )


def _capped(propose, most: int, rng, n: int, state):
    """``propose`` asked for at most ``most`` configs."""
    return propose(rng, min(n, most), state)
