"""Adam, RMSprop and SGD as ONE optax transformation with traced coefficients.

    m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
    update = -lr * (m * cm) / (sqrt(v * cv + eps_in) + eps_out)

adam:    b1 .9, b2 .999, cm = 1/(1 - b1^t), cv = 1/(1 - b2^t), eps_in 0,    eps_out 1e-8
rmsprop: b1 0,  b2 .9,   cm = cv = 1,                          eps_in 1e-8, eps_out 0
sgd:     b1 0,  b2 1,    cm = cv = 1 (v stays 0),              eps_in 1,    eps_out 0

(optax's defaults for ``adam``, ``rmsprop`` and ``sgd``; tests compare with optax.) One pair of
moments per config instead of three optimizers' states updated every step; the coefficients are
a config's traced numbers, so configs of different optimizers share a program. A weight whose
gradient is always exactly 0 (a padded unit) keeps m = v = 0 and never moves.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("adam", "rmsprop", "sgd")

#: optimizer -> (beta1, beta2, bias_correction, eps_inside, eps_outside)
COEFFICIENTS = {
    "adam": (0.9, 0.999, 1.0, 0.0, 1e-8),
    "rmsprop": (0.0, 0.9, 0.0, 1e-8, 0.0),
    "sgd": (0.0, 1.0, 0.0, 1.0, 0.0),
}


def moments(learning_rate, beta1, beta2, bias_correction, eps_inside, eps_outside
            ) -> optax.GradientTransformationExtraArgs:
    """The transformation; its state is (m, v) shaped like the params, and ``update`` takes the
    step number (1-based, traced) as ``step=``. Every coefficient may be a traced array (also
    through ``optax.inject_hyperparams(moments)``)."""

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return zeros, zeros

    def update_fn(updates, state, params=None, *, step, **extra):
        del params, extra
        m, v = state
        t = jnp.asarray(step).astype(jnp.float32)
        on = bias_correction > 0
        cm = jnp.where(on, 1.0 / (1.0 - beta1 ** t), 1.0)
        cv = jnp.where(on, 1.0 / (1.0 - beta2 ** t), 1.0)
        m = jax.tree.map(lambda m, g: beta1 * m + (1.0 - beta1) * g, m, updates)
        v = jax.tree.map(lambda v, g: beta2 * v + (1.0 - beta2) * g * g, v, updates)
        out = jax.tree.map(lambda m, v: -(learning_rate * (m * cm) / (jnp.sqrt(v * cv + eps_inside) + eps_outside)),
                           m, v)
        return out, (m, v)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def init(params):
    """(m, v): zero moments shaped like ``params``."""
    return moments(0.0, 0.0, 0.0, 0.0, 0.0, 0.0).init(params)


def apply_in_place(tx, params, state, grads, step, *, stacked=(), active=None):
    """-> (params, state) after ``tx``'s step number ``step``, applied with ``optax.apply_updates``
    semantics (params + updates).

    ``stacked``: names of dict leaves stacked over layers on axis 0, of which only the first
    ``active`` (traced) are updated, in place: a program padded to depth 5 does not stream the
    weights and moments of a 1-layer config's four idle layers through memory every step."""
    m, v = state
    flat = [n for n in params if n not in stacked]
    deep = [n for n in params if n in stacked and params[n].shape[0] > 0]  # a one-layer program has none

    def pick(tree, names):
        return {n: tree[n] for n in names}

    updates, (m1, v1) = tx.update(pick(grads, flat), (pick(m, flat), pick(v, flat)), step=step)
    new_p, new_m, new_v = dict(params), dict(m), dict(v)
    new_p.update(optax.apply_updates(pick(params, flat), updates))
    new_m.update(m1)
    new_v.update(v1)
    if deep:
        def body(layer, carry):
            p, m, v = (jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, layer, keepdims=False), t) for t in carry)
            g = {n: jax.lax.dynamic_index_in_dim(grads[n], layer, keepdims=False) for n in deep}
            u, (m, v) = tx.update(g, (m, v), step=step)
            p = optax.apply_updates(p, u)
            return tuple(jax.tree.map(lambda a, new: jax.lax.dynamic_update_index_in_dim(a, new, layer, 0), old, t)
                         for old, t in zip(carry, (p, m, v)))

        p, m2, v2 = jax.lax.fori_loop(0, active, body, (pick(params, deep), pick(m, deep), pick(v, deep)))
        new_p.update(p)
        new_m.update(m2)
        new_v.update(v2)
    return new_p, (new_m, new_v)


def update(params, moments_state, grads, hp, step, *, stacked=(), active=None):
    """``apply_in_place`` of ``moments`` with the coefficients of ``hp`` (a ``network.Traced``)."""
    tx = moments(hp.learning_rate, hp.beta1, hp.beta2, hp.bias_correction, hp.eps_inside, hp.eps_outside)
    return apply_in_place(tx, params, moments_state, grads, step, stacked=stacked, active=active)
