"""A generational genetic algorithm over the encoded space; every generation trains as one job.

Generation 0 is ``population`` random configs. Each later generation keeps the ``elitism`` best
of the current population (not retrained: their losses are known) and breeds
``population - elitism`` children: two parents by tournament selection (the best of
``tournament`` random members), uniform crossover with probability ``crossover`` (else a copy of
the first parent), then each gene mutates with probability ``mutation``: a Gaussian step of
``mutation_scale`` in the encoded [0, 1] coordinate for ``Uniform`` / ``LogUniform`` (clipped to the
bounds), a uniformly random *other* value for integers and choices. A child identical to a config
already evaluated gets one more forced mutation (up to 10 tries), so budget is not spent twice on
the same config. Children are decoded onto the space, so every evaluated config is in it.
Diverged (non-finite) losses rank last.
"""

from __future__ import annotations

import math

import numpy as np

from ..results import Result
from ..space import Space
from .base import BatchRunner, check_budget, check_int, check_max_resource, check_real, check_seed, check_space
from .encoding import CATEGORICAL, INTEGER, Codec

__all__ = ["GeneticAlgorithm"]


def _key(vector) -> tuple:
    """Identity of an encoded config (robust to the ulp noise of decode/encode round trips)."""
    return tuple(np.round(np.asarray(vector, dtype=np.float64), 10))


def _rank_key(loss: float, cid: int):
    return (loss if math.isfinite(loss) else math.inf, cid)


class GeneticAlgorithm:
    """Tournament selection, uniform crossover, per-gene mutation, elitism; all at ``max_resource``."""

    name = "ga"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        seed: int = 0,
        population: int = 8,
        tournament: int = 3,
        crossover: float = 0.9,
        mutation: float = 0.2,
        elitism: int = 1,
        mutation_scale: float = 0.1,
    ):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.seed = check_seed(seed)
        self.population = check_int("population", population, 2)
        self.tournament = check_int("tournament", tournament, 1, self.population)
        self.crossover = check_real("crossover", crossover, low=0.0, high=1.0)
        self.mutation = check_real("mutation", mutation, low=0.0, high=1.0)
        self.elitism = check_int("elitism", elitism, 0, self.population - 1)
        self.mutation_scale = check_real("mutation_scale", mutation_scale, low=0.0, low_open=True)
        self.codec = Codec(space)

    def describe(self) -> str:
        return (
            f"genetic algorithm R={self.max_resource:g} population={self.population} "
            f"tournament={self.tournament} crossover={self.crossover:g} mutation={self.mutation:g} "
            f"elitism={self.elitism} seed={self.seed}"
        )

    # -- operators -------------------------------------------------------------------------------
    def _select(self, rng, members) -> np.ndarray:
        k = min(self.tournament, len(members))
        picked = rng.choice(len(members), size=k, replace=False)
        best = min(picked, key=lambda i: _rank_key(members[i][1], members[i][2]))
        return members[best][0]

    def _mutate_gene(self, rng, child: np.ndarray, j: int) -> None:
        kind = self.codec.kinds[j]
        if kind in (INTEGER, CATEGORICAL):
            child[j] = self.codec.other_value(j, child[j], rng)
        else:
            child[j] = float(np.clip(child[j] + rng.normal() * self.mutation_scale, 0.0, 1.0))

    def breed(self, rng, members, n: int, seen: set) -> np.ndarray:
        """``n`` children of ``members`` = [(vector, loss, config_id)]."""
        d = self.codec.n_dims
        children = []
        for _ in range(n):
            a = self._select(rng, members)
            if rng.random() < self.crossover:
                b = self._select(rng, members)
                child = np.where(rng.random(d) < 0.5, a, b)
            else:
                child = a.copy()
            for j in range(d):
                if rng.random() < self.mutation:
                    self._mutate_gene(rng, child, j)
            child = self.codec.snap(child)[0]
            for _ in range(10):
                if _key(child) not in seen:
                    break
                self._mutate_gene(rng, child, int(rng.integers(d)))
                child = self.codec.snap(child)[0]
            seen.add(_key(child))
            children.append(child)
        return np.array(children).reshape(n, d)

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = BatchRunner(
            self.name, self.space, backend, budget=budget, max_resource=self.max_resource, callbacks=callbacks
        )
        rng = np.random.default_rng(self.seed)
        codec = self.codec
        members: list[tuple[np.ndarray, float, int]] = []  # the current population
        seen: set = set()
        generation = 0
        while True:
            want = self.population if generation == 0 else self.population - self.elitism
            k = min(want, runner.affordable())
            if k <= 0:
                break
            if generation == 0:
                vectors = codec.snap(codec.sample(rng, k))
            else:
                vectors = self.breed(rng, members, k, seen)
            configs = codec.decode(vectors)
            first = len(runner.state.configs)
            losses = runner.evaluate(configs, iteration=generation, columns=[{"generation": generation}] * k)
            encoded = codec.encode(configs)
            seen.update(_key(v) for v in encoded)
            children = [(encoded[i], float(losses[i]), first + i) for i in range(k)]
            elites = sorted(members, key=lambda m: _rank_key(m[1], m[2]))[: self.elitism] if generation else []
            members = elites + children
            generation += 1
        return runner.result(generations=generation)
