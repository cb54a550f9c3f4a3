"""The engine's written-out threefry equals ``jax.random.bits`` bit for bit (so every dropout
mask, and every trial, is what JAX's own call gives), eagerly, jitted and vmapped over keys."""
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hbjax.engine import threefry

seeds = st.integers(0, 2 ** 31 - 1)


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
