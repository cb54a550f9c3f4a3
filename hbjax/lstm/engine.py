"""Train a whole rung of LSTM configs as jit(vmap(vmap(train))) programs, continuing survivors.

One program per static shape (see ``grouping``): ``vmap`` over configs (their hyperparameters
and weights) and, inside, over walk-forward folds (their data and weights). Steps are a
``fori_loop`` with traced bounds, so the same compiled program trains 1.2 epochs in rung 0 and
the 2.5 extra epochs of a survivor in rung 1. Randomness of config ``c`` on fold ``k`` comes
from ``fold_in(fold_in(key(seed), c), k)``: a config's numbers do not depend on its batch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from . import optim
from .init import init_params
from .grouping import ShapeKey, bytes_per_config, chunk, group_by_shape
from .model import ACTIVATIONS, LSTMRegressor

__all__ = ["FoldArrays", "LSTMEngine", "steps_for", "config_key"]


class FoldArrays(NamedTuple):
    """Training data of one window length, stacked over K folds (float32)."""

    x_train: jax.Array  # [K, Ntr, W, F]
    y_train: jax.Array  # [K, Ntr]
    x_val: jax.Array  # [K, Nval, W, F]
    y_val: jax.Array  # [K, Nval]


class HParams(NamedTuple):
    learning_rate: jax.Array
    dropout: jax.Array
    activation: jax.Array
    optimizer: jax.Array


def encode_hparams(config: Mapping) -> tuple:
    """A config's traced hyperparameters as numbers (names -> indices)."""
    act = config.get("activation", "tanh")
    opt = config.get("optimizer", "adam")
    if act not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {act!r}")
    if opt not in optim.OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {optim.OPTIMIZERS}, got {opt!r}")
    lr = float(config["lr"])
    rate = float(config.get("dropout", 0.0))
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {config['lr']!r}")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {rate!r}")
    return lr, rate, ACTIVATIONS.index(act), optim.OPTIMIZERS.index(opt)


def steps_for(resource: float, steps_per_epoch: int) -> int:
    """Optimizer steps for ``resource`` epochs (rounded half up, so 1.2346 epochs of 46 steps is
    57 steps). A pure function of the resource: continuing from r1 to r2 runs exactly the steps
    between, and training to r2 in one go runs the same steps."""
    return int(math.floor(resource * steps_per_epoch + 0.5))


def config_key(seed: int, config_id: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), config_id)


@dataclass
class _Program:
    train: Callable
    steps_per_epoch: int


@dataclass
class LSTMEngine:
    """Holds the compiled programs (one per shape) and the trained state of every live config.

    ``fold_arrays(window) -> FoldArrays`` supplies data; ``configs_per_program(key, n)`` decides
    chunk widths (the results never depend on it)."""

    fold_arrays: Callable[[int], FoldArrays]
    seed: int = 0
    configs_per_program: Callable[[ShapeKey, int], int] | int | None = None
    memory_limit_bytes: int | None = None
    default_window: int = 20
    devices: Sequence | None = None  # the config axis is sharded over these (default: all local devices)
    traces: int = 0  # number of times a train program was traced (= compiled)
    states: dict = field(default_factory=dict)  # config_id -> (params, opt_state), leading axis K
    _programs: dict = field(default_factory=dict)
    _data: dict = field(default_factory=dict)
    timings: list = field(default_factory=list)

    # --- devices, data and programs -----------------------------------------------------
    def __post_init__(self):
        # A 1-D mesh over the devices when there are several: configs are split across them
        # (GSPMD partitions the vmapped program; each config's numbers stay those of a lone run).
        devices = list(self.devices) if self.devices is not None else jax.local_devices()
        self.mesh = Mesh(np.array(devices), ("configs",)) if len(devices) > 1 else None

    @property
    def n_devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    def _place(self, tree, spec):
        if self.mesh is None:
            return tree
        return jax.device_put(tree, NamedSharding(self.mesh, spec))

    def data(self, window: int) -> FoldArrays:
        if window not in self._data:
            arrays = self.fold_arrays(window)
            arrays = FoldArrays(*(jnp.asarray(a, dtype=jnp.float32) for a in arrays))
            self._data[window] = self._place(arrays, P())  # replicated on every device
        return self._data[window]

    def program(self, key: ShapeKey) -> _Program:
        if key not in self._programs:
            self._programs[key] = self._build(key)
        return self._programs[key]

    def _build(self, key: ShapeKey) -> _Program:
        data = self.data(key.window)
        n_train = data.x_train.shape[1]
        if n_train < key.batch_size:
            raise ValueError(f"batch_size {key.batch_size} exceeds the {n_train} training windows of a fold")
        spe = n_train // key.batch_size  # the last partial batch is dropped; each epoch reshuffles
        model = LSTMRegressor(key.hidden, key.layers)
        batch = key.batch_size

        def loss_fn(params, xb, yb, hp: HParams, dkey):
            pred = model.apply({"params": params}, xb, hp.activation, hp.dropout, dkey)
            return jnp.mean((pred - yb) ** 2)

        def train_one(params, opt_state, hp, ckey, x_tr, y_tr, x_val, y_val, start, stop):
            shuffle_key, drop_key = jax.random.fold_in(ckey, 1), jax.random.fold_in(ckey, 2)

            def epoch(e, carry):
                # one shuffle per epoch (not per step); the steps of epoch e inside [start, stop)
                perm = jax.random.permutation(jax.random.fold_in(shuffle_key, e), n_train)

                def step(b, carry):
                    params, opt_state, loss_sum = carry
                    idx = jax.lax.dynamic_slice(perm, (b * batch,), (batch,))
                    loss, grads = jax.value_and_grad(loss_fn)(params, x_tr[idx], y_tr[idx], hp,
                                                              jax.random.fold_in(drop_key, e * spe + b))
                    params, opt_state = optim.update(grads, opt_state, params, hp.learning_rate, hp.optimizer)
                    return params, opt_state, loss_sum + loss

                first = jnp.clip(start - e * spe, 0, spe)
                last = jnp.clip(stop - e * spe, 0, spe)
                return jax.lax.fori_loop(first, last, step, carry)

            carry = (params, opt_state, jnp.zeros((), jnp.float32))
            params, opt_state, loss_sum = jax.lax.fori_loop(start // spe, (stop + spe - 1) // spe, epoch, carry)
            pred = model.apply({"params": params}, x_val, hp.activation)
            val_mse = jnp.mean((pred - y_val) ** 2)
            return params, opt_state, val_mse, loss_sum / jnp.maximum(stop - start, 1)

        per_fold = jax.vmap(train_one, in_axes=(0, 0, None, 0, 0, 0, 0, 0, None, None))
        per_config = jax.vmap(per_fold, in_axes=(0, 0, 0, 0, None, None, None, None, None, None))

        def traced(*args):
            self.traces += 1  # runs at trace time only: counts compiles
            return per_config(*args)

        return _Program(jax.jit(traced), spe)

    # --- states --------------------------------------------------------------------------
    def _fresh_state(self, key: ShapeKey, config_id: int):
        data = self.data(key.window)
        n_folds, n_features = data.x_train.shape[0], data.x_train.shape[-1]
        params = [init_params(key, n_features, np.random.default_rng([self.seed, config_id, k]))
                  for k in range(n_folds)]
        params = jax.tree.map(lambda *xs: jnp.asarray(np.stack(xs)), *params)
        return params, jax.vmap(optim.init)(params)

    def release(self, config_ids: Sequence[int]) -> None:
        for cid in config_ids:
            self.states.pop(cid, None)

    def width_for(self, key: ShapeKey, n: int) -> int:
        choice = self.configs_per_program
        if choice is None:
            width = default_width(key)
        elif callable(choice):
            width = int(choice(key, n))
        else:
            width = int(choice)
        if self.memory_limit_bytes is not None:
            data = self.data(key.window)
            per = bytes_per_config(key, data.x_train.shape[-1], data.x_train.shape[0],
                                   data.x_train.shape[1], data.x_val.shape[1])
            width = min(width, max(1, self.memory_limit_bytes // per))
        return max(1, min(width, n))

    def chunks(self, key: ShapeKey, positions: Sequence[int]) -> list[tuple[list[int], int]]:
        """How a group's configs are split into programs: (positions, slots it runs at). Slots are a
        power of two (few compiles) and a multiple of the device count; on one CPU a short chunk is
        split rather than padded, since an idle slot there costs a config's full compute."""
        pad = jax.default_backend() != "cpu" or self.mesh is not None
        out = []
        for part, size in chunk(positions, self.width_for(key, len(positions)), pad=pad):
            out.append((part, -(-size // self.n_devices) * self.n_devices))
        return out

    # --- training ------------------------------------------------------------------------
    def train(self, config_ids: Sequence[int], configs: Sequence[Mapping], resource: float,
              previous_resource: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Train each config from ``previous_resource`` to ``resource`` epochs (new configs start
        fresh, others continue from their stored state). Returns (val MSE mean over folds,
        train loss mean over folds) per config; NaN where a config diverged."""
        n = len(config_ids)
        val = np.full(n, np.nan)
        train_loss = np.full(n, np.nan)
        hps = [encode_hparams(c) for c in configs]
        launched = []
        for key, positions in group_by_shape(configs, self.default_window).items():
            prog = self.program(key)
            data = self.data(key.window)
            by_start: dict[int, list[int]] = {}
            for p in positions:
                by_start.setdefault(steps_for(previous_resource[p], prog.steps_per_epoch), []).append(p)
            stop = steps_for(resource, prog.steps_per_epoch)
            for start, group in sorted(by_start.items()):
                for part, padded in self.chunks(key, group):
                    launched.append(self._launch(key, prog, data, part, padded, config_ids, hps, start, stop))
        for part, ids, outputs, t0 in launched:  # launched asynchronously; now wait and collect
            params, opt_state, val_mse, tr = outputs
            val_mse, tr = np.asarray(val_mse, dtype=np.float64), np.asarray(tr, dtype=np.float64)
            if self.mesh is not None:  # gather: per-config slices of a sharded array live on one device each
                params, opt_state = jax.tree.map(np.asarray, (params, opt_state))
            for j, (p, cid) in enumerate(zip(part, ids)):
                self.states[cid] = jax.tree.map(lambda a: a[j], (params, opt_state))
                val[p] = val_mse[j].mean()
                train_loss[p] = tr[j].mean()
            self.timings.append((len(part), time.perf_counter() - t0))
        return val, train_loss

    def _launch(self, key, prog, data, part, padded, config_ids, hps, start, stop):
        t0 = time.perf_counter()
        ids = [config_ids[p] for p in part]
        slots = part + [part[0]] * (padded - len(part))  # padding repeats a real config
        states = []
        for p in slots:
            cid = config_ids[p]
            if start == 0 or cid not in self.states:
                if start != 0:
                    raise RuntimeError(f"config {cid} has no trained state to continue from")
                states.append(self._fresh_state(key, cid))
            else:
                states.append(self.states[cid])
        params, opt_state = jax.tree.map(lambda *xs: np.stack(xs) if self.mesh is not None else jnp.stack(xs), *states)
        hp = HParams(*(jnp.asarray(col, dtype=dt) for col, dt in
                       zip(zip(*(hps[p] for p in slots)), (jnp.float32, jnp.float32, jnp.int32, jnp.int32))))
        n_folds = data.x_train.shape[0]
        ckeys = jnp.stack([jax.vmap(lambda k, c=config_key(self.seed, config_ids[p]): jax.random.fold_in(c, k))(
            jnp.arange(n_folds)) for p in slots])
        params, opt_state, hp, ckeys = self._place((params, opt_state, hp, ckeys), P("configs"))
        outputs = prog.train(params, opt_state, hp, ckeys, data.x_train, data.y_train, data.x_val, data.y_val,
                             jnp.int32(start), jnp.int32(stop))
        return part, ids, outputs, t0


def default_width(key: ShapeKey) -> int:
    """Configs per program by device. On a GPU/TPU the config axis is what fills the device: go wide
    (the memory limit caps it). On the 2-core development CPU, one epoch of 8 configs (NVDA fold,
    window 20), width 1 vs 8: H16/B16 0.87 vs 0.89 s, H64/B64 1.82 vs 1.95 s, H128/B32 6.68 vs 5.73 s,
    H32/B128 1.10 vs 0.96 s: within ~7% of one-at-a-time or better, so CPU uses 8 as well."""
    if jax.default_backend() != "cpu":
        return 256
    return 8
