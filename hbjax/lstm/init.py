"""Parameter initialisation in NumPy, matching flax's defaults for OptimizedLSTMCell and Dense.

Why not ``model.init``: jitting it costs a compile (2-4 s on CPU) per shape, and a vmapped
orthogonal (QR) init deadlocked XLA CPU. Here each (config, fold) draws from its own
``numpy.random.default_rng([seed, config_id, fold])``: no compile, no batching, and a config's
initial weights never depend on which other configs share its program.
"""
from __future__ import annotations

import numpy as np

from .grouping import ShapeKey


def _lecun_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    # flax lecun_normal: truncated normal on [-2, 2], variance 1/fan_in after truncation
    std = np.sqrt(1.0 / fan_in) / 0.87962566103423978
    out = rng.standard_normal((fan_in, fan_out))
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(bad.sum())
        bad = np.abs(out) > 2
    return (out * std).astype(np.float32)


def _orthogonal(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    a = rng.standard_normal((max(n, m), min(n, m)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return (q if n >= m else q.T).astype(np.float32)


def init_params(key: ShapeKey, n_features: int, rng: np.random.Generator) -> dict:
    """A params tree with exactly the structure of ``LSTMRegressor(hidden, layers).init``."""
    h = key.hidden
    params, inputs = {}, n_features
    for layer in range(key.layers):
        cell = {}
        for gate in "ifgo":
            cell[f"i{gate}"] = {"kernel": _lecun_normal(rng, inputs, h)}
            cell[f"h{gate}"] = {"kernel": _orthogonal(rng, h, h), "bias": np.zeros(h, np.float32)}
        params[f"lstm_{layer}"] = cell
        inputs = h
    params["head"] = {"kernel": _lecun_normal(rng, h, 1), "bias": np.zeros(1, np.float32)}
    return params
