"""One program's pure train function and the numbers a config brings into it.

``make_train(program, ...)`` returns the function the engine compiles: it trains ``width``
configs x K walk-forward folds, each config from its own step ``start`` to its own ``stop`` (a
``fori_loop`` with traced bounds, so one program trains 1.2 epochs in rung 0 and a survivor's 2.5
more in rung 1, and a wave holds configs of different brackets' rungs). Inside, configs run one
after another (``lax.map``, CPU: each loops over its own steps) or side by side (``vmap``,
accelerators: the loop runs over the call's range ``[lo, hi)`` and a slot's update is kept only
inside its own range, so the loop bound is not batched); folds are always vmapped. Randomness of config ``c`` on fold ``k`` comes from
``fold_in(fold_in(key(seed), c), k)``.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import network, optim
from .network import ACTIVATIONS
from .plan import ProgramKey

__all__ = ["FoldArrays", "make_train", "encode_hparams", "empty_hparams", "steps_for", "config_key",
           "TRACED_DTYPES", "check_prng"]


class FoldArrays(NamedTuple):
    """Training data of one window length, stacked over K folds (float32)."""

    x_train: jax.Array  # [K, Ntr, W, F]
    y_train: jax.Array  # [K, Ntr]
    x_val: jax.Array  # [K, Nval, W, F]
    y_val: jax.Array  # [K, Nval]


def encode_hparams(config: Mapping) -> tuple:
    """A config's traced hyperparameters as numbers, in ``network.Traced`` order."""
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
    hidden, layers = int(config["hidden"]), int(config["layers"])
    if hidden < 1 or layers < 1:
        raise ValueError(f"hidden and layers must be >= 1, got {hidden} and {layers}")
    return (lr, rate, ACTIVATIONS.index(act), hidden, layers, *optim.COEFFICIENTS[opt])


TRACED_DTYPES = (np.float32, np.float32, np.int32, np.int32, np.int32, np.float32, np.float32, np.float32,
                  np.float32, np.float32)


def empty_hparams(allowed_activations: tuple[int, ...]) -> tuple:
    """The traced numbers of an empty vmap slot: zero units and learning rate, so it computes
    zeros (never a NaN) and moves nothing; its outputs are discarded."""
    return (0.0, 0.0, allowed_activations[0], 0, 1, *optim.COEFFICIENTS["adam"])


def steps_for(resource: float, steps_per_epoch: int) -> int:
    """Optimizer steps for ``resource`` epochs (rounded half up, so 1.2346 epochs of 46 steps is
    57 steps). A pure function of the resource: continuing from r1 to r2 runs exactly the steps
    between, and training to r2 in one go runs the same steps."""
    return int(math.floor(resource * steps_per_epoch + 0.5))


def config_key(seed: int, config_id: int) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(seed), config_id)


def check_prng() -> None:
    """Dropout's padding invariance needs JAX's partitionable threefry (a real unit's bits do not
    depend on the padded units after it); refuse to train without it rather than differ silently."""
    if not jax.config.jax_threefry_partitionable:
        raise RuntimeError("hbjax needs jax_threefry_partitionable=True (JAX's default since 0.5): "
                           "padded and unpadded configs would draw different dropout masks")


def make_train(program: ProgramKey, n_train: int, activations: tuple[int, ...]) -> Callable:
    """The pure train function of one program: (params, moments, traced, keys, active, starts,
    stops, data..., lo, hi, depth) for ``width`` configs x K folds -> (params, moments, val MSE
    [N, K], summed train loss of its steps [N, K]). ``starts``/``stops`` [N]: each config's optimizer steps. ``lo``,
    ``hi``, ``depth`` (vmap only): the call's first and last step over all its configs and its
    deepest config, where the step and layer loops stop."""
    batch, spe = program.batch_size, n_train // program.batch_size
    side_by_side = program.batching == "vmap"

    def loss_fn(params, xb, yb, hp, dkey, depth):
        return jnp.mean((network.predict(params, xb, hp, activations, dkey, depth) - yb) ** 2)

    def train_fold(params, moments, hp, key, start, stop, x_tr, y_tr, x_val, y_val, lo, hi, depth, fold=None):
        """One config on one fold, trained over steps [start, stop). Side by side the loops run
        over [lo, hi) and ``depth`` (not batched: a batched loop bound or branch predicate makes
        every slot run to the longest and select over the whole carry), and a step outside the
        config's own range keeps its carry (an empty slot's range is empty). ``fold=None``: the arrays are that fold's; else they
        hold every fold and this one's rows are gathered inside (configs x folds as one axis)."""
        if not side_by_side:
            lo, hi, depth = start, stop, None
        active = (depth if side_by_side else hp.layers) - 1
        shuffle_key, drop_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)

        def epoch(e, carry):
            # one shuffle per epoch; the steps of epoch e that fall inside [lo, hi)
            perm = jax.random.permutation(jax.random.fold_in(shuffle_key, e), n_train)

            def step(b, carry):
                params, moments, loss_sum = carry
                idx = jax.lax.dynamic_slice(perm, (b * batch,), (batch,))
                s = e * spe + b
                xb, yb = (x_tr[idx], y_tr[idx]) if fold is None else (x_tr[fold, idx], y_tr[fold, idx])
                loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb, hp, jax.random.fold_in(drop_key, s), depth)
                new_params, new_moments = optim.update(params, moments, grads, hp, s + 1, stacked=network.STACKED,
                                                       active=active)
                if not side_by_side:
                    return new_params, new_moments, loss_sum + loss
                inside = (s >= start) & (s < stop)  # this config's own steps
                keep = lambda new, old: jnp.where(inside, new, old)  # noqa: E731
                return (jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_moments, moments),
                        loss_sum + jnp.where(inside, loss, 0.0))

            first = jnp.clip(lo - e * spe, 0, spe)
            last = jnp.clip(hi - e * spe, 0, spe)
            return jax.lax.fori_loop(first, last, step, carry)

        carry = (params, moments, jnp.zeros((), jnp.float32))
        params, moments, loss_sum = jax.lax.fori_loop(lo // spe, (hi + spe - 1) // spe, epoch, carry)
        if fold is not None:
            x_val, y_val = x_val[fold], y_val[fold]
        val_mse = jnp.mean((network.predict(params, x_val, hp, activations, None, depth) - y_val) ** 2)
        # the sum, divided by the steps on the host: a division by a batched count inside the
        # program changed the last bit of the train loss between widths
        return params, moments, val_mse, loss_sum

    per_config = jax.vmap(train_fold, in_axes=(0, 0, None, 0, None, None, 0, 0, 0, 0, None, None, None))

    def train(params, moments, hp, keys, active, starts, stops, x_tr, y_tr, x_val, y_val, lo, hi, depth):
        if side_by_side:
            # every slot computes (an empty one holds a zero config, discarded). Configs x folds
            # are ONE vmapped axis, each slot gathering its fold's rows: a lone config is then a
            # batch of K like any other width's k*K, not a size-1 axis XLA would fuse another way
            width, n_folds = keys.shape[:2]
            merge = lambda a: a.reshape((width * n_folds, *a.shape[2:]))  # noqa: E731
            split = lambda a: a.reshape((width, n_folds, *a.shape[1:]))  # noqa: E731
            per_fold = lambda a: jnp.repeat(a, n_folds)  # noqa: E731
            slots = jax.vmap(train_fold, in_axes=(0,) * 6 + (None,) * 7 + (0,))(
                *jax.tree.map(merge, (params, moments)), jax.tree.map(per_fold, hp), merge(keys),
                per_fold(starts), per_fold(stops), x_tr, y_tr, x_val, y_val, lo, hi, depth,
                jnp.tile(jnp.arange(n_folds), width))
            return jax.tree.map(split, slots)

        def one(a):  # configs one after another, each over its own steps; an empty slot is skipped
            params, moments, hp, keys, on, start, stop = a
            nan = jnp.full(keys.shape[:1], jnp.nan, jnp.float32)
            return jax.lax.cond(on, lambda: per_config(params, moments, hp, keys, start, stop, x_tr, y_tr, x_val,
                                                       y_val, lo, hi, depth),
                                lambda: (params, moments, nan, nan))

        return jax.lax.map(one, (params, moments, hp, keys, active, starts, stops))

    return train
