"""JAX's partitionable threefry-2x32 written out: ``bits`` of a raw ``uint32[2]`` key, bit for
bit ``jax.random.bits`` (``jax_threefry_partitionable``, JAX's default, which
``program.check_prng`` requires).

Why: on CPU JAX lowers the threefry hash as a 5-step while loop that streams four full-size
arrays through memory per step: 10% of a 256x3 LSTM's epoch for its dropout bits, ~3x what the
same bits cost flax's dropout. Written out, the hash's 20 rounds are one elementwise fusion.
(Writing out ``fold_in`` and ``permutation`` the same way made a demo program slower to trace,
0.5 -> 0.9 s, and no faster to compile: their loops are small.) ``tests/engine/test_threefry.py``
checks ``bits`` against ``jax.random.bits`` over generated keys and shapes, eagerly, jitted and
vmapped, so a JAX that hashes differently fails a test, not a run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["bits", "hash2x32"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def hash2x32(key, high, low) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 (20 rounds) of the counter words (``high``, ``low``) under ``key``
    (uint32[2]); ``high`` and ``low`` broadcast together. -> the two output words."""
    key = jnp.asarray(key, jnp.uint32)
    k1, k2 = key[..., 0], key[..., 1]
    ks = (k1, k2, k1 ^ k2 ^ jnp.uint32(0x1BD11BDA))
    x0 = jnp.asarray(high, jnp.uint32) + k1
    x1 = jnp.asarray(low, jnp.uint32) + k2
    for step in range(5):
        for r in _ROTATIONS[step % 2]:
            x0 = x0 + x1
            x1 = (x1 << jnp.uint32(r)) | (x1 >> jnp.uint32(32 - r))
            x1 = x0 ^ x1
        x0 = x0 + ks[(step + 1) % 3]
        x1 = x1 + ks[(step + 2) % 3] + jnp.uint32(step + 1)
    return x0, x1


def bits(key, shape: tuple[int, ...], strides: tuple[int, ...] | None = None) -> jax.Array:
    """``jax.random.bits(key, shape)`` (uint32): element ``j`` (row-major) hashes the counter
    (0, j), so an element's bits depend only on its index. ``strides``: each axis's step in that
    index, for the same draw in another layout (``bits(key, (b, a), strides=(1, b))`` is
    ``bits(key, (a, b)).T``); default row-major."""
    size = int(np.prod(shape))
    if size >= 2**32:
        raise ValueError(f"bits: {size} elements need a 64-bit counter")
    if strides is None:
        strides = np.cumprod((1,) + tuple(shape[::-1]))[:-1][::-1]
    count = sum(jax.lax.broadcasted_iota(jnp.uint32, shape, d) * jnp.uint32(st) for d, st in enumerate(strides))
    x0, x1 = hash2x32(key, jnp.zeros(shape, jnp.uint32), count)
    return x0 ^ x1
