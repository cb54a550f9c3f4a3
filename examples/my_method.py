"""A search method of your own in hbjax's comparison harness (the ask/tell protocol of
``hbjax.strategies.asktell``): screen random configs cheaply, then continue the best ones.

Each round asks ``n`` random configs at ``max_resource / eta**2``, then the best ``n / eta`` of
them again at ``max_resource / eta`` and the best one at ``max_resource`` (asked again, a config
continues from its trained state where the backend keeps states). Compare it with the built-ins:

    hbjax compare --method examples/my_method.py:factory --task mfh6 --seeds 5
"""

import numpy as np


class ScreenThenContinue:
    def __init__(self, space, *, max_resource, seed, eta=3, n=9):
        self.space, self.rng, self.n = space, np.random.default_rng(seed), n
        self.rungs = [max_resource / eta**2, max_resource / eta, max_resource]
        self.keep = [n, max(1, n // eta), 1]
        self.rung, self.pool = 0, []

    def ask(self):
        if self.rung == 0:
            self.pool = self.space.sample_configs(self.rng, self.n, unique=False)
        return self.pool[: self.keep[self.rung]], self.rungs[self.rung]

    def tell(self, configs, resource, losses):
        order = np.argsort(np.where(np.isfinite(losses), losses, np.inf))  # diverged (NaN) last
        self.pool = [configs[i] for i in order]
        self.rung = (self.rung + 1) % len(self.rungs)


def factory(space, *, max_resource, seed, eta=3):
    return ScreenThenContinue(space, max_resource=max_resource, seed=seed, eta=eta)


factory.method_name = "screen-continue"
