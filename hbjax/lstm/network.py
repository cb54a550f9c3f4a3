"""The LSTM regressor as pure functions over a padded parameter layout.

One config's parameters (per walk-forward fold) are a dict of arrays whose hidden axes may be
padded to a program's bucket ``Hp >= hidden`` and whose stacked deeper layers may be padded to
``Lp >= layers``. Padding is exact:

* padded hidden units are masked: ``c`` and ``h`` are multiplied by a 0/1 unit mask every step
  (zero weights alone are not enough: sigmoid(0) = 0.5 would leak into ``c``), so every gradient
  touching a padded weight is exactly 0 and no optimizer ever moves it;
* an inactive layer (index >= the config's depth) passes its input through unchanged
  (``lax.cond``: skipped outright when configs run one after another, a select under ``vmap``);
  its weights get exactly zero gradient;
* dropout draws one random stream per hidden unit (``fold_in(key, unit)``), so a real unit's mask
  does not depend on how many padded units sit beside it.

The cell is flax's ``OptimizedLSTMCell`` (gates i, f, g, o; bias on the recurrent side; the
activation applies to g and to the cell output) with each layer's input projection hoisted out of
the time scan: one matmul over all time steps, as cuDNN does. ``tests/test_lstm_network.py``
checks it against ``flax.linen`` to float rounding.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid")

#: leaf name -> (axis of stacked deeper layers or None, hidden axes), for one fold (no leading K)
LAYOUT = {
    "in0": (None, (2,)),          # [F, 4, H]   first layer input kernel
    "rec0": (None, (0, 2)),       # [H, 4, H]   first layer recurrent kernel
    "b0": (None, (1,)),           # [4, H]
    "in": (0, (1, 3)),            # [L-1, H, 4, H] deeper layers' input kernels
    "rec": (0, (1, 3)),           # [L-1, H, 4, H]
    "b": (0, (2,)),               # [L-1, 4, H]
    "out": (None, (0,)),          # [H]          dense head on the last time step
    "out_b": (None, ()),          # []
}


class Traced(NamedTuple):
    """A config's traced hyperparameters inside a program (scalars, or [N] across configs)."""

    learning_rate: jax.Array
    dropout: jax.Array
    activation: jax.Array  # index into ACTIVATIONS
    hidden: jax.Array  # real units (<= the program's Hp)
    layers: jax.Array  # real depth (<= the program's Lp)
    beta1: jax.Array  # optimizer coefficients (see optim.py)
    beta2: jax.Array
    bias_correction: jax.Array
    eps_inside: jax.Array
    eps_outside: jax.Array


def activation_fn(activation_id, allowed: tuple[int, ...]):
    """The activation picked by a traced index; a program whose configs can only use one
    activation gets it statically (nothing else computed)."""
    fns = (jnp.tanh, jax.nn.relu, jax.nn.sigmoid)
    if len(allowed) == 1:
        return fns[allowed[0]]

    def act(x):
        out = fns[allowed[-1]](x)
        for a in reversed(allowed[:-1]):
            out = jnp.where(activation_id == a, fns[a](x), out)
        return out

    return act


def lstm_layer(x, w_in, w_rec, bias, unit_mask, act):
    """x [B, T, I] -> hidden states [B, T, H]; the input projection of all T steps is one matmul."""
    b, t, _ = x.shape
    h_units = w_rec.shape[0]
    projected = (x.reshape(b * t, -1) @ w_in.reshape(w_in.shape[0], -1)).reshape(b, t, 4, h_units) + bias
    rec = w_rec.reshape(h_units, 4 * h_units)

    def step(carry, z_in):
        h, c = carry
        z = z_in + (h @ rec).reshape(b, 4, h_units)
        i, f, o = jax.nn.sigmoid(z[:, 0]), jax.nn.sigmoid(z[:, 1]), jax.nn.sigmoid(z[:, 3])
        c = (f * c + i * act(z[:, 2])) * unit_mask
        h = o * act(c) * unit_mask
        return (h, c), h

    zeros = jnp.zeros((b, h_units), x.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(projected, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


def dropout(x, rate, key):
    """Inverted dropout of x [B, T, H] with one random stream per unit (padding-invariant)."""
    b, t, h_units = x.shape
    u = jax.vmap(lambda j: jax.random.uniform(jax.random.fold_in(key, j), (b, t)))(jnp.arange(h_units))
    keep = jnp.moveaxis(u, 0, -1) >= rate
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def predict(params: Mapping, x, hp: Traced, allowed_activations: tuple[int, ...], dropout_key=None):
    """x [B, T, F] -> predictions [B]. ``dropout_key=None``: evaluation (no dropout)."""
    act = activation_fn(hp.activation, allowed_activations)
    unit_mask = (jnp.arange(params["rec0"].shape[0]) < hp.hidden).astype(x.dtype)

    def maybe_drop(h, layer):
        if dropout_key is None:
            return h
        return dropout(h, hp.dropout, jax.random.fold_in(dropout_key, layer))

    h = maybe_drop(lstm_layer(x, params["in0"], params["rec0"], params["b0"], unit_mask, act), 0)

    def deeper(h, layer_params):
        w_in, w_rec, bias, layer = layer_params
        h = jax.lax.cond(layer < hp.layers,
                         lambda h: maybe_drop(lstm_layer(h, w_in, w_rec, bias, unit_mask, act), layer),
                         lambda h: h, h)
        return h, None

    n_deeper = params["in"].shape[0]
    if n_deeper:
        h, _ = jax.lax.scan(deeper, h, (params["in"], params["rec"], params["b"], jnp.arange(1, n_deeper + 1)))
    return h[:, -1, :] @ params["out"] + params["out_b"]


# --- layout: padding and unpadding (NumPy, exact) ------------------------------------------------

def pad_params(params: Mapping, hidden: int, layers: int) -> dict:
    """Zero-pad a (leading-axis-free or fold-stacked) params dict to ``hidden`` units and ``layers``
    layers. Works on any tree with these leaf names, e.g. optimizer moments too."""
    return {name: _resize(np.asarray(a), name, hidden, layers) for name, a in params.items()}


def unpad_params(params: Mapping, hidden: int, layers: int) -> dict:
    """The real block of a padded params dict (the inverse of :func:`pad_params`)."""
    return {name: _resize(np.asarray(a), name, hidden, layers) for name, a in params.items()}


def _resize(a: np.ndarray, name: str, hidden: int, layers: int) -> np.ndarray:
    layer_axis, hidden_axes = LAYOUT[name]
    lead = a.ndim - _rank(name)  # fold (and config) axes in front
    target = list(a.shape)
    if layer_axis is not None:
        target[lead + layer_axis] = layers - 1
    for ax in hidden_axes:
        target[lead + ax] = hidden
    if target == list(a.shape):
        return a
    sliced = a[tuple(slice(0, min(s, t)) for s, t in zip(a.shape, target))]
    pads = [(0, t - s) for s, t in zip(sliced.shape, target)]
    return np.pad(sliced, pads) if any(p for _, p in pads) else np.ascontiguousarray(sliced)


def _rank(name: str) -> int:
    return {"in0": 3, "rec0": 3, "b0": 2, "in": 4, "rec": 4, "b": 3, "out": 1, "out_b": 0}[name]


def real_shape(params: Mapping) -> tuple[int, int]:
    """(hidden, layers) of an unpadded params dict."""
    return params["rec0"].shape[-3], params["in"].shape[-4] + 1
