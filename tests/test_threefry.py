"""The engine's written-out threefry equals ``jax.random`` bit for bit (so every dropout mask,
shuffle and trial is what JAX's own calls give), eagerly, jitted and vmapped over keys."""
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


@settings(max_examples=10, deadline=None)
@given(seed=seeds, salt=seeds, data=st.one_of(st.integers(0, 2 ** 32 - 1), st.integers(0, 70)))
def test_fold_in_and_split_equal_jax_random(seed, salt, data):
    key = raw_key(seed, salt)
    want = np.asarray(jax.random.fold_in(key, np.uint32(data)))
    assert np.array_equal(np.asarray(threefry.fold_in(key, np.uint32(data))), want)
    if data < 2 ** 31:  # a traced int32, as a program's step counter is
        got = jax.jit(threefry.fold_in)(key, jnp.int32(data))
        assert np.array_equal(np.asarray(got), np.asarray(jax.jit(jax.random.fold_in)(key, jnp.int32(data))))
    keys = jnp.stack([key, raw_key(salt, seed)])
    got = jax.vmap(threefry.fold_in, in_axes=(0, None))(keys, np.uint32(data))
    assert np.array_equal(np.asarray(got[1]), np.asarray(jax.random.fold_in(keys[1], np.uint32(data))))
    assert np.array_equal(np.stack(threefry.split(key)), np.asarray(jax.random.split(key)))


@settings(max_examples=6, deadline=None)
@given(seed=seeds, salt=seeds, n=st.one_of(st.integers(1, 1625), st.integers(1626, 6000)))
def test_permutation_equals_jax_random_permutation(seed, salt, n):
    """Sizes up to 1,625 JAX shuffles in one sort, larger ones (a training set) in two."""
    key = raw_key(seed, salt)
    want = jax.random.permutation(key, n)
    got = threefry.permutation(key, n)
    assert got.dtype == want.dtype and np.array_equal(np.asarray(got), np.asarray(want))
    keys = jnp.stack([key, raw_key(salt, seed)])
    got = jax.jit(jax.vmap(lambda k: threefry.permutation(k, n)))(keys)
    assert np.array_equal(np.asarray(got[1]), np.asarray(jax.random.permutation(keys[1], n)))
