"""Checks of a user's flax model against its data, and its errors told by their real cause.

``fold_arrays(data)`` converts the four arrays a user gives (NumPy, pandas, JAX, lists) to what
the programs take and checks them once, after the conversion: rows, matching target shapes,
numbers only, no NaN or infinity (named by array and first bad row).

``explain(err)`` turns what JAX or flax raised inside a user's module into the cause a user can
act on (a traced value used as a Python bool, flax's ``nn.Dropout`` with a traced rate, BatchNorm's
``batch_stats``); ``broadcast_shape`` finds a loss that broadcasts predictions against targets of
another shape (``[64, 1]`` against ``[64]`` gives ``[64, 64]``), the most common silent mistake.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping

import jax
import numpy as np
from jax.extend import core as jcore

from ..engine.core import device_dtype
from ..engine.program import FoldArrays

__all__ = ["DATA_NAMES", "broadcast_shape", "explain", "fold_arrays"]

DATA_NAMES = ("x_train", "y_train", "x_val", "y_val")

_TRACER_ERRORS = (
    jax.errors.TracerBoolConversionError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
)


def explain(err: BaseException) -> str:
    """One line naming the cause of ``err`` raised by a user's module, loss or optimizer."""
    files = [frame.f_code.co_filename.replace("\\", "/") for frame, _ in traceback.walk_tb(err.__traceback__)]
    if isinstance(err, _TRACER_ERRORS):
        if any(f.endswith("flax/linen/stochastic.py") for f in files):
            return (
                "flax's nn.Dropout cannot take a traced rate (it tests `rate == 0.0` in Python): use "
                "hbjax.nn.Dropout(rate=hparams[...]), the same layer for a rate that is an array, or leave the "
                "rate out of traced= (static: one program per value)"
            )
        return (
            f"a traced value is used as a Python bool or number ({type(err).__name__}): a traced "
            f"hyperparameter (hparams[...]) is an array inside the shared program; compute with it in jnp "
            f"(jnp.where instead of `if`), or leave it out of traced= (static: one program per value)"
        )
    text = str(err)
    if "batch_stats" in text:
        return (
            "the model keeps BatchNorm's 'batch_stats': only the 'params' collection is trained; use "
            "nn.LayerNorm or nn.GroupNorm instead of nn.BatchNorm"
        )
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(err).__name__}: {first}"


def broadcast_shape(fn, predictions, targets) -> tuple | None:
    """The shape of the largest array ``fn(predictions, targets)`` builds when it is larger than
    both inputs and their shapes differ (a broadcast of mismatched shapes); None otherwise."""
    if tuple(predictions.shape) == tuple(targets.shape):
        return None
    limit = max(int(np.prod(predictions.shape)), int(np.prod(targets.shape)))
    closed = jax.make_jaxpr(fn)(predictions, targets)
    largest = max((shape for shape in _shapes(closed.jaxpr)), key=lambda s: int(np.prod(s)), default=())
    return tuple(largest) if int(np.prod(largest)) > limit else None


def _shapes(jaxpr):
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            yield tuple(getattr(var.aval, "shape", ()))
        for sub in jcore.jaxprs_in_params(eqn.params):
            yield from _shapes(sub)


def fold_arrays(data) -> tuple[FoldArrays, dict]:
    """(x_train, y_train, x_val, y_val) as one fold of device arrays, checked after conversion,
    and each array as the user gave it (``{"y_train": "bool[1300]"}``) for messages."""
    if isinstance(data, Mapping):
        missing = [k for k in DATA_NAMES if k not in data]
        if missing:
            raise ValueError(f"data has no {missing}: give (x_train, y_train, x_val, y_val) or a dict of them")
        data = [data[k] for k in DATA_NAMES]
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__") or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_val, y_val): four arrays, rows first")
    arrays, given = {}, {}
    for name, value in zip(DATA_NAMES, data):
        arrays[name], given[name] = _convert(name, value)
    for _split, x, y in (("train", "x_train", "y_train"), ("val", "x_val", "y_val")):
        if arrays[x].ndim < 1 or arrays[y].ndim < 1 or len(arrays[x]) != len(arrays[y]) or len(arrays[x]) == 0:
            raise ValueError(f"{x} and {y} must be non-empty with one row each (got {given[x]} and {given[y]})")
    for a, b in (("x_train", "x_val"), ("y_train", "y_val")):
        if arrays[a].shape[1:] != arrays[b].shape[1:]:
            raise ValueError(
                f"{b} rows are shaped {list(arrays[b].shape[1:])} but {a} rows {list(arrays[a].shape[1:])}"
                f" (given {given[a]} and {given[b]}): the model and its metric would see other shapes "
                f"in validation; reshape {b} like {a} (e.g. y.ravel() or df[col] for a column, not "
                f"df[[col]])"
            )
    return FoldArrays(*(arrays[k][None] for k in DATA_NAMES)), given


def _describe(value, a: np.ndarray) -> str:
    """An array as the user gave it: its type and dtype(s), and its shape."""
    dtypes = getattr(value, "dtypes", None)
    if dtypes is not None and not isinstance(dtypes, np.dtype) and hasattr(dtypes, "unique"):  # a DataFrame
        kinds = ", ".join(str(d) for d in dict.fromkeys(dtypes))
        return f"DataFrame({kinds}){list(a.shape)}"
    dtype = getattr(value, "dtype", a.dtype)
    return f"{dtype}{list(a.shape)}"


def _convert(name: str, value) -> tuple[np.ndarray, str]:
    """One array as the programs take it (floats float32, integer labels int32), checked."""
    raw = value.to_numpy() if hasattr(value, "to_numpy") else value
    try:
        a = np.asarray(raw)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} cannot be read as an array: {err}") from None
    given = _describe(value, a)
    if a.dtype == object or a.dtype.kind in "USV":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} ({given}) holds values that are not numbers{_bad_columns(value)}: encode them "
                f"as numbers first (e.g. pd.get_dummies(..., dtype=float) or .astype(float))"
            ) from None
    elif a.dtype.kind not in "biuf":
        raise ValueError(f"{name} ({given}) must hold numbers, got dtype {a.dtype}")
    if a.dtype.kind in "iu" and a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{name} ({given}) holds integers beyond int32, which the programs take labels as")
    with np.errstate(over="ignore"):  # beyond float32's range: found as infinite below
        out = device_dtype(a)
    if out.dtype.kind == "f":
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1) if out.ndim else ~np.isfinite(out)[None]
        if bad.any():
            row = int(np.argmax(bad))
            label = getattr(value, "index", None)
            index = label[row] if label is not None and len(label) == len(out) else None
            where = f"row {row}" + (
                f" (index {getattr(index, 'item', lambda: index)()!r})" if index is not None else ""
            )
            kind = "NaN" if np.isnan(out.reshape(len(out), -1)[row]).any() else "infinite values"
            big = " (beyond float32's range)" if kind != "NaN" and np.isfinite(a.reshape(len(a), -1)[row]).all() else ""
            raise ValueError(
                f"{name} ({given}) holds {kind}{big} in {int(bad.sum())} row(s), the first at {where}: "
                f"drop or fill those rows first (e.g. df.dropna())"
            )
    return out, given


def _bad_columns(value) -> str:
    """`` (columns [...])``: a DataFrame's columns that are not numbers."""
    columns = getattr(value, "columns", None)
    if columns is None:
        return ""
    bad = []
    for col in columns:
        try:
            np.asarray(value[col].to_numpy(), dtype=np.float64)
        except (TypeError, ValueError):
            bad.append(col)
    return f" (columns {bad})" if bad else ""
