"""Walk-forward folds, anchored on the held-out test block, and default sizes for short series."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from .validation import DataError

#: train / validation / test rows of the reference NVDA setup (the seed article's)
REFERENCE_SIZES = (3000, 500, 800)


@dataclass(frozen=True)
class Fold:
    """One walk-forward split: row positions in the feature matrix; ``val`` follows ``train``.
    ``index`` is the fold's position in ``SeriesTask.folds`` (the K axis of FoldWindows)."""

    index: int
    train: slice
    val: slice


def positive_int(name: str, value, error=DataError) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise error(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def default_sizes(n_rows: int) -> tuple[int, int, int]:
    """(train, val, test) rows for a series of ``n_rows`` feature rows: the reference
    3000/500/800 when it fits, else half the rows to train, a twelfth per validation block and an
    eighth held out (four folds; e.g. 716/119/179 for the 1,433 rows of the Delhi climate)."""
    if n_rows >= sum(REFERENCE_SIZES):
        return REFERENCE_SIZES
    return max(n_rows // 2, 1), max(n_rows // 12, 1), max(n_rows // 8, 1)


def walk_forward(
    n_rows: int,
    *,
    train_size: int = 3000,
    val_size: int = 500,
    step: int | None = None,
    test_size: int = 800,
    max_folds: int | None = None,
) -> tuple[Fold, ...]:
    """Sliding folds over the rows before the held-out last ``test_size`` rows, anchored on it.

    The last fold's validation block ends where the test block starts; each earlier fold sits
    ``step`` rows (default ``val_size``: consecutive, non-overlapping validation blocks) further
    back, as many as fit.  The oldest rows (fewer than ``step``) are the ones no fold uses, so the
    most recent data before the test block is always validated on.  Folds are numbered oldest
    first; ``max_folds`` keeps only the LAST (most recent) ones, renumbered from 0."""
    n_rows = int(n_rows)
    train_size = positive_int("train_size", train_size)
    val_size = positive_int("val_size", val_size)
    test_size = positive_int("test_size", test_size)
    step = val_size if step is None else positive_int("step", step)
    if max_folds is not None:
        max_folds = positive_int("max_folds", max_folds)
    usable = n_rows - test_size
    need = train_size + val_size + test_size
    if usable < train_size + val_size:
        raise DataError(
            f"too few rows for one walk-forward fold: {n_rows} rows available, need "
            f"train_size + val_size + test_size = {train_size} + {val_size} + {test_size} = {need}"
        )
    count = (usable - train_size - val_size) // step + 1
    if max_folds is not None:
        count = min(count, max_folds)
    folds = []
    for i in range(count):
        stop = usable - (count - 1 - i) * step  # fold i's validation block ends here
        start = stop - val_size
        folds.append(Fold(i, slice(start - train_size, start), slice(start, stop)))
    return tuple(folds)
