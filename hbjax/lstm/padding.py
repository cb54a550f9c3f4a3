"""The LSTM's costs and padding policy: its matmul FLOPs and device bytes per config (what the
engine's plan charges, through ``LSTMModel``), and which hidden sizes share a padded program over
a whole run (``padded_hidden_map``), chosen with the device's cost constants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..engine.cost import COST_MODELS, CostModel, cost_model

__all__ = ["bytes_per_config", "hidden_buckets", "padded_hidden_map", "step_flops"]


def step_flops(hidden: int, layers: int, batch: int, window: int, n_features: int) -> float:
    """Matmul FLOPs of one optimizer step (forward 2·B·T·(in+H)·4H per layer, backward 2x)."""
    total, inputs = 0.0, n_features
    for _ in range(layers):
        total += 2.0 * batch * window * (inputs + hidden) * 4 * hidden
        inputs = hidden
    return 3.0 * (total + 2.0 * batch * hidden)


def bytes_per_config(
    hidden: int, layers: int, batch: int, window: int, n_features: int, n_folds: int, n_train: int, n_val: int
) -> int:
    """Device bytes one config needs while training (float32), checked against XLA's
    ``memory_analysis()`` on a grid of shapes (tests/lstm/test_wide_plan.py): params, two moments and
    their updates, the gradients; per layer the saved states of a batch (``[T, B, 7H]``: h, c,
    the four gates' sigmoids, g's activation) and their gradients; the validation pass over all
    validation windows."""
    params = 4 * hidden * (n_features + hidden) + 4 * hidden
    params += (layers - 1) * (8 * hidden * hidden + 4 * hidden) + hidden + 1
    state = params * 7
    acts = batch * window * hidden * (9 * layers + 8)
    evaluation = n_val * window * hidden * 6
    return 4 * n_folds * (state + acts + evaluation)


def hidden_buckets(
    hiddens: Sequence[int],
    *,
    epochs_per_config: float,
    batch: int,
    window: int,
    layers: int,
    n_features: int,
    n_folds: int,
    n_train: int,
    cost: CostModel,
    configs_per_call: float = 1.0,
) -> dict[int, int]:
    """Hidden size -> padded size, for one batch size and window, fixed for a whole run.

    Each hidden size is expected to train ``epochs_per_config`` config-epochs over the run (its
    share of the budget). A bucket costs its compiles plus the training of its sizes at the
    bucket's width; a small exact dynamic program over the sorted sizes picks the cheapest
    contiguous buckets. On a CPU (configs one after another) a bucket is one compile and each
    config pays its padded FLOPs. On an accelerator (side by side) ``configs_per_call`` configs of
    each hidden size are expected in a call: a bucket of more sizes shares the latency floor among
    more configs but computes all of them at its padded size, and compiles a program per width
    (powers of two up to its expected width). Fixed per run, so a config runs at the same padded
    size in every rung: its floats never depend on the configs it shares a rung with."""
    hs = sorted({int(h) for h in hiddens})
    spe = max(1, n_train // batch)

    def train_s(h_padded: int, sizes: int) -> float:
        flops = step_flops(h_padded, layers, batch, window, n_features) * n_folds
        if cost.vmap_parallel:
            per_step = max(cost.floor(window * layers) / max(1.0, configs_per_call * sizes), flops / cost.flops_per_s)
        else:
            per_step = cost.floor(window * layers) + flops / cost.flops_per_s
        return epochs_per_config * spe * per_step

    def bucket_cost(i: int, j: int) -> float:  # hs[i..j] padded to hs[j]
        sizes = j - i + 1
        compiles = 1 + (math.ceil(math.log2(max(1.0, configs_per_call * sizes))) if cost.vmap_parallel else 0)
        return cost.compile_s * compiles + sizes * train_s(hs[j], sizes)

    best = [0.0] + [math.inf] * len(hs)
    cut = [0] * (len(hs) + 1)
    for j in range(1, len(hs) + 1):
        for i in range(j):
            c = best[i] + bucket_cost(i, j - 1)
            if c < best[j] - 1e-9:
                best[j], cut[j] = c, i
    out, j = {}, len(hs)
    while j > 0:
        i = cut[j]
        out.update(dict.fromkeys(hs[i:j], hs[j - 1]))
        j = i
    return out


def padded_hidden_map(
    mode: str,
    device_kind: str,
    *,
    hiddens: Sequence[int],
    batch_sizes: Sequence[int],
    layers: Sequence[int],
    config_epochs: float,
    sizes: Mapping[int, tuple[int, int, int]],
    cost: CostModel | None = None,
    first_rung_configs: int | None = None,
) -> dict | None:
    """(hidden, batch, window) -> padded hidden for a whole run, from the space's choices and the
    cost model (``hidden_buckets``), each (hidden, batch, window) expected to train its equal
    share of ``config_epochs``; ``exact`` pads nothing (None). Vmapped plans (``wide``, and
    ``auto`` on accelerators) expect ``first_rung_configs`` (the largest rung's configs, spread
    evenly over the space's shapes) in a call. ``sizes``: window -> (folds, training windows,
    features)."""
    if mode == "exact":
        return None
    cost = cost or cost_model(device_kind)
    vmapped = mode == "wide" or device_kind != "cpu"
    if vmapped and not cost.vmap_parallel:  # the accelerator plan forced on a CPU: price it as one
        cost = COST_MODELS["gpu"]
    hiddens = sorted({int(h) for h in hiddens})
    cells = max(1, len(hiddens) * len(set(batch_sizes)) * len(sizes))
    share = config_epochs / cells
    per_call = (first_rung_configs or cells) / cells if vmapped else 1.0
    out = {}
    for b in sorted({int(b) for b in batch_sizes}):
        for w, (n_folds, n_train, n_features) in sorted(sizes.items()):
            buckets = hidden_buckets(
                hiddens,
                epochs_per_config=share,
                batch=b,
                window=w,
                layers=round(sum(layers) / len(layers)),
                n_features=n_features,
                n_folds=n_folds,
                n_train=n_train,
                cost=cost,
                configs_per_call=per_call,
            )
            out.update({(h, b, w): hp for h, hp in buckets.items()})
    return out
