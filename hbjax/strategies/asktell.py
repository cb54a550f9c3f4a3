"""Your own search method in the comparison harness: an ask/tell protocol.

A method is an object with two methods, built by a factory the harness calls once per seed:

    factory(space, *, max_resource, seed, eta) -> method
    method.ask() -> (configs, resource) | None      # a batch of configs (dicts of the space) to
                                                   # train to ``resource`` (0 < resource <= R);
                                                   # None or no configs: the method has finished
    method.tell(configs, resource, losses) -> None  # their validation losses (NaN: diverged)

Asking again for a config already trained to a lower resource continues it from its trained
state where the backend keeps states (the LSTM, a flax model): it is charged the difference, as
Hyperband's survivors are; any other config starts fresh. Every batch is one job on the backend,
under the same budget accounting, seeds, trials table, protocols, paired tests and pictures as the
built-in methods. A batch larger than what is left of the budget is cut to what fits (the method is
told only what was trained); the run ends when nothing more fits or the method stops asking.

``UserMethod(factory, name)`` makes a factory a strategy of ``compare`` and ``run_protocol``;
``load_method("FILE.py:factory")`` loads one from a file (``hbjax compare --method``).
``examples/my_method.py`` is a complete method in 30 lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from ..results import Result
from ..space import Space, config_token
from .base import check_budget, check_max_resource, check_seed, check_space
from .peer_common import PeerRunner

__all__ = ["AskTellStrategy", "UserMethod", "load_method"]


class UserMethod:
    """A user's ask/tell method factory as a strategy (``compare(methods=[UserMethod(f)])``)."""

    def __init__(self, factory: Callable, name: str | None = None):
        if not callable(factory):
            raise ValueError(
                f"a method factory must be callable factory(space, *, max_resource, seed, eta) -> an "
                f"object with ask() and tell(configs, resource, losses); got {type(factory).__name__}"
            )
        self.factory = factory
        self.name = str(name or getattr(factory, "method_name", None) or getattr(factory, "__name__", "method"))

    def __call__(self, space: Space, *, max_resource, seed: int = 0, eta: int = 3) -> AskTellStrategy:
        try:
            method = self.factory(space, max_resource=max_resource, seed=seed, eta=eta)
        except Exception as err:  # noqa: BLE001 - the user's factory: say what broke
            raise ValueError(f"method {self.name!r}: its factory failed: {type(err).__name__}: {err}") from None
        for attr in ("ask", "tell"):
            if not callable(getattr(method, attr, None)):
                raise ValueError(
                    f"method {self.name!r}: the factory must return an object with ask() and "
                    f"tell(configs, resource, losses); {type(method).__name__} has no {attr}()"
                )
        return AskTellStrategy(method, space, max_resource=max_resource, seed=seed, name=self.name)

    def __repr__(self) -> str:
        return f"UserMethod({self.name!r})"


class AskTellStrategy:
    """Runs an ask/tell method through a backend within a budget (see the module doc)."""

    def __init__(self, method, space: Space, *, max_resource, seed: int = 0, name: str = "method"):
        self.method, self.space, self.name = method, check_space(space), str(name)
        self.max_resource = float(check_max_resource(max_resource))
        self.seed = check_seed(seed)

    def describe(self) -> str:
        return f"{self.name} (ask/tell) R={self.max_resource:g} seed={self.seed}"

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = PeerRunner(self.name, self.space, backend, budget=budget, callbacks=callbacks)
        trained: dict = {}  # config token -> (config id, resource it holds)
        batch = 0
        while True:
            asked = self.method.ask()
            if asked is None:
                break
            configs, resource = self._check(asked)
            if not configs:
                break
            ids, previous = [], []
            for config in configs:
                cid, held = trained.get(config_token(config), (None, 0.0))
                if cid is None or held >= resource or cid in ids:  # fresh: new, or not a continuation
                    cid, held = runner.add_config(config), 0.0
                ids.append(cid)
                previous.append(held)
            while ids and not runner.fits(sum(runner.cost(resource, p) for p in previous)):
                ids, previous, configs = ids[:-1], previous[:-1], configs[:-1]  # cut to what the budget holds
            if not ids:
                break
            job, losses, seconds = runner.train(ids, resource, previous, iteration=batch)
            for j, (cid, config) in enumerate(zip(ids, configs)):
                trained[config_token(config)] = (cid, resource)
                runner.record(job, j, loss=losses[j], promoted=False, seconds=seconds)
            runner.done(job, losses, seconds)
            self.method.tell([dict(c) for c in configs], resource, np.asarray(losses, dtype=np.float64))
            batch += 1
        return runner.result(batches=batch)

    def _check(self, asked) -> tuple[list[dict], float]:
        try:
            configs, resource = asked
        except (TypeError, ValueError):
            raise ValueError(
                f"method {self.name!r}: ask() must return (configs, resource) or None, got {type(asked).__name__}"
            ) from None
        if (
            isinstance(resource, bool)
            or not isinstance(resource, (int, float, np.integer, np.floating))
            or not math.isfinite(resource)
            or not 0 < resource <= self.max_resource
        ):
            raise ValueError(
                f"method {self.name!r}: ask() asked for resource {resource!r}; it must be in (0, {self.max_resource:g}]"
            )
        configs = list(configs)
        for config in configs:
            if not isinstance(config, Mapping):
                raise ValueError(f"method {self.name!r}: ask() must give configs as dicts, got {type(config).__name__}")
            try:
                self.space.validate(config)
            except ValueError as err:
                raise ValueError(f"method {self.name!r}: ask() gave a config outside the space: {err}") from None
        return [dict(c) for c in configs], float(resource)


def load_method(reference: str) -> UserMethod:
    """``"path/to/file.py:factory"`` -> ``UserMethod`` (``ValueError`` naming the problem). The
    file is imported as ``python FILE.py`` runs it (its folder on ``sys.path``)."""
    from ..usermodel.spec import import_factory

    factory = import_factory(reference, option="--method")
    return UserMethod(factory, name=getattr(factory, "method_name", None) or reference.rsplit(":", 1)[1])
