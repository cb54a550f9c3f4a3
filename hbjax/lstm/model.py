"""The Flax LSTM regressor whose scalar hyperparameters are traced arrays.

Shape hyperparameters (hidden units, layers, window, batch size) are static: they fix the
program. Activation and dropout rate are traced per config, so one compiled program serves
every value (``jax.vmap`` over configs gives each config its own).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

ACTIVATIONS = ("tanh", "relu", "sigmoid")


def mixed_activation(activation_id):
    """An activation chosen by a traced index (0 tanh, 1 relu, 2 sigmoid).

    ``jnp.where`` rather than ``lax.switch``: under vmap a switch becomes a select anyway, and
    this keeps the batched and the alone program numerically identical."""

    def act(x):
        return jnp.where(activation_id == 0, jnp.tanh(x),
                         jnp.where(activation_id == 1, jax.nn.relu(x), jax.nn.sigmoid(x)))

    return act


def dropout(x, rate, key):
    """Inverted dropout with a traced rate (flax's nn.Dropout needs a Python float)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class LSTMRegressor(nn.Module):
    """``layers`` stacked LSTMs (OptimizedLSTMCell: fastest here), dropout after each, a dense head
    on the last time step. Input [batch, window, features] -> output [batch]."""

    hidden: int
    layers: int

    @nn.compact
    def __call__(self, x, activation_id=0, dropout_rate=0.0, dropout_key=None):
        act = mixed_activation(activation_id)
        for layer in range(self.layers):
            cell = nn.OptimizedLSTMCell(self.hidden, activation_fn=act, name=f"lstm_{layer}")
            x = nn.RNN(cell, name=f"rnn_{layer}")(x)
            if dropout_key is not None:
                x = dropout(x, dropout_rate, jax.random.fold_in(dropout_key, layer))
        return nn.Dense(1, name="head")(x[:, -1, :])[:, 0]
