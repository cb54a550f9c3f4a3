"""One program's pure train function, for any model client.

``make_train(program, n_train, fns)`` returns the function the engine compiles: it trains
``width`` configs x K folds, each config from its own optimizer step ``start`` to its own ``stop``
(a ``fori_loop`` with traced bounds, so one program trains 1.2 epochs in rung 0 and a survivor's
2.5 more in rung 1, and a wave holds configs of different brackets' rungs). Inside, configs run
one after another (``lax.map``, CPU: each loops over its own steps) or side by side (``vmap``,
accelerators: the loop runs over the call's range ``[lo, hi)`` and a slot's update is kept only
inside its own range, so the loop bound is not batched); folds are always vmapped. Randomness of
config ``c`` on fold ``k`` comes from ``fold_in(fold_in(key(seed), c), k)``.

What a step computes comes from the model (``ProgramFns``): its loss on a batch, how its
optimizer applies the gradients, its validation loss. Everything else (epochs, shuffling, step
ranges, batching of configs and folds) is the engine's, the same for every model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .keys import ProgramKey

__all__ = [
    "FoldArrays",
    "HostStepped",
    "ProgramFns",
    "check_prng",
    "config_key",
    "make_host_steps",
    "make_train",
    "steps_for",
]


class FoldArrays(NamedTuple):
    """Training data of one data key (``Model.data``), stacked over K folds (float32):
    ``x_train`` [K, Ntr, ...], ``y_train`` [K, Ntr, ...], ``x_val`` [K, Nval, ...], ``y_val`` [K, Nval, ...]."""

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array


class ProgramFns(NamedTuple):
    """A model's part of one program (all pure, one config on one fold):

    * ``loss(params, xb, yb, traced, dropout_key, bound) -> scalar``: the training loss of a batch;
    * ``apply_gradients(params, opt_state, grads, traced, step, bound) -> (params, opt_state)``:
      optimizer step number ``step`` (1-based, traced);
    * ``val_loss(params, x_val, y_val, traced, bound) -> scalar``: lower is better.

    ``bound``: None when configs run one after another; side by side, the call's largest
    ``Model.bound`` (an unbatched loop bound: the LSTM's deepest config).

    ``loss_and_grad`` (optional, same arguments as ``loss``) -> (loss, gradient): what a step
    computes where the model has it already differentiated (a traced jaxpr); None:
    ``jax.value_and_grad(loss)``."""

    loss: Callable
    apply_gradients: Callable
    val_loss: Callable
    loss_and_grad: Callable | None = None

    def value_and_grad(self) -> Callable:
        return self.loss_and_grad if self.loss_and_grad is not None else jax.value_and_grad(self.loss)


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
        raise RuntimeError(
            "hbjax needs jax_threefry_partitionable=True (JAX's default since 0.5): "
            "padded and unpadded configs would draw different dropout masks"
        )


def make_train(program: ProgramKey, n_train: int, fns: ProgramFns) -> Callable:
    """The pure train function of one program: (params, opt_state, traced, keys, active, starts,
    stops, data..., lo, hi, bound) for ``width`` configs x K folds -> (params, opt_state, val
    loss [N, K], summed train loss of its steps [N, K]). ``starts``/``stops`` [N]: each config's
    optimizer steps. ``lo``, ``hi``, ``bound`` (vmap only): the call's first and last step over
    all its configs and its configs' largest ``Model.bound``, where the step loop and the
    model's own loops stop."""
    batch, spe = program.batch_size, n_train // program.batch_size
    side_by_side = program.batching == "vmap"

    def train_fold(params, opt_state, hp, key, start, stop, x_tr, y_tr, x_val, y_val, lo, hi, bound, fold=None):
        """One config on one fold, trained over steps [start, stop). Side by side the loops run
        over [lo, hi) and ``bound`` (not batched: a batched loop bound or branch predicate makes
        every slot run to the longest and select over the whole carry), and a step outside the
        config's own range keeps its carry (an empty slot's range is empty). ``fold=None``: the
        arrays are that fold's; else they hold every fold and this one's rows are gathered inside
        (configs x folds as one axis)."""
        if not side_by_side:
            lo, hi, bound = start, stop, None
        shuffle_key, drop_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)
        loss_and_grad = fns.value_and_grad()

        def epoch(e, carry):
            # one shuffle per epoch; the steps of epoch e that fall inside [lo, hi)
            perm = jax.random.permutation(jax.random.fold_in(shuffle_key, e), n_train)

            def step(b, carry):
                params, opt_state, loss_sum = carry
                idx = jax.lax.dynamic_slice(perm, (b * batch,), (batch,))
                s = e * spe + b
                xb, yb = (x_tr[idx], y_tr[idx]) if fold is None else (x_tr[fold, idx], y_tr[fold, idx])
                loss, grads = loss_and_grad(params, xb, yb, hp, jax.random.fold_in(drop_key, s), bound)
                new_params, new_state = fns.apply_gradients(params, opt_state, grads, hp, s + 1, bound)
                if not side_by_side:
                    return new_params, new_state, loss_sum + loss
                inside = (s >= start) & (s < stop)  # this config's own steps
                keep = lambda new, old: jnp.where(inside, new, old)
                return (
                    jax.tree.map(keep, new_params, params),
                    jax.tree.map(keep, new_state, opt_state),
                    loss_sum + jnp.where(inside, loss, 0.0),
                )

            first = jnp.clip(lo - e * spe, 0, spe)
            last = jnp.clip(hi - e * spe, 0, spe)
            return jax.lax.fori_loop(first, last, step, carry)

        carry = (params, opt_state, jnp.zeros((), jnp.float32))
        params, opt_state, loss_sum = jax.lax.fori_loop(lo // spe, (hi + spe - 1) // spe, epoch, carry)
        if fold is not None:
            x_val, y_val = x_val[fold], y_val[fold]
        val = fns.val_loss(params, x_val, y_val, hp, bound)
        # the sum, divided by the steps on the host: a division by a batched count inside the
        # program changed the last bit of the train loss between widths
        return params, opt_state, val, loss_sum

    per_config = jax.vmap(train_fold, in_axes=(0, 0, None, 0, None, None, 0, 0, 0, 0, None, None, None))

    def train(params, opt_state, hp, keys, active, starts, stops, x_tr, y_tr, x_val, y_val, lo, hi, bound):
        if side_by_side:
            # every slot computes (an empty one holds a zero config, discarded). Configs x folds
            # are ONE vmapped axis, each slot gathering its fold's rows: a lone config is then a
            # batch of K like any other width's k*K, not a size-1 axis XLA would fuse another way
            width, n_folds = keys.shape[:2]
            merge = lambda a: a.reshape((width * n_folds, *a.shape[2:]))
            split = lambda a: a.reshape((width, n_folds, *a.shape[1:]))
            per_fold = lambda a: jnp.repeat(a, n_folds)
            slots = jax.vmap(train_fold, in_axes=(0,) * 6 + (None,) * 7 + (0,))(
                *jax.tree.map(merge, (params, opt_state)),
                jax.tree.map(per_fold, hp),
                merge(keys),
                per_fold(starts),
                per_fold(stops),
                x_tr,
                y_tr,
                x_val,
                y_val,
                lo,
                hi,
                bound,
                jnp.tile(jnp.arange(n_folds), width),
            )
            return jax.tree.map(split, slots)

        def one(a):  # configs one after another, each over its own steps; an empty slot is skipped
            params, opt_state, hp, keys, on, start, stop = a
            nan = jnp.full(keys.shape[:1], jnp.nan, jnp.float32)
            return jax.lax.cond(
                on,
                lambda: per_config(params, opt_state, hp, keys, start, stop, x_tr, y_tr, x_val, y_val, lo, hi, bound),
                lambda: (params, opt_state, nan, nan),
            )

        return jax.lax.map(one, (params, opt_state, hp, keys, active, starts, stops))

    return train


class HostStepped(NamedTuple):
    """A program trained by host-driven steps: ``step`` (one optimizer step of every slot whose
    range holds it) called once per step, then ``validate``."""

    step: Callable
    validate: Callable


def make_host_steps(program: ProgramKey, n_train: int, fns: ProgramFns) -> HostStepped:
    """The two pure functions of a host-stepped program (each device holding one slot; no loop,
    ``cond`` or ``vmap`` inside, see ``Model.host_steps``): ``step(params, opt_state,
    loss_sums, traced, keys, active, starts, stops, x_train, y_train, s) -> (params, opt_state,
    loss_sums, s + 1)`` runs optimizer step ``s`` of every slot with ``start <= s < stop`` (the
    same batch, dropout key and step number as ``make_train``'s loop), and ``validate(params,
    traced, active, x_val, y_val) -> val [N, K]``."""
    if program.batching != "map":
        raise ValueError("host-driven steps are for configs one after another (batching 'map')")
    batch, spe = program.batch_size, n_train // program.batch_size

    def step_fold(params, opt_state, loss_sum, hp, key, s, x_tr, y_tr):
        shuffle_key, drop_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)
        perm = jax.random.permutation(jax.random.fold_in(shuffle_key, s // spe), n_train)
        idx = jax.lax.dynamic_slice(perm, ((s % spe) * batch,), (batch,))
        loss, grads = fns.value_and_grad()(params, x_tr[idx], y_tr[idx], hp, jax.random.fold_in(drop_key, s), None)
        params, opt_state = fns.apply_gradients(params, opt_state, grads, hp, s + 1, None)
        return params, opt_state, loss_sum + loss

    def each(fn, *trees):
        """``fn`` over the leading axis of ``trees`` as a Python loop: no ``vmap`` or ``cond``
        around the step, whose convolutions XLA CPU would again not run on its fast path."""
        n = jax.tree.leaves(trees[0])[0].shape[0] if jax.tree.leaves(trees[0]) else trees[-1].shape[0]
        outs = [fn(*jax.tree.map(lambda a: a[i], trees), i) for i in range(n)]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

    def step(params, opt_state, loss_sums, hp, keys, active, starts, stops, x_tr, y_tr, s):
        go = active & (s >= starts) & (s < stops)  # [slots]: this step is the slot's own

        def slot(params, opt_state, loss_sum, hp, keys, go, j):
            def fold(params, opt_state, loss_sum, key, k):
                new = step_fold(params, opt_state, loss_sum, hp, key, s, x_tr[k], y_tr[k])
                return jax.tree.map(lambda n, o: jnp.where(go, n, o), new, (params, opt_state, loss_sum))

            return each(fold, params, opt_state, loss_sum, keys)

        params, opt_state, loss_sums = each(slot, params, opt_state, loss_sums, hp, keys, go)
        return params, opt_state, loss_sums, s + 1

    def validate(params, hp, active, x_val, y_val):
        def slot(params, hp, on, j):
            def fold(params, k):
                val = jnp.asarray(fns.val_loss(params, x_val[k], y_val[k], hp, None), jnp.float32)
                return jnp.where(on, val, jnp.nan)

            return each(fold, params)

        return each(slot, params, hp, active)

    return HostStepped(step, validate)
