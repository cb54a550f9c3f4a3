"""One optimizer program for adam, rmsprop and sgd, chosen by a traced index per config.

All three optax transforms are updated every step and the chosen update is selected, so the
optimizer is a traced hyperparameter (no extra compile per optimizer) and a config's numbers are
the same whether it trains alone or batched with configs using other optimizers."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def _transforms(learning_rate):
    return (optax.adam(learning_rate), optax.rmsprop(learning_rate), optax.sgd(learning_rate))


def init(params):
    """Optimizer state for all three (learning rate does not enter the state)."""
    return tuple(t.init(params) for t in _transforms(1.0))


def update(grads, state, params, learning_rate, optimizer_id):
    """-> (new params, new state). ``learning_rate`` and ``optimizer_id`` may be traced."""
    outs = [t.update(grads, s, params) for t, s in zip(_transforms(learning_rate), state)]
    updates = jax.tree.map(
        lambda a, r, s: jnp.where(optimizer_id == 0, a, jnp.where(optimizer_id == 1, r, s)),
        *(u for u, _ in outs),
    )
    return optax.apply_updates(params, updates), tuple(s for _, s in outs)
