"""What the peer strategies (``peers.py``) share: lazy imports with one clear ImportError, value
conversions, and the runner that sends their evaluations through a backend and the budget."""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Sequence

import numpy as np

from ..results import Result, Trials, share_seconds
from ..scheduler import RungJob
from ..space import Space
from .base import SearchState, check_backend, check_callbacks, fits, param_column, train_within_budget

#: the install line the ImportErrors give
PEERS_INSTALL = "pip install 'hbjax[peers]'"
_PIP = {"optuna": "pip install 'optuna>=3.5'", "dehb": "pip install 'dehb==0.1.1'"}


def require(module: str, strategy: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        raise ImportError(
            f"strategy {strategy!r} needs {top}, which is not installed: {PEERS_INSTALL} "
            f"(or {_PIP.get(top, 'pip install ' + top)})"
        ) from err


# -- spaces ----------------------------------------------------------------------------------------
def primitive(values: Sequence) -> bool:
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in values)


class PeerRunner:
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

    def train(
        self,
        cids: Sequence[int],
        resource: float,
        previous: Sequence[float],
        *,
        iteration: int,
        bracket: int = 0,
        rung: int = 0,
    ):
        """One job -> (job, losses, seconds)."""
        job = RungJob(
            iteration=int(iteration),
            bracket=int(bracket),
            bracket_index=0,
            rung=int(rung),
            config_ids=tuple(int(c) for c in cids),
            configs=tuple(self.state.configs[c] for c in cids),
            resource=float(resource),
            previous_resource=tuple(float(p) for p in previous),
        )
        losses, seconds, cost = train_within_budget(
            self.backend, job, continues=self.continues, remaining=self.budget - self.state.spent, budget=self.budget
        )
        self.state.spent += cost
        self.state.batches += 1
        for cid, loss in zip(job.config_ids, losses):
            old = self.state.losses[cid]
            if math.isfinite(loss) and not (math.isfinite(old) and old <= loss):
                self.state.losses[cid] = float(loss)
        return job, losses, seconds

    def record(
        self,
        job: RungJob,
        j: int,
        *,
        loss: float,
        promoted: bool,
        seconds: float,
        bracket: int | None = None,
        rung: int | None = None,
        **columns,
    ) -> None:
        """The trials-table row of config ``j`` of ``job`` (``bracket`` / ``rung``: the config's own,
        when they differ from the job's)."""
        loss = float(loss)
        self.rows.append(
            {
                "config_id": job.config_ids[j],
                "iteration": job.iteration,
                "bracket": job.bracket if bracket is None else int(bracket),
                "rung": job.rung if rung is None else int(rung),
                "resource": job.resource,
                "loss": loss,
                "promoted": bool(promoted),
                "diverged": not math.isfinite(loss),
                "seconds": self._share(job, j, seconds),
                "rung_seconds": seconds,
                **{param_column(k): v for k, v in job.configs[j].items()},
                **columns,
            }
        )

    def _share(self, job: RungJob, j: int, seconds: float) -> float:
        """Config ``j``'s part of its job's time (as in hbjax's own trials tables)."""
        trained = [max(job.resource - p, 0.0) for p in job.previous_resource]
        return share_seconds(seconds, job.configs, trained, getattr(self.backend, "config_cost", None))[j]

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
            best_config=None if cid is None else dict(self.state.configs[cid]),
            best_loss=math.inf if best is None else float(best["loss"]),
            best_config_id=cid,
            best_resource=None if best is None else float(best["resource"]),
            resource_spent=self.state.spent,
            seconds=time.perf_counter() - self._start,
            extras={"strategy": self.state.strategy, "budget": self.budget, "continues": self.continues, **extras},
            state=self.state,
        )


# -- Optuna ------------------------------------------------------------------------------------------
def integer_resource(strategy: str, max_resource) -> int:
    if not float(max_resource).is_integer():
        raise ValueError(f"{strategy} needs an integer max_resource (Optuna's steps are integers), got {max_resource}")
    return int(max_resource)
