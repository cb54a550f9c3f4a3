"""The one checker behind every loader: column matching, dates, numbers, order, NaNs, ranges.

Two kinds of series come out of it (``series_kind``):

* a **price** series: ``date, open, high, low, close, volume`` (+ ``adj_close``), all prices > 0
  (a close column alone is enough: open/high/low are taken as the close, volume as 0);
* a **value** series: ``date`` and one value column keeping its own name (``meantemp``), any
  finite number (temperatures go below 0, so no range or jump checks).

Every problem is one ``DataError`` naming the source, the column and the row.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
NAN_POLICIES = ("raise", "ffill")
MAX_DAILY_FACTOR = 1000.0  # a price moving 1000x between consecutive rows is refused as a glitch

# normalised header (lower case, letters and digits only) -> canonical column name
CANONICAL_HEADERS = {
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "adjclose": "adj_close",
}
_OHLCV = ("open", "high", "low", "close", "volume", "adj_close")


class DataError(ValueError):
    """Bad input data; the message names the source, the column and the row where it can."""


def series_kind(frame: pd.DataFrame) -> str:
    """``"price"`` for a validated OHLCV frame, ``"value"`` for ``date`` + one value column."""
    return "price" if set(REQUIRED_COLUMNS) <= set(frame.columns) else "value"


def value_name(frame: pd.DataFrame) -> str:
    """The forecast column of a validated frame: ``close``, or the value column's name."""
    if series_kind(frame) == "price":
        return "close"
    return str(next(c for c in frame.columns if c != "date"))


def norm(name) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def fmt_date(ts) -> str:
    ts = pd.Timestamp(ts)
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _delimiter_hint(df: pd.DataFrame) -> str:
    if len(df.columns) == 1 and any(s in str(df.columns[0]) for s in ";\t|"):
        return " (only one column was found: is the file delimited by something other than commas?)"
    return ""


def _match_columns(df: pd.DataFrame, source: str, value_column) -> tuple[str, dict]:
    """(kind, canonical name -> the frame's column). A frame with any OHLCV header is a price
    series (checked for the required set); otherwise date + one value column, or the column
    named by ``value_column``."""
    found: dict[str, object] = {}
    for col in df.columns:
        canon = CANONICAL_HEADERS.get(norm(col))
        if canon is None:
            continue
        if canon in found:
            raise DataError(f"{source}: columns {found[canon]!r} and {col!r} both match {canon!r}")
        found[canon] = col
    names = [str(c) for c in df.columns]
    if value_column is None and any(c in found for c in _OHLCV):
        missing = [c for c in REQUIRED_COLUMNS if c not in found]
        # a close series alone is enough to forecast: open/high/low are taken as the close, volume as 0
        close_only = "date" in found and "close" in found and {"open", "high", "low"} <= set(missing)
        if close_only and set(missing) <= {"open", "high", "low", "volume"}:
            missing = []
        if missing:
            raise DataError(
                f"{source}: missing required column(s) {', '.join(missing)}; found columns "
                f"{names} (names are matched ignoring case, spaces and underscores; a series "
                f"that is not prices needs a date and one value column){_delimiter_hint(df)}"
            )
        return "price", found
    if "date" not in found:
        raise DataError(
            f"{source}: missing a date column; found columns {names} (expected 'date' plus "
            f"either open/high/low/close/volume or one value column){_delimiter_hint(df)}"
        )
    others = [c for c in df.columns if c != found["date"]]
    if value_column is not None:
        match = [c for c in others if c == value_column] or [c for c in others if norm(c) == norm(value_column)]
        if len(match) != 1:
            raise DataError(f"{source}: value_column {value_column!r} is not among the columns {names}")
        return "value", {"date": found["date"], "value": match[0]}
    if len(others) != 1:
        what = "no value column" if not others else f"{len(others)} value columns {[str(c) for c in others]}"
        raise DataError(
            f"{source}: found {what}; a value series needs exactly one besides the date "
            f"(pass value_column= to pick one)"
        )
    return "value", {"date": found["date"], "value": others[0]}


def validate(df: pd.DataFrame, source: str, nan_policy: str, labels: Sequence[str], value_column=None) -> pd.DataFrame:
    """A validated price or value frame (see the module doc); ``labels`` name the rows in messages."""
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    kind, found = _match_columns(df, source, value_column)
    if len(df) == 0:
        raise DataError(f"{source}: no data rows")
    labels = np.asarray(labels, dtype=object)
    d = _checked_dates(df[found["date"]].reset_index(drop=True), source, found["date"], labels)

    def where(i: int) -> str:
        return f"{labels[i]} ({fmt_date(d[i])})"

    columns = [c for c in _OHLCV if c in found] if kind == "price" else ["value"]
    values = {c: _checked_numbers(df[found[c]].reset_index(drop=True), source, found[c], where) for c in columns}
    if kind == "price":
        for canon in ("open", "high", "low", "volume"):
            if canon not in values:  # a close-only series
                values[canon] = values["close"].copy() if canon != "volume" else np.zeros_like(values["close"])
                found[canon] = found["close"] if canon != "volume" else "volume (absent: 0)"
        columns = [c for c in _OHLCV if c in values]

    order = _date_order(d, source, labels, where)
    d, labels = d[order], labels[order]
    values = {k: v[order] for k, v in values.items()}
    values = _fill_missing(values, columns, found, nan_policy, source, labels, d)
    if kind == "price":
        _check_price_ranges(values, columns, found, source, labels, d)
        return pd.DataFrame({"date": d, **{k: values[k] for k in columns}})
    name = str(found["value"]).strip()
    return pd.DataFrame({"date": d, name: values["value"]})


def _checked_dates(raw: pd.Series, source: str, column, labels) -> np.ndarray:
    dates = parse_dates(raw)
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        value = raw.iloc[i]
        what = "missing date" if is_missing(value) else f"unparseable date {value!r}"
        raise DataError(f"{source}: column {column!r} has a {what} at {labels[i]}")
    return dates.to_numpy(dtype="datetime64[ns]")


def _checked_numbers(raw: pd.Series, source: str, column, where) -> np.ndarray:
    num, bad = parse_numbers(raw)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: column {column!r} has a non-numeric value {raw.iloc[i]!r} at {where(i)}")
    inf = np.isinf(num)
    if inf.any():
        raise DataError(f"{source}: column {column!r} has an infinite value at {where(int(np.argmax(inf)))}")
    return num


def _date_order(d: np.ndarray, source: str, labels, where) -> np.ndarray:
    """Row order, oldest first: as given, or fully reversed (newest-first exports); else an error."""
    dup = pd.Series(d).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        j = int(np.argmax(d == d[i]))
        raise DataError(f"{source}: duplicate date {fmt_date(d[i])} at {labels[j]} and {labels[i]}")
    order = np.arange(len(d))
    if len(d) > 1:
        diff = np.diff(d.astype(np.int64))
        if (diff < 0).all():
            return order[::-1]
        if not (diff > 0).all():
            ascending = (diff > 0).sum() >= (diff < 0).sum()
            wrong = diff < 0 if ascending else diff > 0
            i = int(np.argmax(wrong)) + 1
            raise DataError(
                f"{source}: dates out of order at {where(i)}, which follows "
                f"{fmt_date(d[i - 1])} ({labels[i - 1]}); expected oldest first "
                f"(or a fully reversed, newest-first series)"
            )
    return order


def _fill_missing(values: dict, columns, found, nan_policy, source, labels, d) -> dict:
    nan_rows = {k: np.flatnonzero(np.isnan(v)) for k, v in values.items()}
    nan_rows = {k: r for k, r in nan_rows.items() if len(r)}
    if not nan_rows:
        return values
    col, rows = min(nan_rows.items(), key=lambda kv: (kv[1][0], columns.index(kv[0])))
    if nan_policy == "raise":
        raise DataError(
            f"{source}: column {found[col]!r} has a missing value (NaN) at "
            f"{labels[rows[0]]} ({fmt_date(d[rows[0]])}); pass nan_policy='ffill' "
            f"to carry the previous day's value forward"
        )
    first = [k for k, r in nan_rows.items() if r[0] == 0]
    if first:
        raise DataError(
            f"{source}: column {found[first[0]]!r} has a missing value (NaN) on the "
            f"first day, {labels[0]} ({fmt_date(d[0])}), so it cannot be forward-filled"
        )
    return {k: pd.Series(v).ffill().to_numpy() for k, v in values.items()}


def _check_price_ranges(values: dict, columns, found, source, labels, d) -> None:
    for canon in columns:
        v = values[canon]
        bad = v < 0 if canon == "volume" else v <= 0
        if bad.any():
            i = int(np.argmax(bad))
            what = "negative volume" if canon == "volume" else "non-positive price"
            raise DataError(
                f"{source}: column {found[canon]!r} has a {what} {v[i]:g} at {labels[i]} ({fmt_date(d[i])})"
            )
    # a price that moves by a factor of MAX_DAILY_FACTOR or more from one row to the next is a data
    # error (a close of 1e300 in a normal series), not a market move; it would overflow the features
    for canon in (c for c in columns if c in PRICE_COLUMNS):
        v = values[canon]
        if len(v) > 1:
            with np.errstate(over="ignore", divide="ignore"):
                jump = np.maximum(v[1:] / v[:-1], v[:-1] / v[1:])
            if (jump >= MAX_DAILY_FACTOR).any():
                i = int(np.argmax(jump >= MAX_DAILY_FACTOR)) + 1
                raise DataError(
                    f"{source}: column {found[canon]!r} jumps from {v[i - 1]:g} to {v[i]:g} at "
                    f"{labels[i]} ({fmt_date(d[i])}), a factor of {jump[i - 1]:.3g} in one row: "
                    f"a data error? (more than {MAX_DAILY_FACTOR:g}x is refused)"
                )


def is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
        or value is pd.NaT
        or value is pd.NA
    )


def parse_dates(raw: pd.Series) -> pd.Series:
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
            except (ValueError, TypeError, OverflowError, NotImplementedError):
                continue
            if parsed is None or attempt.isna().sum() < parsed.isna().sum():
                parsed = attempt
            if not parsed.isna().any():
                break
        if parsed is None:
            parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    # pandas >= 3.1 parses '-5' as the year -5 (microsecond resolution); dates outside the
    # nanosecond range (1677-2262) count as unparseable instead of overflowing the cast
    return parsed.where(parsed.between(pd.Timestamp.min, pd.Timestamp.max)).astype("datetime64[ns]")


def parse_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN for missing, mask of present-but-non-numeric entries)."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64), np.zeros(len(raw), bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return pd.to_numeric(raw).to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(raw), bool)
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.array([is_missing(v) for v in text], dtype=bool)
    return num, np.isnan(num) & ~missing
