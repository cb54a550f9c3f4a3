"""Daily series for next-day forecasting: loading, validation, features, targets, folds, baselines.

Pure NumPy/pandas (no JAX import), so the data side can be tested and used without an
accelerator.  The pieces, in the order a run uses them:

* ``load_nvda()`` / ``load_delhi_climate()`` / ``load_csv(path)`` / ``from_frame(df)`` -> a
  validated frame, oldest day first: a price series ``date, open, high, low, close, volume``
  (+ ``adj_close``) or a value series ``date, <value column>`` (``validation``; every problem is
  one ``DataError`` naming the source, the column and the row).
* ``make_features`` / ``relative_windows`` -> the model's inputs (``features``).
* ``targets``: what is predicted (default ``"relative"``: the next-day log return of a price, the
  next-day difference of a value), how a prediction becomes a price again, and the skill score
  1 - MSE / MSE_persistence that every report leads with.
* ``walk_forward`` -> train/validation ``Fold``s ending where the held-out test block starts.
* ``SeriesTask`` (any series) / ``StockTask`` (reference NVDA sizes) tie them together and build
  the float32 window tensors the LSTM engine trains on, standardised per fold with statistics of
  that fold's *training rows only*; ``baselines()`` scores persistence, seasonal naive and ridge.
"""

from __future__ import annotations

from .baselines import ridge_fit_predict
from .features import make_features, relative_windows
from .folds import Fold, default_sizes, walk_forward
from .loading import from_frame, load_csv, load_delhi_climate, load_nvda
from .targets import TARGET_FORMS, TARGETS, diebold_mariano, persistence_prediction, skill_score, to_values
from .task import SeriesTask, StockTask
from .validation import (
    DataError,
    series_kind,
    value_name,
)
from .windows import FinalWindows, FoldWindows

__all__ = [
    "TARGETS",
    "TARGET_FORMS",
    "DataError",
    "FinalWindows",
    "Fold",
    "FoldWindows",
    "SeriesTask",
    "StockTask",
    "default_sizes",
    "diebold_mariano",
    "from_frame",
    "load_csv",
    "load_delhi_climate",
    "load_nvda",
    "make_features",
    "persistence_prediction",
    "relative_windows",
    "ridge_fit_predict",
    "series_kind",
    "skill_score",
    "to_values",
    "value_name",
    "walk_forward",
]
