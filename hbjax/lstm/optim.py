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


def update(params, moments, grads, hp, step):
    """-> (params, moments) after optimizer step number ``step`` (1-based, traced)."""
    m, v = moments
    t = step.astype(jnp.float32)
    on = hp.bias_correction > 0
    cm = jnp.where(on, 1.0 / (1.0 - hp.beta1 ** t), 1.0)
    cv = jnp.where(on, 1.0 / (1.0 - hp.beta2 ** t), 1.0)
    m = jax.tree.map(lambda m, g: hp.beta1 * m + (1.0 - hp.beta1) * g, m, grads)
    v = jax.tree.map(lambda v, g: hp.beta2 * v + (1.0 - hp.beta2) * g * g, v, grads)
    params = jax.tree.map(
        lambda p, m, v: p - hp.learning_rate * (m * cm) / (jnp.sqrt(v * cv + hp.eps_inside) + hp.eps_outside),
        params, m, v)
    return params, (m, v)
