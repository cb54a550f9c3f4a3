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
* dropout bits are drawn unit-major, so a real unit's mask does not depend on how many padded
  units follow it.

The cell is flax's ``OptimizedLSTMCell`` (gates i, f, g, o; bias on the recurrent side; the
activation applies to g and to the cell output) with each layer's input projection hoisted out of
the time scan and a hand-written backward pass (weight gradients as matmuls over all steps at
once, as cuDNN does). ``tests/lstm/test_lstm_network.py`` checks predictions and gradients against
``flax.linen`` to float rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..engine import threefry

ACTIVATIONS = ("tanh", "relu", "sigmoid")

#: leaf name -> (rank, axis of stacked deeper layers or None, hidden axes), for one fold
LAYOUT = {
    "in0": (3, None, (2,)),  # [F, 4, H]   first layer input kernel
    "rec0": (3, None, (0, 2)),  # [H, 4, H]   first layer recurrent kernel
    "b0": (2, None, (1,)),  # [4, H]
    "in": (4, 0, (1, 3)),  # [L-1, H, 4, H] deeper layers' input kernels
    "rec": (4, 0, (1, 3)),  # [L-1, H, 4, H]
    "b": (3, 0, (2,)),  # [L-1, 4, H]
    "out": (1, None, (0,)),  # [H]          dense head on the last time step
    "out_b": (0, None, ()),  # []
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


_ACTIVATION_FNS = (
    (jnp.tanh, lambda y: 1.0 - y * y),
    (jax.nn.relu, lambda y: (y > 0).astype(y.dtype)),
    (jax.nn.sigmoid, lambda y: y * (1.0 - y)),
)


class Activations(NamedTuple):
    """The activations a layer's configs may use (indices into ACTIVATIONS) and how one is picked:
    ``switch`` when configs run one after another (the index is one scalar), else computed all
    and selected (side by side under ``vmap``, where a switch would become a select anyway)."""

    allowed: tuple[int, ...]
    switch: bool


def by_activation(activation_id, activations: Activations, fn):
    """``fn(act, act_grad, *args)`` for the activation picked by a traced index (``act_grad`` in
    terms of the activation's OUTPUT, so the backward pass needs no pre-activations). A program
    whose configs can only use one activation gets it statically. One after another, a
    ``lax.switch`` runs only the config's activation (faster than computing every allowed one:
    benchmarks/lstm_program.py), with the select's floats bit for bit. Side by side every
    allowed activation is computed and selected: JAX would turn the switch into a select of
    whole branches, which XLA CPU rounds differently in the last bit (its ``tanh`` rounds by the
    code around it)."""
    allowed = activations.allowed
    if len(allowed) == 1:
        return partial(fn, *_ACTIVATION_FNS[allowed[0]])
    if activations.switch:
        index = jnp.select([activation_id == a for a in allowed[:-1]], list(range(len(allowed) - 1)), len(allowed) - 1)
        branches = [partial(fn, *_ACTIVATION_FNS[a]) for a in allowed]
        return lambda *args: jax.lax.switch(index, branches, *args)

    def pick(k):
        def f(x):
            out = _ACTIVATION_FNS[allowed[-1]][k](x)
            for a in reversed(allowed[:-1]):
                out = jnp.where(activation_id == a, _ACTIVATION_FNS[a][k](x), out)
            return out

        return f

    return partial(fn, pick(0), pick(1))


def scan_time(step, init, xs, reverse: bool = False):
    """``jax.lax.scan(step, init, xs, reverse=reverse)`` over time-major ``xs`` (a tuple), with each
    step's inputs read and outputs written by index inside the loop. Under ``vmap`` (the folds,
    the configs side by side) ``lax.scan`` moves the mapped axis of its inputs and outputs behind
    the time axis, a transposed copy of each per call; read and written by index, they keep the
    mapped axis first and nothing is copied (the same floats: only where they are stored differs)."""
    length = xs[0].shape[0]
    outs = jax.eval_shape(step, init, tuple(x[0] for x in xs))[1]
    buffers = tuple(jnp.zeros((length,) + o.shape, o.dtype) for o in outs)

    def body(i, state):
        carry, buffers = state
        t = length - 1 - i if reverse else i
        carry, ys = step(carry, tuple(jax.lax.dynamic_index_in_dim(x, t, 0, keepdims=False) for x in xs))
        return carry, tuple(jax.lax.dynamic_update_index_in_dim(buf, y, t, 0) for buf, y in zip(buffers, ys))

    return jax.lax.fori_loop(0, length, body, (init, buffers))


@partial(jax.custom_vjp, nondiff_argnums=(6,))
def lstm_layer(x, w_in, w_rec, bias, unit_mask, activation_id, activations):
    """x [T, B, I] -> hidden states [T, B, H], time-major (as the scan runs: no transposes between
    layers, ~5% of a 256x3 epoch). The input projection of all T steps is one matmul;
    the backward pass (below) runs only dh, dc through the time steps and forms the weight
    gradients as three matmuls over all steps afterwards, as cuDNN does."""
    return _layer_forward(x, w_in, w_rec, bias, unit_mask, activation_id, activations)[0]


def _layer_forward(x, w_in, w_rec, bias, unit_mask, activation_id, activations):
    t, b, _ = x.shape
    n = w_rec.shape[0]

    def cell_with(act, _, z, sig, c):
        g = act(z[:, 2 * n : 3 * n])
        i, f, o = sig[:, :n], sig[:, n : 2 * n], sig[:, 3 * n :]
        c = (f * c + i * g) * unit_mask
        return o * act(c) * unit_mask, c, g

    cell = by_activation(activation_id, activations, cell_with)
    projected = ((x.reshape(t * b, -1) @ w_in.reshape(w_in.shape[0], -1)).reshape(t, b, 4, n) + bias).reshape(
        t, b, 4 * n
    )
    rec = w_rec.reshape(n, 4 * n)

    def step(carry, inputs):
        (z_in,) = inputs
        # gates stay one [B, 4H] array (sigmoid over all four blocks, the activation over g's):
        # stacking four [B, H] gate arrays made XLA CPU emit a concatenate fusion per step here
        # and in the backward pass (together ~1/5 of the step's recurrent matmuls at 256 units,
        # profiled); an element's sigmoid is the same either way
        h, c = carry
        z = z_in + h @ rec
        sig = jax.nn.sigmoid(z)
        h, c, g = cell(z, sig, c)
        return (h, c), (h, c, sig, g)

    zeros = jnp.zeros((b, n), x.dtype)
    _, (hs, cs, sigs, gs) = scan_time(step, (zeros, zeros), (projected,))
    return hs, (hs, cs, sigs, gs)  # saved: [T, B, H] x2, [T, B, 4H], [T, B, H]


def _layer_fwd(x, w_in, w_rec, bias, unit_mask, activation_id, activations):
    out, saved = _layer_forward(x, w_in, w_rec, bias, unit_mask, activation_id, activations)
    return out, (x, w_in, w_rec, unit_mask, activation_id, saved)


def _layer_bwd(activations, residuals, d_out):
    x, w_in, w_rec, unit_mask, activation_id, (hs, cs, sigs, gs) = residuals
    t, b, n_in = x.shape
    n = w_rec.shape[0]

    def derivatives_with(act, act_grad, c, g):
        a = act(c)
        return a, act_grad(a), act_grad(g)

    derivatives = by_activation(activation_id, activations, derivatives_with)
    rec_t = jax.lax.optimization_barrier(w_rec.reshape(n, 4 * n).T)  # materialised once
    zeros = jnp.zeros((1, b, n), x.dtype)
    c_prev = jnp.concatenate([zeros, cs[:-1]])

    def step(carry, inputs):
        dh_next, dc_next = carry
        dh_out, c, c_before, sig, g = inputs
        i, f, o = sig[:, :n], sig[:, n : 2 * n], sig[:, 3 * n :]
        a, da, dg = derivatives(c, g)
        dh = (dh_out + dh_next) * unit_mask
        dc = (dc_next + dh * o * da) * unit_mask
        # concatenated along the last axis (a plain copy; stacking on a new axis 1 fused slowly)
        dz = jnp.concatenate(
            [dc * g * i * (1.0 - i), dc * c_before * f * (1.0 - f), dc * i * dg, dh * a * o * (1.0 - o)], axis=1
        )
        return (dz @ rec_t, dc * f), (dz,)

    _, (dz,) = scan_time(step, (zeros[0], zeros[0]), (d_out, cs, c_prev, sigs, gs), reverse=True)
    dz = dz.reshape(t * b, 4 * n)  # [T*B, 4H]: every step's gate gradients at once
    h_prev = jnp.concatenate([zeros, hs[:-1]]).reshape(t * b, n)
    x_steps = x.reshape(t * b, n_in)
    d_rec = (h_prev.T @ dz).reshape(n, 4, n)
    d_in = (x_steps.T @ dz).reshape(n_in, 4, n)
    d_bias = dz.reshape(t * b, 4, n).sum(0)  # over [T*B, 4, H]: [T*B, 4H] sums in another order under vmap
    dx = (dz @ w_in.reshape(n_in, 4 * n).T).reshape(t, b, n_in)
    return dx, d_in, d_rec, d_bias, None, None


lstm_layer.defvjp(_layer_fwd, _layer_bwd)


def dropout(x, rate, key):
    """Inverted dropout of x [T, B, H] (time-major). The bits are drawn unit-major: element
    (t, b, h) takes those of index (h, b, t) in an [H, B, T] draw (``jax.random.bits``: with JAX's
    partitionable threefry an element's bits depend only on its index), so a real unit's mask is
    the same whatever padding follows it (tested); the index is computed in place, no transpose."""
    t, b, h_units = x.shape
    threshold = jnp.floor(rate * 4294967296.0).astype(jnp.uint32)
    keep = threefry.bits(key, (t, b, h_units), strides=(1, t, b * t)) >= threshold
    # times the reciprocal, written out: XLA rewrote ``x / (1 - rate)`` into this product in some
    # programs and not in others (it depends on the layout around it), so the same config's
    # dropout could round differently with the code around it
    return jnp.where(keep, x * (1.0 / (1.0 - rate)), 0.0)


def predict(params: Mapping, x, hp: Traced, allowed_activations: tuple[int, ...], dropout_key=None, depth=None):
    """x [B, T, F] -> predictions [B]. ``dropout_key=None``: evaluation (no dropout). The layers
    run time-major ([T, B, H]), from one transpose of the input.

    ``depth``: for configs side by side (``vmap``), an unbatched bound on the layers to run (the
    deepest config of the call). Under ``vmap`` a ``lax.cond`` on the batched ``hp.layers`` would
    become a select that runs every layer forward and backward; with ``depth`` the skip stays a
    real branch, and a config shallower than ``depth`` passes its input through a layer by a
    select. ``None``: one config at a time, each skipping its own inactive layers."""
    unit_mask = (jnp.arange(params["rec0"].shape[0]) < hp.hidden).astype(x.dtype)

    def maybe_drop(h, layer):
        if dropout_key is None:
            return h
        return dropout(h, hp.dropout, jax.random.fold_in(dropout_key, layer))

    activations = Activations(tuple(allowed_activations), switch=depth is None)
    h = maybe_drop(
        lstm_layer(
            jnp.swapaxes(x, 0, 1), params["in0"], params["rec0"], params["b0"], unit_mask, hp.activation, activations
        ),
        0,
    )

    def layer_out(h, w_in, w_rec, bias, layer):
        return maybe_drop(lstm_layer(h, w_in, w_rec, bias, unit_mask, hp.activation, activations), layer)

    def deeper(h, layer_params):
        w_in, w_rec, bias, layer = layer_params
        if depth is None:
            h = jax.lax.cond(layer < hp.layers, lambda h: layer_out(h, w_in, w_rec, bias, layer), lambda h: h, h)
        else:
            h = jax.lax.cond(
                layer < depth,
                lambda h: jnp.where(layer < hp.layers, layer_out(h, w_in, w_rec, bias, layer), h),
                lambda h: h,
                h,
            )
        return h, None

    n_deeper = params["in"].shape[0]
    if n_deeper:
        h, _ = jax.lax.scan(deeper, h, (params["in"], params["rec"], params["b"], jnp.arange(1, n_deeper + 1)))
    return h[-1] @ params["out"] + params["out_b"]


def param_shapes(hidden: int, layers: int, n_features: int) -> dict:
    """One fold's parameter shapes in the layout of ``LAYOUT``."""
    h, deeper = hidden, layers - 1
    return {
        "in0": (n_features, 4, h),
        "rec0": (h, 4, h),
        "b0": (4, h),
        "in": (deeper, h, 4, h),
        "rec": (deeper, h, 4, h),
        "b": (deeper, 4, h),
        "out": (h,),
        "out_b": (),
    }


class LSTMNetwork(nn.Module):
    """The LSTM regressor as a flax module (what the engine trains): ``hidden`` units and
    ``layers`` are the program's (padded) layout, the config's own units and depth arrive traced in
    ``hp``; ``__call__`` is ``predict`` over the module's parameters, with the hand-written cell and
    backward pass. The engine initialises parameters on the host (``init.py``: flax's
    distributions, per config and fold, independent of padding); ``init`` here gives the layout
    (zeros), as flax checks every parameter's shape against it when applying."""

    hidden: int
    layers: int
    n_features: int
    activations: tuple[int, ...]

    @nn.compact
    def __call__(self, x, hp: Traced, dropout_key=None, depth=None):
        params = {
            name: self.param(name, nn.initializers.zeros_init(), shape, jnp.float32)
            for name, shape in param_shapes(self.hidden, self.layers, self.n_features).items()
        }
        return predict(params, x, hp, self.activations, dropout_key, depth)


# --- layout: padding and unpadding (NumPy, exact) ------------------------------------------------


def resize_params(params: Mapping, hidden: int, layers: int) -> dict:
    """A params dict (per fold, or with fold/config axes in front) resized to ``hidden`` units and
    ``layers`` layers: zero-padded where larger, sliced to the real block where smaller, so
    padding and unpadding are the same operation. Works on any dict with these leaf names, e.g.
    optimizer moments."""
    return {name: _resize(np.asarray(a), name, hidden, layers) for name, a in params.items()}


def _resize(a: np.ndarray, name: str, hidden: int, layers: int) -> np.ndarray:
    rank, layer_axis, hidden_axes = LAYOUT[name]
    lead = a.ndim - rank  # fold (and config) axes in front
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


def real_shape(params: Mapping) -> tuple[int, int]:
    """(hidden, layers) of an unpadded params dict."""
    return params["rec0"].shape[-3], params["in"].shape[-4] + 1
