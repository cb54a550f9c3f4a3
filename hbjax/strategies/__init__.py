"""Search strategies under one budget, for comparing Hyperband with its alternatives.

Every strategy is a class with a keyword-only constructor (checked up front, ``ValueError`` on a
bad value) and ``run(backend, *, budget, callbacks=()) -> Result``: the same
:class:`~hbjax.results.Result` as :class:`~hbjax.hyperband.Hyperband`, one trial row per evaluation.
Every strategy trains through ``backend.train_rung(RungJob)``, one job per batch / generation /
rung, so any backend works unchanged. ``budget`` is in resource units (config-epochs for the LSTM
backend; see :func:`~hbjax.strategies.base.budget_of`); ``resource_spent <= budget`` always.

=========== ===============================================================================
name        strategy
=========== ===============================================================================
hyperband   :class:`HyperbandStrategy`: Hyperband iterations repeated within the budget
sh          :class:`SuccessiveHalvingStrategy`: successive-halving brackets repeated
bohb        :class:`BOHB`: Hyperband + TPE-style density model (Falkner et al. 2018)
random      :class:`RandomSearch`: random configs at full resource
grid        :class:`GridSearch`: shuffled grid of a finite space at full resource
bo          :class:`BayesianOptimization`: GP + expected improvement, batched (kriging believer)
ga          :class:`GeneticAlgorithm`: tournament / uniform crossover / mutation / elitism
=========== ===============================================================================

Other libraries' optimisers, same backends and budget accounting (:mod:`hbjax.strategies.peers`;
optional: ``pip install 'hbjax[peers]'``, else their constructors raise ``ImportError``):
``optuna-tpe-hb`` (Optuna TPE + HyperbandPruner), ``optuna-random`` (Optuna random sampler),
``dehb`` (DEHB).

No JAX is imported here (the scikit-learn fallback runs without it), nor Optuna / DEHB.
"""

from __future__ import annotations

import inspect

from .asktell import AskTellStrategy, UserMethod, load_method
from .base import SearchState, budget_of
from .bayesopt import BayesianOptimization
from .bohb import BOHB
from .bracketed import HyperbandStrategy, SuccessiveHalvingStrategy, bracket_cost, run_within_budget
from .compare import compare, paired_tests, rank_summary, seed_ranks, stats_markdown, summarize, summarize_stats
from .encoding import Codec
from .genetic import GeneticAlgorithm
from .peers import PEERS, DEHBStrategy, OptunaRandom, OptunaTPEHyperband
from .random_search import GridSearch, RandomSearch

__all__ = [
    "BOHB",
    "STRATEGIES",
    "AskTellStrategy",
    "BayesianOptimization",
    "Codec",
    "DEHBStrategy",
    "GeneticAlgorithm",
    "GridSearch",
    "HyperbandStrategy",
    "OptunaRandom",
    "OptunaTPEHyperband",
    "RandomSearch",
    "SearchState",
    "SuccessiveHalvingStrategy",
    "UserMethod",
    "bracket_cost",
    "budget_of",
    "compare",
    "load_method",
    "make_strategy",
    "method_label",
    "paired_tests",
    "rank_summary",
    "run_within_budget",
    "seed_ranks",
    "stats_markdown",
    "summarize",
    "summarize_stats",
]

STRATEGIES = {
    "hyperband": HyperbandStrategy,
    "random": RandomSearch,
    "grid": GridSearch,
    "bo": BayesianOptimization,
    "ga": GeneticAlgorithm,
    "sh": SuccessiveHalvingStrategy,
    "bohb": BOHB,
    **PEERS,  # optuna-tpe-hb, optuna-random, dehb
}


def _options(cls) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]


def method_label(method) -> str:
    """The name a method has in tables: a built-in's name, or a ``UserMethod``'s."""
    return method.name if isinstance(method, UserMethod) else str(method)


def make_strategy(name, space, *, max_resource, eta: int = 3, seed: int = 0, **kw):
    """``STRATEGIES[name](space, max_resource=..., seed=..., [eta=...,] **kw)``; ``eta`` goes only to the
    strategies that have one (hyperband, sh, bohb, optuna-tpe-hb, dehb). ``name`` may be a
    ``UserMethod`` (a user's ask/tell method), which takes no options."""
    if isinstance(name, UserMethod):
        if kw:
            raise ValueError(f"method {name.name!r} (a user's ask/tell method) takes no options, got {sorted(kw)}")
        return name(space, max_resource=max_resource, seed=seed, eta=eta)
    if not isinstance(name, str) or name.lower() not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    cls = STRATEGIES[name.lower()]
    accepted = _options(cls)
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise ValueError(
            f"strategy {name!r} has no option(s) {unknown}; its options: "
            f"{', '.join(a for a in accepted if a not in ('max_resource', 'seed', 'eta'))}"
        )
    args = dict(kw, max_resource=max_resource, seed=seed)
    if "eta" in accepted:
        args["eta"] = eta
    return cls(space, **args)
