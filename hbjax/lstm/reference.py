"""The reference Flax LSTM regressor (``flax.linen``, ``OptimizedLSTMCell``).

The engine trains ``network.predict``, the same model written over a padded parameter layout
(masked units, traced depth, hoisted input projections); ``tests/lstm/test_lstm_network.py`` checks
that both give the same predictions. ``to_network_params`` converts this model's params.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def mixed_activation(activation_id):
    """An activation chosen by a traced index (0 tanh, 1 relu, 2 sigmoid).

    ``jnp.where`` rather than ``lax.switch``: under vmap a switch becomes a select anyway, and
    this keeps the batched and the alone program numerically identical."""

    def act(x):
        return jnp.where(
            activation_id == 0, jnp.tanh(x), jnp.where(activation_id == 1, jax.nn.relu(x), jax.nn.sigmoid(x))
        )

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


def to_network_params(flax_params, layers: int) -> dict:
    """``LSTMRegressor.init(...)["params"]`` -> the layout of ``network.LAYOUT`` (unpadded)."""
    import numpy as np

    def layer(k):
        cell = flax_params[f"lstm_{k}"]
        w_in = np.stack([np.asarray(cell[f"i{g}"]["kernel"]) for g in "ifgo"], axis=1)
        w_rec = np.stack([np.asarray(cell[f"h{g}"]["kernel"]) for g in "ifgo"], axis=1)
        bias = np.stack([np.asarray(cell[f"h{g}"]["bias"]) for g in "ifgo"])
        return w_in, w_rec, bias

    first = layer(0)
    deeper = [layer(k) for k in range(1, layers)]
    h = first[1].shape[0]
    stack = lambda i, shape: np.stack([d[i] for d in deeper]) if deeper else np.zeros(shape, np.float32)
    return {
        "in0": first[0],
        "rec0": first[1],
        "b0": first[2],
        "in": stack(0, (0, h, 4, h)),
        "rec": stack(1, (0, h, 4, h)),
        "b": stack(2, (0, 4, h)),
        "out": np.asarray(flax_params["head"]["kernel"])[:, 0],
        "out_b": np.asarray(flax_params["head"]["bias"])[0],
    }
