"""``hbjax.nn.Dropout``: flax's dropout, also for a traced rate."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbjax.nn import Dropout

X = jnp.asarray(np.random.default_rng(0).normal(size=(8, 33)).astype(np.float32))
RNG = {"dropout": jax.random.PRNGKey(7)}


def _apply(layer, x=X, rate=None, train=True):
    return layer.apply({}, x, deterministic=not train, rngs=RNG)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.0, 1.0), broadcast=st.sampled_from([(), (0,), (1,)]))
def test_a_python_rate_is_flax_bit_for_bit(rate, broadcast):
    ours = _apply(Dropout(rate, broadcast_dims=broadcast))
    theirs = _apply(nn.Dropout(rate, broadcast_dims=broadcast))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.75])
def test_a_traced_rate_draws_flax_s_mask(rate):
    """Under jit with the rate as an array (as ``hparams`` gives it): the same mask and scale as
    flax's layer with the Python rate (rates whose 1 - rate is exact in float32)."""
    traced = jax.jit(lambda r: Dropout(r).apply({}, X, deterministic=False, rngs=RNG))(jnp.float32(rate))
    np.testing.assert_array_equal(traced, _apply(nn.Dropout(rate)))


def test_traced_rate_zero_is_exact_and_one_drops_everything_without_nan_gradients():
    f = jax.jit(lambda r, x: Dropout(r).apply({}, x, deterministic=False, rngs=RNG))
    np.testing.assert_array_equal(f(jnp.float32(0.0), X), X)
    np.testing.assert_array_equal(f(jnp.float32(1.0), X), jnp.zeros_like(X))
    grad = jax.grad(lambda x: f(jnp.float32(1.0), x).sum())(X)
    assert np.all(np.isfinite(grad)) and not np.any(grad)


def test_deterministic_returns_the_inputs():
    np.testing.assert_array_equal(_apply(Dropout(jnp.float32(0.4)), train=False), X)
