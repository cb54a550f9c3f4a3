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


def moments(
    learning_rate, beta1, beta2, bias_correction, eps_inside, eps_outside
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
        cm = jnp.where(on, 1.0 / (1.0 - beta1**t), 1.0)
        cv = jnp.where(on, 1.0 / (1.0 - beta2**t), 1.0)
        m = jax.tree.map(lambda m, g: beta1 * m + (1.0 - beta1) * g, m, updates)
        v = jax.tree.map(lambda v, g: beta2 * v + (1.0 - beta2) * g * g, v, updates)
        out = jax.tree.map(
            lambda m, v: -(learning_rate * (m * cm) / (jnp.sqrt(v * cv + eps_inside) + eps_outside)), m, v
        )
        return out, (m, v)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def init(params):
    """(m, v): zero moments shaped like ``params``."""
    return moments(0.0, 0.0, 0.0, 0.0, 0.0, 0.0).init(params)


def apply_step(tx, params, state, grads, step):
    """-> (params, state) after ``tx``'s step number ``step``, applied with ``optax.apply_updates``
    semantics (params + updates), over every leaf at once.

    A padded program's idle layers (deeper than a config's own depth) get exactly zero gradients,
    so their zero moments stay zero and their weights do not move (``-lr * 0 / (sqrt(0) + eps)``
    adds -0.0): updating them costs a pass over their memory, which measured cheaper than the
    compile time a loop over only the active layers took (0.4 s of a 2.8 s program)."""
    updates, state = tx.update(grads, state, step=step)
    return optax.apply_updates(params, updates), state


def update(params, moments_state, grads, hp, step):
    """``apply_step`` of ``moments`` with the coefficients of ``hp`` (a ``network.Traced``)."""
    tx = moments(hp.learning_rate, hp.beta1, hp.beta2, hp.bias_correction, hp.eps_inside, hp.eps_outside)
    return apply_step(tx, params, moments_state, grads, step)
