"""Checks of a user's flax model against its data, and its errors told by their real cause.

``explain(err)`` turns what JAX or flax raised inside a user's module into the cause a user can
act on (a traced value used as a Python bool, flax's ``nn.Dropout`` with a traced rate, BatchNorm's
``batch_stats``); ``broadcast_shape`` finds a loss that broadcasts predictions against targets of
another shape (``[64, 1]`` against ``[64]`` gives ``[64, 64]``), the most common silent mistake.
"""
from __future__ import annotations

import traceback

import jax
import numpy as np
from jax.extend import core as jcore

__all__ = ["explain", "broadcast_shape", "extra_collections"]

_TRACER_ERRORS = (jax.errors.TracerBoolConversionError, jax.errors.ConcretizationTypeError,
                  jax.errors.TracerIntegerConversionError)


def explain(err: BaseException) -> str:
    """One line naming the cause of ``err`` raised by a user's module, loss or optimizer."""
    files = [frame.f_code.co_filename.replace("\\", "/") for frame, _ in traceback.walk_tb(err.__traceback__)]
    if isinstance(err, _TRACER_ERRORS):
        if any(f.endswith("flax/linen/stochastic.py") for f in files):
            return ("flax's nn.Dropout cannot take a traced rate (it tests `rate == 0.0` in Python): use "
                    "hbjax.nn.Dropout(rate=hparams[...]), the same layer for a rate that is an array, or leave the "
                    "rate out of traced= (static: one program per value)")
        return (f"a traced value is used as a Python bool or number ({type(err).__name__}): a traced "
                f"hyperparameter (hparams[...]) is an array inside the shared program; compute with it in jnp "
                f"(jnp.where instead of `if`), or leave it out of traced= (static: one program per value)")
    text = str(err)
    if "batch_stats" in text:
        return ("the model keeps BatchNorm's 'batch_stats': only the 'params' collection is trained; use "
                "nn.LayerNorm or nn.GroupNorm instead of nn.BatchNorm")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(err).__name__}: {first}"


def extra_collections(variables) -> list[str]:
    """Variable collections besides ``params`` that a module creates (BatchNorm's ``batch_stats``,
    a user's own mutable state): the engine trains ``params`` only."""
    return sorted(k for k in variables if k != "params")


def broadcast_shape(fn, predictions, targets) -> tuple | None:
    """The shape of the largest array ``fn(predictions, targets)`` builds when it is larger than
    both inputs and their shapes differ (a broadcast of mismatched shapes); None otherwise."""
    if tuple(predictions.shape) == tuple(targets.shape):
        return None
    limit = max(int(np.prod(predictions.shape)), int(np.prod(targets.shape)))
    closed = jax.make_jaxpr(fn)(predictions, targets)
    largest = max((shape for shape in _shapes(closed.jaxpr)), key=lambda s: int(np.prod(s)), default=())
    return tuple(largest) if int(np.prod(largest)) > limit else None


def _shapes(jaxpr):
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            yield tuple(getattr(var.aval, "shape", ()))
        for sub in jcore.jaxprs_in_params(eqn.params):
            yield from _shapes(sub)
