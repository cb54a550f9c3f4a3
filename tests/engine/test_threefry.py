"""The engine's written-out threefry equals ``jax.random.bits`` bit for bit (so every dropout
mask, and every trial, is what JAX's own call gives), eagerly, jitted and vmapped over keys."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hbjax.engine import threefry

seeds = st.integers(0, 2**31 - 1)


def raw_key(seed, salt):
    return jax.random.fold_in(jax.random.PRNGKey(seed), salt)


@settings(max_examples=4, deadline=None)
@given(seed=seeds, salt=seeds, shape=st.lists(st.integers(1, 40), min_size=1, max_size=4).map(tuple))
def test_bits_equal_jax_random_bits(seed, salt, shape):
    key = raw_key(seed, salt)
    want = np.asarray(jax.random.bits(key, shape))
    assert np.array_equal(np.asarray(threefry.bits(key, shape)), want)
    assert np.array_equal(np.asarray(jax.jit(threefry.bits, static_argnums=1)(key, shape)), want)
    keys = jnp.stack([key, jax.random.fold_in(key, 1)])
    got = jax.vmap(lambda k: threefry.bits(k, shape))(keys)
    assert np.array_equal(np.asarray(got[1]), np.asarray(jax.random.bits(keys[1], shape)))


@settings(max_examples=4, deadline=None)
@given(seed=seeds, shape=st.lists(st.integers(1, 12), min_size=2, max_size=3).map(tuple), data=st.data())
def test_bits_in_another_layout_are_the_same_draw_transposed(seed, shape, data):
    """``strides`` draws the same bits laid out along permuted axes (the dropout's time-major
    layout of its unit-major draw)."""
    key = raw_key(seed, 0)
    order = data.draw(st.permutations(range(len(shape))))
    row_major = np.cumprod((1,) + shape[::-1])[:-1][::-1]
    got = threefry.bits(key, tuple(shape[a] for a in order), strides=tuple(int(row_major[a]) for a in order))
    assert np.array_equal(np.asarray(got), np.transpose(np.asarray(jax.random.bits(key, shape)), order))
