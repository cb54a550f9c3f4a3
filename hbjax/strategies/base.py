"""What every strategy shares: budget accounting, argument checks, and batch evaluation.

Budget: a number of *resource units* (config-epochs for the LSTM backend). A job costs
:func:`budget_of`: the resource it adds when the backend continues survivors
(``backend.continues``), else the full resource of every config in it. A strategy never starts
a job that would take it over the budget, so ``resource_spent <= budget``; strategies that
evaluate configs at full resource shrink their last batch so that less than one config's cost
is left unspent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..brackets import validate_resource_and_eta
from ..results import Result, Trials, param_column, share_seconds
from ..scheduler import RungJob
from ..space import Space

__all__ = ["BUDGET_TOLERANCE", "BatchRunner", "SearchState", "budget_of", "check_budget"]

#: relative slack for float sums of resources (1/3 + 1/3 + 1/3 != 1 in floats)
BUDGET_TOLERANCE = 1e-9

#: ``callback(job, losses, state, seconds)`` after every job: ``state`` is the scheduler state for
#: the Hyperband-shaped strategies and a :class:`SearchState` for the others.
Callback = Callable[[RungJob, np.ndarray, Any, float], None]


def budget_of(job: RungJob, continues: bool) -> float:
    """Resource units ``job`` costs: ``sum(resource - previous)`` if the backend continues survivors
    from their trained state, else ``resource`` for every config (retrained from scratch)."""
    if continues:
        return float(sum(job.resource - p for p in job.previous_resource))
    return float(job.resource) * len(job.config_ids)


def fits(cost: float, remaining: float, budget: float) -> bool:
    return cost <= remaining + BUDGET_TOLERANCE * max(1.0, abs(budget))


# -- argument checks (all raise ValueError with the offending value) -------------------------------
def check_space(space) -> Space:
    if not isinstance(space, Space):
        raise ValueError(f"space must be an hbjax.Space, got {type(space).__name__}")
    return space


def check_max_resource(max_resource) -> float:
    validate_resource_and_eta(max_resource, 2)
    return max_resource


def check_eta(eta) -> int:
    validate_resource_and_eta(1, eta)
    return int(eta)


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return int(value)


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        where = (
            f"in {lo}, {hi}"
            if low is not None and high is not None
            else (f"{'>' if low_open else '>='} {low}" if low is not None else f"{'<' if high_open else '<='} {high}")
        )
        raise ValueError(f"{name} must be {where}, got {value}")
    return float(value)


def check_budget(budget, max_resource) -> float:
    """A finite budget of at least one full-resource evaluation (``max_resource``)."""
    if isinstance(budget, bool) or not isinstance(budget, Real) or not math.isfinite(budget):
        raise ValueError(f"budget must be a finite number of resource units, got {budget!r}")
    if budget <= 0:
        raise ValueError(f"budget must be > 0 resource units, got {budget}")
    if budget < max_resource:
        raise ValueError(
            f"budget {budget:g} is less than one full evaluation (max_resource R={max_resource:g}); "
            f"give at least R resource units"
        )
    return float(budget)


def check_backend(backend) -> None:
    if not callable(getattr(backend, "train_rung", None)):
        raise ValueError(f"backend must have a train_rung(job) method, got {type(backend).__name__}")


def check_callbacks(callbacks) -> tuple:
    callbacks = tuple(callbacks or ())
    for cb in callbacks:
        if not callable(cb):
            raise ValueError(f"callbacks must be callables callback(job, losses, state, seconds), got {cb!r}")
    return callbacks


# -- batch evaluation at full resource ------------------------------------------------------------
@dataclass
class SearchState:
    """Progress of a batch strategy (what its callbacks get as ``state``)."""

    strategy: str
    budget: float
    spent: float = 0.0
    configs: list = field(default_factory=list)  # every evaluated config; config id = position
    losses: list = field(default_factory=list)  # as reported (NaN kept)
    batches: int = 0

    @property
    def best_config_id(self) -> int | None:
        finite = [(loss, cid) for cid, loss in enumerate(self.losses) if math.isfinite(loss)]
        return min(finite)[1] if finite else None

    @property
    def best_loss(self) -> float:
        cid = self.best_config_id
        return float("inf") if cid is None else float(self.losses[cid])


def train_within_budget(
    backend, job: RungJob, *, continues: bool, remaining: float, budget: float
) -> tuple[np.ndarray, float, float]:
    """Train ``job`` on ``backend`` -> (losses, seconds, cost charged). A job that would take the
    run over its budget is a strategy's bug, never the user's: it raises before training."""
    cost = budget_of(job, continues)
    if not fits(cost, remaining, budget):
        raise RuntimeError(f"job of {len(job.config_ids)} configs ({cost:g} units) would exceed the budget")
    t0 = time.perf_counter()
    losses = np.asarray(backend.train_rung(job), dtype=np.float64).reshape(-1)
    seconds = time.perf_counter() - t0
    if losses.shape[0] != len(job.config_ids):
        raise ValueError(f"the backend returned {losses.shape[0]} losses for a job of {len(job.config_ids)} configs")
    return losses, seconds, cost


class BatchRunner:
    """Sends batches of configs at full resource to a backend, one :class:`RungJob` per batch,
    and keeps the trials table and the budget."""

    def __init__(self, name: str, space: Space, backend, *, budget: float, max_resource, callbacks=()):
        check_backend(backend)
        self.space = space
        self.backend = backend
        self.budget = float(budget)
        self.resource = float(max_resource)
        self.callbacks = check_callbacks(callbacks)
        self.continues = bool(getattr(backend, "continues", False))
        self.state = SearchState(strategy=name, budget=self.budget)
        self.rows: list[dict] = []
        self._start = time.perf_counter()

    @property
    def spent(self) -> float:
        return self.state.spent

    def affordable(self) -> int:
        """How many more full-resource configs fit in the budget."""
        remaining = self.budget - self.state.spent
        n = max(0, int(math.floor(remaining / self.resource + 1e-9)))
        while n > 0 and not fits(n * self.resource, remaining, self.budget):
            n -= 1
        return n

    def evaluate(self, configs: Sequence[dict], *, iteration: int, columns: Sequence[dict] | None = None) -> np.ndarray:
        """Train ``configs`` to full resource as ONE job; returns their losses (NaN kept).
        ``columns``: extra trial-table columns, one dict per config."""
        configs = [dict(c) for c in configs]
        if not configs:
            return np.empty(0)
        first = len(self.state.configs)
        ids = tuple(range(first, first + len(configs)))
        job = RungJob(
            iteration=int(iteration),
            bracket=0,
            bracket_index=0,
            rung=0,
            config_ids=ids,
            configs=tuple(configs),
            resource=self.resource,
            previous_resource=(0.0,) * len(ids),
        )
        losses, seconds, cost = train_within_budget(
            self.backend, job, continues=self.continues, remaining=self.budget - self.state.spent, budget=self.budget
        )
        release = getattr(self.backend, "release", None)
        if release is not None:  # full-resource configs are never continued
            release(list(ids))
        self.state.spent += cost
        self.state.configs.extend(configs)
        self.state.losses.extend(float(v) for v in losses)
        self.state.batches += 1
        shares = share_seconds(
            seconds, configs, [self.resource] * len(configs), getattr(self.backend, "config_cost", None)
        )
        for j, (cid, config, loss) in enumerate(zip(ids, configs, losses)):
            row = {
                "config_id": cid,
                "iteration": int(iteration),
                "bracket": 0,
                "rung": 0,
                "resource": self.resource,
                "loss": float(loss),
                "promoted": False,
                "diverged": not math.isfinite(loss),
                "seconds": float(shares[j]),
                "rung_seconds": seconds,
                **{param_column(k): v for k, v in config.items()},
            }
            if columns is not None:
                row.update(columns[j])
            self.rows.append(row)
        for cb in self.callbacks:
            cb(job, losses, self.state, seconds)
        return losses

    def result(self, **extras) -> Result:
        trials = Trials(param_names=tuple(param_column(k) for k in self.space.names))
        for row in self.rows:
            trials.add(row)
        cid = self.state.best_config_id
        return Result(
            trials=trials,
            best_config=None if cid is None else dict(self.state.configs[cid]),
            best_loss=self.state.best_loss,
            best_config_id=cid,
            best_resource=None if cid is None else self.resource,
            resource_spent=self.state.spent,
            seconds=time.perf_counter() - self._start,
            extras={"strategy": self.state.strategy, "budget": self.budget, "continues": self.continues, **extras},
            state=self.state,
        )


def losses_for_fit(losses: Sequence[float]) -> np.ndarray | None:
    """Losses with NaN/inf replaced by the worst finite loss (None if none is finite)."""
    y = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(y)
    if not finite.any():
        return None
    return np.where(finite, y, y[finite].max())
