"""Static-shape groups and chunking of a rung's configs.

Configs that share (hidden, layers, batch_size, window) share one compiled program; everything
else (lr, dropout, activation, optimizer) is traced. Groups are split into chunks of at most
``width`` configs; a chunk's config axis is padded to a power of two (padding slots repeat a real
config and their results are dropped) so each group compiles for a few widths only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

__all__ = ["ShapeKey", "shape_key", "group_by_shape", "chunk", "next_pow2", "bytes_per_config"]


@dataclass(frozen=True, order=True)
class ShapeKey:
    hidden: int
    layers: int
    batch_size: int
    window: int


def shape_key(config: Mapping, default_window: int) -> ShapeKey:
    return ShapeKey(int(config["hidden"]), int(config["layers"]), int(config["batch_size"]),
                    int(config.get("window", default_window)))


def group_by_shape(configs: Sequence[Mapping], default_window: int) -> dict[ShapeKey, list[int]]:
    """Positions of the configs in each shape group, groups in sorted (deterministic) order."""
    groups: dict[ShapeKey, list[int]] = {}
    for pos, config in enumerate(configs):
        groups.setdefault(shape_key(config, default_window), []).append(pos)
    return dict(sorted(groups.items()))


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def chunk(positions: Sequence[int], width: int, *, pad: bool = True) -> list[tuple[list[int], int]]:
    """Split into chunks of <= width, each with the size its program runs at, always a power of two
    (so a group compiles for a few sizes only). ``pad=True`` (accelerators: idle lanes are nearly
    free) pads a short last chunk up; ``pad=False`` (CPU: every slot is real work) splits it into
    powers of two instead, e.g. 3 -> 2 + 1."""
    if width < 1:
        raise ValueError(f"configs per program must be >= 1, got {width}")
    out = []
    for start in range(0, len(positions), width):
        part = list(positions[start:start + width])
        if pad or next_pow2(len(part)) == len(part):
            out.append((part, next_pow2(len(part))))
            continue
        while part:
            size = 1 << (len(part).bit_length() - 1)  # the largest power of two that fits
            out.append((part[:size], size))
            part = part[size:]
    return out


def n_params(key: ShapeKey, n_features: int) -> int:
    total, inputs = 0, n_features
    for _ in range(key.layers):
        total += 4 * key.hidden * (inputs + key.hidden) + 4 * key.hidden
        inputs = key.hidden
    return total + key.hidden + 1


def bytes_per_config(key: ShapeKey, n_features: int, n_folds: int, n_train: int, n_val: int) -> int:
    """Rough device bytes one config needs while training (float32): params with the three
    optimizers' moments and gradients, the LSTM activations kept for backprop, and evaluation."""
    params = n_params(key, n_features)
    state = params * (1 + 2 + 1 + 1 + 2)  # params, adam mu/nu, rmsprop nu, grads, temporaries
    acts = key.batch_size * key.window * key.layers * key.hidden * 12  # gates, cells, outputs (fwd+bwd)
    evaluation = min(n_val, 4096) * key.window * key.hidden * 6
    return 4 * n_folds * (state + acts + evaluation) + 4 * n_train  # + a permutation per fold
