"""A small CNN on scikit-learn's digits, tuned by hbjax (resource = epochs, metric = accuracy).

    hbjax run --model examples/digits_cnn.py:spec -R 27 --out hbjax-runs/digits
    python -c "import hbjax as hb, runpy; s = runpy.run_path('examples/digits_cnn.py')['spec'](); \
               print(hb.Hyperband(s.pop('space'), max_resource=27).run(hb.FlaxBackend(**s)).summary())"
"""

import flax.linen as nn
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hbjax as hb


class CNN(nn.Module):
    width: int  # channels of every conv layer
    depth: int  # conv layers

    @nn.compact
    def __call__(self, x, train: bool = False):
        for _ in range(self.depth):
            x = nn.relu(nn.Conv(self.width, (3, 3))(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def spec(seed: int = 0) -> dict:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    return dict(
        model=lambda c: CNN(width=c["width"], depth=c["depth"]),  # static: shapes
        optimizer=lambda c: optax.inject_hyperparams(optax.adamw)(  # traced per config
            learning_rate=c["lr"], weight_decay=c["wd"]
        ),
        loss=lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
        metric=lambda logits, y: (logits.argmax(-1) == y).mean(),
        direction="max",
        data=(x_train, y_train, x_val, y_val),
        batch_size="batch_size",
        space=hb.Space(
            width=hb.IntChoice([8, 16, 32]),
            depth=hb.IntChoice([1, 2, 3]),
            lr=hb.LogUniform(1e-4, 3e-2),
            wd=hb.LogUniform(1e-6, 1e-2),
            batch_size=hb.IntChoice([32, 64]),
        ),
    )
