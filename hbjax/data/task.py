"""``SeriesTask`` / ``StockTask``: a next-day forecasting task on one daily series, in walk-forward folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import windows as win
from .baselines import compute_baselines
from .features import make_features, relative_names, relative_windows
from .folds import REFERENCE_SIZES, default_sizes, positive_int, walk_forward
from .loading import from_frame
from .targets import RELATIVE_INPUTS, TARGET_FORMS, TARGETS, target_series
from .validation import DataError, fmt_date, series_kind, value_name

KINDS = ("price", "value")


class SeriesTask:
    """Next-day forecast of one daily series (a price series, or a date + value column).

    ``target`` (see ``hbjax.data.targets``):

    * ``"relative"`` (default): scale-free.  Each input window is expressed relative to its own
      last day and the model predicts the change to the next day: the log return
      log(c[t+1]/c[t]) of a price series, the difference v[t+1] - v[t] of a value series (a
      temperature has no meaningful ratio: it crosses 0 and its changes don't scale with it).
    * ``"close"`` (price) / ``"level"`` (value): the next value itself, inputs standardised per
      fold (the seed article's setup).  **Failure mode**: a trending series (NVDA) leaves the
      training range, so on the most recent fold and the test block the inputs and targets lie
      outside anything seen in training; tuned LSTMs then land far from persistence (test MSE
      1.6-187 vs 0.21 for persistence), and fold MSEs in each fold's own standardised units weigh
      folds by their scale (persistence ~0.002 on one fold, ~0.2 on another).
    * ``"return"`` (price): log-return target with the global (price-level) inputs.

    Sizes left at None follow ``folds.default_sizes`` (the reference 3000/500/800 rows when the
    series is long enough, else fractions that give four folds on a short series).  ``kind``:
    ``"price"``/``"value"`` to override what the frame's columns say.  ``period`` (rows, e.g. 365
    or 7; default ``frame.attrs["period"]``): adds the seasonal-naive baseline (the value one
    period before the target day).  ``last_rows`` keeps only the most recent rows (quick demos)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        train_size: int | None = None,
        val_size: int | None = None,
        test_size: int | None = None,
        step: int | None = None,
        max_folds: int | None = None,
        target: str = "relative",
        kind: str | None = None,
        period: int | None = None,
        ma_window: int = 30,
        calendar: bool = False,
        last_rows: int | None = None,
    ):
        frame = _as_kind(from_frame(frame), kind)
        self.kind = series_kind(frame)
        if target not in TARGETS[self.kind]:
            raise ValueError(
                f"target must be one of {', '.join(repr(t) for t in TARGETS[self.kind])} for a "
                f"{self.kind} series, got {target!r}"
            )
        period = frame.attrs.get("period") if period is None else period
        self.period = None if period is None else positive_int("period", period, ValueError)
        n_series = len(frame)
        if last_rows is not None:
            last_rows = positive_int("last_rows", last_rows, ValueError)
            frame = frame.iloc[-last_rows:].reset_index(drop=True)
        self.target = target
        self.target_form = TARGET_FORMS[(self.kind, target)]
        self.relative_inputs = (self.kind, target) in RELATIVE_INPUTS
        self.ma_window = int(ma_window)
        self.calendar = bool(calendar)
        self.series = frame
        self.value_name = value_name(frame)
        self.unit = "price" if self.kind == "price" else self.value_name
        x, names, aligned = make_features(frame, ma_window=ma_window, calendar=calendar)
        defaults = default_sizes(len(x))
        train_size, val_size, test_size = (
            d if v is None else v for v, d in zip((train_size, val_size, test_size), defaults)
        )
        try:
            self.folds = walk_forward(
                len(x), train_size=train_size, val_size=val_size, step=step, test_size=test_size, max_folds=max_folds
            )
        except DataError as err:
            used = f"last_rows={last_rows} of {n_series}" if last_rows is not None else f"{n_series}"
            raise DataError(
                f"{err} (the series has {used} rows; the {ma_window}-day moving average "
                f"drops the first {ma_window - 1})"
            ) from None
        self.train_size, self.val_size, self.test_size = int(train_size), int(val_size), int(test_size)
        self.step = self.val_size if step is None else int(step)
        x.flags.writeable = False
        self.features = x  # per-day features (global inputs are these, standardised per fold)
        self.feature_names = names
        self.input_names = relative_names(names, self.kind) if self.relative_inputs else names
        self.n_features = len(self.input_names)  # per time step of the model's input
        self.n_rows = x.shape[0]
        self.frame = aligned
        self.dates = aligned["date"].to_numpy(dtype="datetime64[ns]")
        self.values = aligned[self.value_name].to_numpy(dtype=np.float64)
        self.test = slice(self.n_rows - self.test_size, self.n_rows)
        self._all_values = frame[self.value_name].to_numpy(dtype=np.float64)
        self._offset = self.ma_window - 1  # feature row i is series row i + offset
        self._target = target_series(self._all_values, self.target_form)[self._offset :]
        self._inputs_cache: dict[int, np.ndarray] = {}
        self._fold_cache: dict[int, win.FoldWindows] = {}
        self._final_cache: dict[int, win.FinalWindows] = {}

    # --- windows ---------------------------------------------------------------------------
    def _check_window(self, window) -> int:
        w = positive_int("window", window, ValueError)
        if w >= self.train_size:
            raise ValueError(
                f"window ({w}) must be smaller than train_size ({self.train_size}): "
                f"a training sample needs {w} input days plus a target day"
            )
        return w

    def _inputs(self, w: int) -> np.ndarray:
        if w not in self._inputs_cache:
            if self.relative_inputs:
                self._inputs_cache[w] = relative_windows(self.features, self.feature_names, self.kind, w)[0]
            else:
                view = np.lib.stride_tricks.sliding_window_view(self.features, w, axis=0)
                self._inputs_cache[w] = view.transpose(0, 2, 1)
        return self._inputs_cache[w]

    def _split(self, train: slice, eval_stop: int, w: int) -> dict:
        rows = None if self.relative_inputs else self.features[train]
        return win.split(self._inputs(w), rows, self._target, self.values, self.target_form, train, eval_stop, w)

    def fold_windows(self, window: int) -> win.FoldWindows:
        """Window tensors for every fold, standardised with that fold's training statistics."""
        w = self._check_window(window)
        if w not in self._fold_cache:
            parts = [self._split(f.train, f.val.stop, w) for f in self.folds]
            self._fold_cache[w] = win.fold_windows(parts, w, self.target_form, [self.dates[f.val] for f in self.folds])
        return self._fold_cache[w]

    def final_windows(self, window: int) -> win.FinalWindows:
        """Train on the last train_size+val_size rows before the test block; test on it."""
        w = self._check_window(window)
        if w not in self._final_cache:
            stop = self.test.start
            part = self._split(slice(stop - self.train_size - self.val_size, stop), self.n_rows, w)
            self._final_cache[w] = win.final_windows(part, w, self.target_form, self.dates[self.test])
        return self._final_cache[w]

    # --- baselines -------------------------------------------------------------------------
    def _seasonal_naive(self, t_eval: np.ndarray) -> np.ndarray | None:
        """The value one period before each target day t+1 (own units); None if unavailable."""
        lag = t_eval + 1 + self._offset - self.period  # series row of the same day one period earlier
        return None if lag.min() < 0 else self._all_values[lag]

    def baselines(self, window: int = 20) -> dict:
        """Persistence, ridge (alpha=1 on the flattened windows) and, with a ``period``, seasonal
        naive, on every fold's validation block and on the test block.

        Keys: ``window, target, kind, unit, period, n_folds, notes``;
        ``{persistence,ridge}_val_mse`` (mean over folds) ``_val_mse_folds``, ``_test_mse`` in
        training units (those of the engine's loss); ``*_val_mse_price_folds`` and
        ``*_test_mse_price`` in the series' own units (``unit``); ``*_val_skill`` (mean over
        folds), ``*_val_skill_folds``, ``*_test_skill``; ``ridge_{val,test}_skill_target`` (skill in
        training units, mean over folds); with a period the same for
        ``seasonal_naive`` (own units and skill only).  Raises ValueError when a baseline is not
        finite."""
        w = self._check_window(window)
        fw, fin = self.fold_windows(w), self.final_windows(w)
        notes, seasonal_val, seasonal_test = [], None, None
        if self.period is not None:
            evals = [np.arange(f.val.start - 1, f.val.stop - 1) for f in self.folds]
            seasonal = [self._seasonal_naive(t) for t in evals]
            seasonal_test = self._seasonal_naive(np.arange(self.test.start - 1, self.n_rows - 1))
            if any(s is None for s in seasonal) or seasonal_test is None:
                notes.append(
                    f"no seasonal-naive baseline: the first fold's validation block starts less than "
                    f"one period ({self.period} rows) into the series"
                )
                seasonal_test = None
            else:
                seasonal_val = seasonal
        return compute_baselines(
            fw,
            fin,
            seasonal_val,
            seasonal_test,
            target=self.target,
            kind=self.kind,
            unit=self.unit,
            period=self.period,
            notes=notes,
        )

    # --- reporting -------------------------------------------------------------------------
    def describe(self) -> str:
        """A few lines for logs and reports."""

        def day(i):
            return fmt_date(self.dates[i])

        f0, fl = self.folds[0], self.folds[-1]
        inputs = "per-window relative" if self.relative_inputs else "standardised per fold"
        shown = ", ".join(self.input_names[:6]) + (f" + {self.n_features - 6} calendar" if self.n_features > 6 else "")
        season = f", period {self.period}" if self.period else ""
        return "\n".join(
            [
                f"{type(self).__name__}: {self.kind} series '{self.value_name}', {self.n_rows} rows {day(0)}..{day(-1)} "
                f"(after the {self.ma_window}-day MA), target {self.target} ({self.target_form}){season}",
                f"  {self.n_features} inputs per day ({inputs}): {shown}",
                f"  {len(self.folds)} walk-forward folds: train {self.train_size} / val {self.val_size} rows, "
                f"step {self.step}; val blocks {day(f0.val.start)}..{day(fl.val.stop - 1)}",
                f"  test: last {self.test_size} rows {day(self.test.start)}..{day(-1)}",
            ]
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, n_rows={self.n_rows}, folds={len(self.folds)}, "
            f"target={self.target!r}, n_features={self.n_features})"
        )


class StockTask(SeriesTask):
    """``SeriesTask`` with the reference NVDA sizes as defaults: train 3000 / val 500 / test 800."""

    def __init__(
        self,
        ohlcv: pd.DataFrame,
        *,
        train_size: int | None = REFERENCE_SIZES[0],
        val_size: int | None = REFERENCE_SIZES[1],
        test_size: int | None = REFERENCE_SIZES[2],
        **kwargs,
    ):
        super().__init__(ohlcv, train_size=train_size, val_size=val_size, test_size=test_size, **kwargs)


def _as_kind(frame: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    """The frame as a price or value series (``kind=None``: as its columns say)."""
    if kind is None or kind == series_kind(frame):
        return frame
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    name = value_name(frame)
    if kind == "value":
        out = frame[["date", name]].copy()
        out.attrs.update(frame.attrs)
        return out
    as_close = pd.DataFrame({"date": frame["date"], "close": frame[name]})
    as_close.attrs.update(frame.attrs)
    return from_frame(as_close, source=f"value column {name!r} as a price series")
