"""Random search and grid search: every config trained once at the full resource."""

from __future__ import annotations

import numpy as np

from ..results import Result
from ..space import Space, finite_values, python_scalar
from .base import BatchRunner, check_budget, check_int, check_max_resource, check_seed, check_space

__all__ = ["GridSearch", "RandomSearch"]

_PERMUTE_LIMIT = 10**7  # finite spaces up to this size are drawn without replacement


def grid_config(space: Space, index: int) -> dict:
    """``space.grid()[index]`` without building the grid (mixed radix, last dimension fastest)."""
    config = {}
    for name in reversed(space.names):
        values = finite_values(space.dims[name])
        index, j = divmod(int(index), len(values))
        value = values[j]
        config[name] = python_scalar(value)
    return {name: config[name] for name in space.names}


class RandomSearch:
    """Bergstra & Bengio (2012): random configs, each trained to ``max_resource``; ``batch_size``
    configs per job. A finite space is drawn without replacement (the run ends when it is used up)."""

    name = "random"

    def __init__(self, space: Space, *, max_resource, seed: int = 0, batch_size: int = 8):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.seed = check_seed(seed)
        self.batch_size = check_int("batch_size", batch_size, 1)

    def describe(self) -> str:
        return f"random search R={self.max_resource:g} batch={self.batch_size} seed={self.seed}"

    def _order(self, rng):
        size = self.space.size
        if size is not None and size <= _PERMUTE_LIMIT:
            return rng.permutation(size)
        return None

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = BatchRunner(
            self.name, self.space, backend, budget=budget, max_resource=self.max_resource, callbacks=callbacks
        )
        rng = np.random.default_rng(self.seed)
        order = self._order(rng)
        used, batch = 0, 0
        while True:
            k = min(self.batch_size, runner.affordable())
            if order is not None:
                k = min(k, len(order) - used)
            if k <= 0:
                break
            if order is not None:
                configs = [grid_config(self.space, i) for i in order[used : used + k]]
            else:
                configs = self.space.sample_configs(rng, k, unique=False)
            runner.evaluate(configs, iteration=batch)
            used += k
            batch += 1
        return runner.result(batches=batch)


class GridSearch(RandomSearch):
    """Every config of a finite space (``Choice`` / ``IntUniform`` dimensions only), in an order
    shuffled by ``seed``, until the grid or the budget is used up; ``batch_size`` configs per job."""

    name = "grid"

    def __init__(self, space: Space, *, max_resource, seed: int = 0, batch_size: int = 8):
        super().__init__(space, max_resource=max_resource, seed=seed, batch_size=batch_size)
        if space.size is None:
            continuous = [k for k, d in space.dims.items() if d.values is None]
            raise ValueError(
                f"grid search needs a finite space (Choice / IntChoice / IntUniform dimensions only); "
                f"{continuous} {'is' if len(continuous) == 1 else 'are'} continuous: use random search, "
                f"or replace them by a Choice of values"
            )
        if space.size > _PERMUTE_LIMIT:
            raise ValueError(f"the grid has {space.size} configs, more than grid search enumerates ({_PERMUTE_LIMIT})")

    def describe(self) -> str:
        return f"grid search ({self.space.size} configs, shuffled by seed {self.seed}) R={self.max_resource:g}"

    def _order(self, rng):
        return rng.permutation(self.space.size)
