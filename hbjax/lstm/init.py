"""Parameter initialisation in NumPy, with flax's distributions for ``OptimizedLSTMCell`` and
``Dense`` (input kernels lecun-normal, recurrent kernels orthogonal per gate, zero biases).

Why not ``model.init``: jitting it costs a compile per shape, and a vmapped orthogonal (QR) init
deadlocked XLA CPU. Here each (config, fold) draws from its own
``numpy.random.default_rng([seed, config_id, fold])`` at the config's *real* shape: no compile, no
batching, and a config's initial weights never depend on the program (or padding) it runs in.
"""

from __future__ import annotations

import numpy as np


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


def init_params(hidden: int, layers: int, n_features: int, rng: np.random.Generator) -> dict:
    """One fold's params in the layout of ``network.LAYOUT``, unpadded."""
    h = hidden
    w_in, w_rec, inputs = [], [], n_features
    for _ in range(layers):
        ins, recs = [], []
        for _gate in "ifgo":
            ins.append(_lecun_normal(rng, inputs, h))
            recs.append(_orthogonal(rng, h, h))
        w_in.append(np.stack(ins, axis=1))  # [in, 4, H]
        w_rec.append(np.stack(recs, axis=1))  # [H, 4, H]
        inputs = h
    head = _lecun_normal(rng, h, 1)[:, 0]
    deeper = (layers - 1, h, 4, h)
    return {
        "in0": w_in[0],
        "rec0": w_rec[0],
        "b0": np.zeros((4, h), np.float32),
        "in": np.stack(w_in[1:]) if layers > 1 else np.zeros(deeper, np.float32),
        "rec": np.stack(w_rec[1:]) if layers > 1 else np.zeros(deeper, np.float32),
        "b": np.zeros((layers - 1, 4, h), np.float32),
        "out": head,
        "out_b": np.zeros((), np.float32),
    }
