"""Adam, RMSprop and SGD as ONE parametrised update with traced coefficients.

    m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
    p <- p - lr * (m * cm) / (sqrt(v * cv + eps_in) + eps_out)

adam:    b1 .9, b2 .999, cm = 1/(1 - b1^t), cv = 1/(1 - b2^t), eps_in 0,    eps_out 1e-8
rmsprop: b1 0,  b2 .9,   cm = cv = 1,                          eps_in 1e-8, eps_out 0
sgd:     b1 0,  b2 1,    cm = cv = 1 (v stays 0),              eps_in 1,    eps_out 0

(optax's defaults for ``adam``, ``rmsprop`` and ``sgd``; tests compare with optax.) One pair of
moments per config instead of three optimizers' states updated every step. A weight whose
gradient is always exactly 0 (a padded unit) keeps m = v = 0 and never moves.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

OPTIMIZERS = ("adam", "rmsprop", "sgd")

#: optimizer -> (beta1, beta2, bias_correction, eps_inside, eps_outside)
COEFFICIENTS = {
    "adam": (0.9, 0.999, 1.0, 0.0, 1e-8),
    "rmsprop": (0.0, 0.9, 0.0, 1e-8, 0.0),
    "sgd": (0.0, 1.0, 0.0, 1.0, 0.0),
}


def init(params):
    """(m, v): zero moments shaped like ``params``."""
    zeros = jax.tree.map(jnp.zeros_like, params)
    return zeros, zeros


def update(params, moments, grads, hp, step, *, stacked=(), active=None):
    """-> (params, moments) after optimizer step number ``step`` (1-based, traced).

    ``stacked``: names of dict leaves stacked over layers on axis 0, of which only the first
    ``active`` (traced) are updated, in place: a program padded to depth 5 does not stream the
    weights and moments of a 1-layer config's four idle layers through memory every step."""
    m, v = moments
    t = step.astype(jnp.float32)
    on = hp.bias_correction > 0
    cm = jnp.where(on, 1.0 / (1.0 - hp.beta1 ** t), 1.0)
    cv = jnp.where(on, 1.0 / (1.0 - hp.beta2 ** t), 1.0)

    def one(p, m, v, g):
        m = hp.beta1 * m + (1.0 - hp.beta1) * g
        v = hp.beta2 * v + (1.0 - hp.beta2) * g * g
        return p - hp.learning_rate * (m * cm) / (jnp.sqrt(v * cv + hp.eps_inside) + hp.eps_outside), m, v

    def layers(p, m, v, g):
        if p.shape[0] == 0:  # a one-layer program has no deeper layers
            return p, m, v

        def body(layer, carry):
            sliced = [jax.lax.dynamic_index_in_dim(a, layer, keepdims=False) for a in (*carry, g)]
            return tuple(jax.lax.dynamic_update_index_in_dim(a, new, layer, 0) for a, new in zip(carry, one(*sliced)))
        return jax.lax.fori_loop(0, active, body, (p, m, v))

    out = {name: (layers if name in stacked else one)(params[name], m[name], v[name], grads[name]) for name in params}
    return ({k: o[0] for k, o in out.items()}, ({k: o[1] for k, o in out.items()}, {k: o[2] for k, o in out.items()}))
