"""``LSTMBackend``: the Hyperband backend for the stock task (any ``StockTask``).

A rung's loss is each walk-forward fold's validation MSE divided by persistence's (tomorrow = today)
on that fold, averaged over folds: 1.0 is persistence, below 1 beats it, ``1 - loss`` is the
validation skill, and a volatile fold weighs no more than a calm one.
Survivors continue from their trained weights and optimizer state (``continues = True``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from ..data.targets import diebold_mariano
from ..engine.backend import EngineBackend, default_memory_limit, enable_compilation_cache
from ..space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform
from . import network
from .engine import FoldArrays, LSTMEngine, encode_hparams
from .network import ACTIVATIONS, Traced
from .optim import OPTIMIZERS

__all__ = ["LSTMBackend", "default_space", "demo_space", "enable_compilation_cache"]

SHAPE_KEYS = ("hidden", "layers", "batch_size")


def default_space() -> Space:
    """The reference task's space: lr 10^U(-6,-1), 16..256 units, 1..5 layers, dropout .1-.6, ..."""
    return Space(
        lr=LogUniform(1e-6, 1e-1),
        hidden=IntChoice([16, 32, 64, 128, 256]),
        layers=IntUniform(1, 5),
        dropout=Uniform(0.1, 0.6),
        activation=Choice(list(ACTIVATIONS)),
        optimizer=Choice(list(OPTIMIZERS)),
        batch_size=IntChoice([16, 32, 64, 128, 256]),
    )


def demo_space() -> Space:
    """A small space whose few shapes compile quickly on a 2-core CPU (``hbjax demo``)."""
    return Space(
        lr=LogUniform(1e-4, 1e-1),
        hidden=IntChoice([16, 32]),
        layers=IntChoice([1, 2]),
        dropout=Uniform(0.1, 0.6),
        activation=Choice(list(ACTIVATIONS)),
        optimizer=Choice(list(OPTIMIZERS)),
        batch_size=IntChoice([64, 128]),
    )


def check_space(space: Space) -> None:
    missing = [k for k in ("lr", *SHAPE_KEYS) if k not in space.dims]
    if missing:
        raise ValueError(
            f"the LSTM search space lacks {missing}; it needs lr, hidden, layers, batch_size "
            f"(optional: dropout, activation, optimizer, window)"
        )
    known = {"lr", "dropout", "activation", "optimizer", "window", *SHAPE_KEYS}
    unknown = sorted(set(space.dims) - known)
    if unknown:
        raise ValueError(f"the LSTM backend does not know the hyperparameter(s) {unknown}; known: {sorted(known)}")
    for name in ("activation", "optimizer"):
        dim = space.dims.get(name)
        allowed = ACTIVATIONS if name == "activation" else OPTIMIZERS
        if dim is not None and (not isinstance(dim, Choice) or set(dim.values) - set(allowed)):
            raise ValueError(f"{name} must be a Choice among {allowed}, got {dim!r}")


class LSTMBackend(EngineBackend):
    """Trains every rung as vmapped programs of Flax LSTMs on the folds of ``task``.

    ``window``: the input window when the space has no ``window`` dimension.
    ``plan``: ``auto`` (by device), ``exact`` (one program per shape) or ``wide`` (the accelerator
    plan: configs side by side, padding and widths by the cost model); see ``hbjax.lstm.plan``.
    ``configs_per_program``: configs per call (None = by plan); on CPU it never changes results.
    ``memory_limit_bytes``: device memory the calls in flight may use together (splits big rungs).
    ``precision``: matmul precision (``engine.PRECISIONS``). ``cost``: cost-model constants (None:
    this device's calibration, else the committed default)."""

    def __init__(
        self,
        task,
        *,
        seed: int = 0,
        window: int = 20,
        configs_per_program: int | None = None,
        plan: str = "auto",
        memory_limit_bytes: int | None = None,
        compilation_cache: bool = True,
        precision: str = "highest",
        cost=None,
    ):
        super().__init__()
        self.task = task
        self.seed = int(seed)
        self.window = int(window)
        if compilation_cache:
            enable_compilation_cache()
        self.engine = LSTMEngine(
            self._fold_arrays,
            seed=self.seed,
            configs_per_program=configs_per_program,
            plan=plan,
            memory_limit_bytes=memory_limit_bytes or default_memory_limit(),
            window=self.window,
            fold_loss_scale=self._persistence_mse,
            precision=precision,
            cost=cost,
        )

    def _persistence_mse(self, window: int) -> np.ndarray:
        return np.asarray(self.task.fold_windows(window).persistence_mse, dtype=np.float64).reshape(-1)

    def _fold_arrays(self, window: int) -> FoldArrays:
        w = self.task.fold_windows(window)
        return FoldArrays(w.x_train, w.y_train, w.x_val, w.y_val)

    def validate_space(
        self, space: Space, config_epochs: float | None = None, *, first_rung_configs: int | None = None
    ) -> None:
        """Check the space and fix the run's programs from it: depth pads to the space's deepest
        config, hidden sizes share programs by the cost model given the run's expected
        ``config_epochs`` (None: a guess of 10 per shape), and a space of one activation gets it
        compiled in statically. ``Hyperband.run`` calls this with the plan's config-epochs and its
        largest rung (``first_rung_configs``: how many configs a vmapped call can expect)."""
        check_space(space)
        activation = space.dims.get("activation")
        self.engine.activations = tuple(activation.options) if activation is not None else ("tanh",)
        hiddens, batches, layers = (_choices(space.dims[k]) for k in ("hidden", "batch_size", "layers"))
        windows = _choices(space.dims["window"]) if "window" in space.dims else [self.window]
        if config_epochs is None:
            config_epochs = 10.0 * len(hiddens) * len(batches) * len(windows)
        self.engine.configure(
            hiddens=hiddens,
            batch_sizes=batches,
            windows=windows,
            layers=layers,
            config_epochs=config_epochs,
            first_rung_configs=first_rung_configs,
        )

    prepare = validate_space

    def evaluate_on_test(self, config: Mapping, resource: float, *, config_id: int = 0) -> dict:
        """Retrain ``config`` from scratch for ``resource`` epochs on the final training rows
        (train + validation span before the hold-out) and score it on the untouched test rows.
        (Retrained rather than reusing fold weights: those never saw the most recent rows.)

        Keys: ``test_skill`` = 1 - test_mse_price / persistence_test_mse_price (the headline:
        > 0 beats tomorrow = today); ``test_mse_price``, ``persistence_test_mse_price`` in the
        series' own units (``unit``: price, deg C), the prediction turned back into a value with
        each day's last value; ``test_mse``, ``persistence_test_mse`` in training units (those of
        the validation loss); ``test_skill_target`` = 1 - test_mse / persistence_test_mse;
        ``target``, ``unit``, ``n_test``, ``epochs``; ``invalid_reason``: None, or why a metric
        is NaN (a diverged model) -- never a silent NaN; ``vs_persistence_p``: the two-sided
        p-value of a Diebold-Mariano test of equal accuracy with persistence over the test days
        (``vs_persistence_statistic`` < 0: the model's errors are smaller)."""
        window = int(config.get("window", self.window))
        final = self.task.final_windows(window)
        arrays = FoldArrays(final.x_train[None], final.y_train[None], final.x_test[None], final.y_test[None])
        # one config: no sharding (a lone program on one device is the reference numerics)
        engine = LSTMEngine(
            lambda w: arrays,
            seed=self.seed,
            configs_per_program=1,
            window=window,
            plan=self.engine.plan,
            max_layers=self.engine.max_layers,
            activations=self.engine.activations,
            devices=jax.local_devices()[:1],
            precision=self.engine.precision,
            cost=self.engine.cost,
        )
        with ThreadPoolExecutor(2, thread_name_prefix="hbjax-held-out") as pool:
            # while the retrain's program compiles (XLA, mostly off the GIL): the prediction's
            # program and the Diebold-Mariano test's import (benchmarks/demo_ab.py)
            pool.submit(importlib.import_module, "scipy.stats")
            predict = pool.submit(_prediction_program, engine, config, config_id, final.x_test)
            engine.train([config_id], [config], resource, [0.0])
            prediction = predict.result()(engine.states[config_id][0])
        scores = final.score(prediction)
        values = final.to_values(prediction)
        dm_stat, dm_p = diebold_mariano((final.truth_test - values) ** 2, (final.truth_test - final.last_test) ** 2)
        return {
            "test_skill": scores["skill"],
            "test_mse_price": scores["mse_price"],
            "persistence_test_mse_price": scores["persistence_mse_price"],
            "test_mse": scores["mse"],
            "persistence_test_mse": scores["persistence_mse"],
            "test_skill_target": scores["skill_target"],
            "target": self.task.target,
            "unit": getattr(self.task, "unit", "price"),
            "n_test": int(len(final.y_test)),
            "epochs": float(resource),
            "invalid_reason": scores["invalid_reason"],
            # is the difference from persistence more than noise? (Diebold-Mariano over test days)
            "vs_persistence_statistic": dm_stat,
            "vs_persistence_p": dm_p,
        }


def _prediction_program(engine: LSTMEngine, config: Mapping, config_id: int, x: np.ndarray):
    """The held-out prediction of ``config`` on ``x``, compiled before the config is trained (its
    parameters' shapes are those of a fresh state): called with the trained params (the config's
    own layout, fold axis first, one fold), -> standardised predictions [N] (float64)."""
    params = {name: a[0] for name, a in engine.fresh_state(config, config_id)[0].items()}
    hp = Traced(*(jnp.asarray(v) for v in encode_hparams(config)))
    allowed = tuple(sorted(ACTIVATIONS.index(a) for a in set(engine.activations)))
    x = jnp.asarray(x)
    compiled = jax.jit(network.predict, static_argnums=3).lower(params, x, hp, allowed).compile()

    def predict(trained: Mapping) -> np.ndarray:
        return np.asarray(compiled({name: a[0] for name, a in trained.items()}, x, hp), dtype=np.float64)

    return predict


def _choices(dim) -> list[int]:
    """The integer values a shape dimension can take."""
    if isinstance(dim, Choice):
        return [int(v) for v in dim.options]
    return list(range(int(math.ceil(dim.low)), int(math.floor(dim.high)) + 1))
