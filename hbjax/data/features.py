"""Per-day features and the per-window ("relative") inputs of the scale-free target.

Two ways to present a window of days to the model:

* **global** (targets ``close``/``level`` and ``return``): the per-day feature matrix of
  ``make_features``, standardised per fold with the training rows' mean and std.  Price levels
  as inputs: a fold whose prices left the training range feeds the model values it never saw.
* **relative** (target ``relative``, the default): every window is expressed relative to its own
  last day, using only the days inside the window (``relative_windows``).  For a price series:
  log(price / last close) for open, high, low, close and the moving average, and
  log((1 + volume) / (1 + the window's mean volume)); multiplying the whole series by 1000
  changes nothing.  For a value series (temperature): value - last value, moving average - last
  value, and the level itself (a seasonal series' level says where in the season it is).
  Calendar one-hots pass through.  The task then standardises these per fold with statistics of
  the training windows only.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd

from .validation import DataError, series_kind, value_name

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
_CALENDAR = ("month_", "weekday_", "year_")


def make_features(
    frame: pd.DataFrame, *, ma_window: int = 30, calendar: bool = False
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """Per-day features of a validated frame.

    Price series: open, high, low, close, log1p(volume), moving average of close.  Value series:
    the value and its moving average.  The moving average of day t is the mean of days
    t-ma_window+1..t (backward-looking, so no future leaks in); the first ``ma_window - 1`` days
    have none and are dropped.  ``calendar=True`` adds month (12) and weekday (Mon..Fri, 5)
    one-hots and ``(year-2000)/10``.  Returns (float64 matrix [n - ma_window + 1, F], names,
    frame of ``date`` and the forecast column (``close`` or the value's name) aligned with the
    matrix rows)."""
    if isinstance(ma_window, bool) or not isinstance(ma_window, Integral) or ma_window < 1:
        raise ValueError(f"ma_window must be an integer >= 1, got {ma_window!r}")
    ma_window = int(ma_window)
    n = len(frame)
    if n < ma_window:
        raise DataError(f"too few rows for a {ma_window}-day moving average: the series has {n} rows")
    name = value_name(frame)
    value = frame[name].to_numpy(dtype=np.float64)
    moving_average = pd.Series(value).rolling(ma_window).mean().to_numpy()
    if series_kind(frame) == "price":
        cols = [frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low")]
        cols += [value, np.log1p(frame["volume"].to_numpy(dtype=np.float64)), moving_average]
        names = ["open", "high", "low", "close", "log1p_volume", f"close_ma{ma_window}"]
    else:
        cols, names = [value, moving_average], [name, f"{name}_ma{ma_window}"]
    dates = pd.DatetimeIndex(frame["date"])
    if calendar:
        month = dates.month.to_numpy()
        weekday = dates.day_of_week.to_numpy()
        cols += [(month == m).astype(np.float64) for m in range(1, 13)]
        cols += [(weekday == w).astype(np.float64) for w in range(5)]
        cols += [(dates.year.to_numpy() - 2000) / 10.0]
        names += [f"month_{m}" for m in range(1, 13)] + [f"weekday_{w}" for w in _WEEKDAYS] + ["year_scaled"]
    start = ma_window - 1
    x = np.column_stack(cols)[start:].astype(np.float64)
    aligned = pd.DataFrame({"date": dates[start:], name: value[start:]})
    return x, names, aligned


def relative_windows(x: np.ndarray, names: list[str], kind: str, window: int) -> tuple[np.ndarray, list[str]]:
    """Every window of ``window`` consecutive rows of ``make_features``' matrix, expressed
    relative to its own last row (see the module doc): float64 [n - window + 1, window, F'];
    entry i is the window ending at row i + window - 1.  Uses only the rows inside each window."""
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0).transpose(0, 2, 1)  # [.., W, F]
    calendar = [j for j, n in enumerate(names) if n.startswith(_CALENDAR)]
    if kind == "price":
        prices = [names.index(c) for c in ("open", "high", "low", "close")] + [5]  # 5: the moving average
        last_close = view[:, -1:, names.index("close")][..., None]  # [.., 1, 1]
        rel = np.log(view[..., prices] / last_close)
        log_volume = view[..., names.index("log1p_volume")]
        mean_volume = np.expm1(log_volume).mean(axis=1, keepdims=True)  # the window's own volume level
        volume = log_volume - np.log1p(mean_volume)
        parts = [rel[..., :4], volume[..., None], rel[..., 4:]]
    else:
        last = view[:, -1:, 0][..., None]
        parts = [view[..., :2] - last, view[..., :1]]
    parts.append(view[..., calendar])
    return np.concatenate(parts, axis=-1), relative_names(names, kind)


def relative_names(names: list[str], kind: str) -> list[str]:
    """The names of ``relative_windows``' features, given ``make_features``' names."""
    if kind == "price":
        own = ["open_rel", "high_rel", "low_rel", "close_rel", "volume_rel", f"{names[5]}_rel"]
    else:
        own = [f"{names[0]}_diff", f"{names[1]}_diff", f"{names[0]}_level"]
    return own + [n for n in names if n.startswith(_CALENDAR)]
