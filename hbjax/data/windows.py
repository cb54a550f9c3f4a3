"""The float32 window tensors the LSTM engine trains on, one train block + the block after it.

Sample at row t: the inputs are rows t-W+1..t (standardised with the training block's statistics),
the target is day t+1's (standardised with the training targets' mean and std).  Next to the
tensors: everything needed to turn a prediction back into a value and to score it in the series'
own units (``last_*``, ``truth_*``, ``to_values``, ``score``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import targets


@dataclass(frozen=True)
class FoldWindows:
    """Window tensors stacked over K folds (read-only arrays, cached per window length).

    ``persistence_mse`` [K] is tomorrow = today's validation MSE in training units (the units of
    the engine's loss); ``persistence_mse_price`` [K] the same in the series' own units."""

    window: int
    x_train: np.ndarray  # [K, Ntr, W, F] float32
    y_train: np.ndarray  # [K, Ntr] float32
    x_val: np.ndarray  # [K, Nval, W, F] float32
    y_val: np.ndarray  # [K, Nval] float32
    persistence_mse: np.ndarray  # [K] float64, training units
    target_mean: np.ndarray  # [K] float64
    target_std: np.ndarray  # [K] float64
    feature_mean: np.ndarray  # [K, F] float64
    feature_std: np.ndarray  # [K, F] float64
    val_dates: np.ndarray  # [K, Nval] datetime64 (the target days)
    target_form: str  # "level" | "log_ratio" | "difference" (see targets)
    last_val: np.ndarray  # [K, Nval] float64: each sample's last value v_t (own units)
    truth_val: np.ndarray  # [K, Nval] float64: the value of the target day v_{t+1}
    persistence_mse_price: np.ndarray  # [K] float64, own units

    @property
    def n_folds(self) -> int:
        return self.x_train.shape[0]

    def to_values(self, prediction) -> np.ndarray:
        """Standardised predictions [K, Nval] -> forecasts in the series' own units."""
        return targets.to_values(
            prediction, self.last_val, self.target_mean[:, None], self.target_std[:, None], self.target_form
        )

    def score(self, prediction) -> list[dict]:
        """``targets.score`` of each fold's predictions [K, Nval] (standardised)."""
        return [
            targets.score(
                prediction[k],
                self.y_val[k],
                self.persistence_mse[k],
                self.last_val[k],
                self.truth_val[k],
                self.target_mean[k],
                self.target_std[k],
                self.target_form,
            )
            for k in range(self.n_folds)
        ]

    def skill_from_loss(self, loss) -> float:
        """The K per-fold validation MSEs (training units) -> the mean of the folds' skills,
        1 - loss_k / persistence_k. (``LSTMBackend``'s rung loss is already the mean of
        loss_k / persistence_k, so its skill is simply ``1 - loss``.)"""
        loss = np.asarray(loss, dtype=np.float64)
        if loss.shape != self.persistence_mse.shape:
            raise ValueError(f"expected {self.n_folds} per-fold losses, got shape {loss.shape}")
        return float(np.mean([targets.skill_score(v, p) for v, p in zip(loss, self.persistence_mse)]))


@dataclass(frozen=True)
class FinalWindows:
    """Tensors for the final evaluation: train on the last train_size+val_size rows before the
    test block (statistics from them only), test on targets inside the held-out block."""

    window: int
    x_train: np.ndarray  # [N, W, F] float32
    y_train: np.ndarray  # [N] float32
    x_test: np.ndarray  # [Ntest, W, F] float32
    y_test: np.ndarray  # [Ntest] float32
    persistence_mse: float  # training units
    target_mean: float
    target_std: float
    feature_mean: np.ndarray  # [F]
    feature_std: np.ndarray  # [F]
    test_dates: np.ndarray  # [Ntest] datetime64 (the target days)
    target_form: str
    last_test: np.ndarray  # [Ntest] float64, own units
    truth_test: np.ndarray  # [Ntest] float64
    persistence_mse_price: float

    def to_values(self, prediction) -> np.ndarray:
        return targets.to_values(prediction, self.last_test, self.target_mean, self.target_std, self.target_form)

    def score(self, prediction) -> dict:
        """``targets.score`` of standardised test predictions [Ntest]."""
        return targets.score(
            prediction,
            self.y_test,
            self.persistence_mse,
            self.last_test,
            self.truth_test,
            self.target_mean,
            self.target_std,
            self.target_form,
        )


def _std(values: np.ndarray, axis=0) -> np.ndarray:
    s = np.std(values, axis=axis)
    return np.where(s > 0, s, 1.0)  # constant columns (e.g. an absent month) stay finite


def split(
    inputs: np.ndarray,
    rows: np.ndarray | None,
    target: np.ndarray,
    values: np.ndarray,
    form: str,
    train: slice,
    eval_stop: int,
    window: int,
) -> dict:
    """Samples of one train block and the evaluation block right after it (float64).

    ``inputs`` [n - W + 1, W, F]: the window ending at row t is entry t - W + 1.  Feature
    statistics come from the training block's ``rows`` (global inputs) or, when ``rows`` is None,
    from its windows (relative inputs); target statistics from the training rows' targets."""
    a, b, c, w = train.start, train.stop, eval_stop, window
    t_train = np.arange(a + w - 1, b - 1)  # last input rows; targets t+1 in [a+w, b-1]
    t_eval = np.arange(b - 1, c - 1)  # targets in [b, c-1]
    x_train, x_eval = inputs[t_train - w + 1], inputs[t_eval - w + 1]
    stats = rows if rows is not None else x_train.reshape(-1, x_train.shape[-1])
    mu, sd = stats.mean(axis=0), _std(stats)
    r = target[a:b] if form == "level" else target[a + 1 : b]  # a change needs both days in the block
    t_mu, t_sd = float(r.mean()), float(_std(r))
    y_eval = (target[t_eval + 1] - t_mu) / t_sd
    last = values[t_eval]
    persistence = targets.persistence_prediction(last, t_mu, t_sd, form)
    return dict(
        x_train=(x_train - mu) / sd,
        y_train=(target[t_train + 1] - t_mu) / t_sd,
        x_eval=(x_eval - mu) / sd,
        y_eval=y_eval,
        persistence=float(np.mean((y_eval - persistence) ** 2)),
        persistence_price=float(np.mean((values[t_eval + 1] - last) ** 2)),
        last=last,
        truth=values[t_eval + 1],
        t_eval=t_eval,
        t_mu=t_mu,
        t_sd=t_sd,
        mu=mu,
        sd=sd,
    )


def frozen32(a) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=np.float32)
    out.flags.writeable = False
    return out


def frozen(a) -> np.ndarray:
    out = np.array(a)
    out.flags.writeable = False
    return out


def fold_windows(parts: list[dict], window: int, form: str, val_dates) -> FoldWindows:
    def stack(key, as32=False):
        return (frozen32 if as32 else frozen)([p[key] for p in parts])

    return FoldWindows(
        window=window,
        x_train=stack("x_train", True),
        y_train=stack("y_train", True),
        x_val=stack("x_eval", True),
        y_val=stack("y_eval", True),
        persistence_mse=stack("persistence"),
        target_mean=stack("t_mu"),
        target_std=stack("t_sd"),
        feature_mean=stack("mu"),
        feature_std=stack("sd"),
        val_dates=frozen(val_dates),
        target_form=form,
        last_val=stack("last"),
        truth_val=stack("truth"),
        persistence_mse_price=stack("persistence_price"),
    )


def final_windows(p: dict, window: int, form: str, test_dates) -> FinalWindows:
    return FinalWindows(
        window=window,
        x_train=frozen32(p["x_train"]),
        y_train=frozen32(p["y_train"]),
        x_test=frozen32(p["x_eval"]),
        y_test=frozen32(p["y_eval"]),
        persistence_mse=p["persistence"],
        target_mean=p["t_mu"],
        target_std=p["t_sd"],
        feature_mean=frozen(p["mu"]),
        feature_std=frozen(p["sd"]),
        test_dates=frozen(test_dates),
        target_form=form,
        last_test=frozen(p["last"]),
        truth_test=frozen(p["truth"]),
        persistence_mse_price=p["persistence_price"],
    )
