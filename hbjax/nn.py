"""Layers for models whose hyperparameters are traced (arrays inside a shared program).

flax's ``nn.Dropout`` tests ``rate == 0.0`` in Python, so a rate that is an array (a traced
hyperparameter, ``hparams["dropout"]``) fails there. ``Dropout`` here takes a Python number or an
array, with flax's semantics and its ``"dropout"`` RNG stream: for a Python rate it is flax's
layer bit for bit; an array rate draws the same mask (``bernoulli(rng, 1 - rate)``), so rate 0
returns the inputs exactly and rate 1 returns zeros with zero gradients.

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False, hparams=None):
            x = nn.relu(nn.Dense(64)(x))
            x = hbjax.nn.Dropout(rate=hparams["dropout"], deterministic=not train)(x)
            return nn.Dense(1)(x)[..., 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["Dropout"]


class Dropout(nn.Module):
    """``flax.linen.Dropout`` that also takes a traced (array) ``rate``."""

    rate: Any
    broadcast_dims: Sequence[int] = ()
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, inputs, deterministic: bool | None = None, rng=None):
        deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
        if deterministic:
            return inputs
        python_rate = isinstance(self.rate, (int, float))
        if python_rate and self.rate in (0.0, 1.0):  # flax's own shortcuts
            return inputs if self.rate == 0.0 else jnp.zeros_like(inputs)
        keep_prob = 1.0 - (self.rate if python_rate else jnp.asarray(self.rate, jnp.float32))
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        broadcast_shape = list(inputs.shape)
        for dim in self.broadcast_dims:
            broadcast_shape[dim] = 1
        mask = jax.random.bernoulli(rng, p=keep_prob, shape=broadcast_shape)
        mask = jnp.broadcast_to(mask, inputs.shape)
        if not python_rate:  # rate 1 as an array: every unit dropped, and no 0/0 in the gradient
            keep_prob = jnp.where(keep_prob > 0, keep_prob, 1.0).astype(inputs.dtype)
        return lax.select(mask, inputs / keep_prob, jnp.zeros_like(inputs))
