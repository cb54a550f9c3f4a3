"""Whether a space (from a file, a preset or a saved run) is one the LSTM backend can train,
checked before any data loads or JAX starts: one ``SpaceFileError`` naming the entry and the
problem."""

from __future__ import annotations

from ..runs.spacefile import entry, fail, is_number, show
from ..space import Choice, IntChoice, IntUniform, Space

__all__ = ["check_for_lstm"]


def _range(dim) -> tuple | None:
    """(min, max) of a dimension's values, or None when some value is not a number."""
    if not isinstance(dim, Choice):
        return dim.low, dim.high
    numbers_ = [o for o in dim.options if is_number(o)]
    return (min(numbers_), max(numbers_)) if len(numbers_) == len(dim.options) else None


def _lstm_problem(name: str, dim, allowed: dict) -> str | None:
    if name in allowed:
        bad = [o for o in dim.options if o not in allowed[name]] if isinstance(dim, Choice) else [dim]
        return f"must be a choice among {', '.join(allowed[name])}; got {show(bad[0])}" if bad else None
    span = _range(dim)
    if name == "lr" and not (span and span[0] > 0):
        return "learning rates must be numbers > 0"
    if name == "dropout" and not (span and 0 <= span[0] and span[1] < 1):
        return "dropout rates must lie in [0, 1)"
    if name in ("hidden", "layers", "batch_size", "window") and not (
        isinstance(dim, (IntChoice, IntUniform)) and span[0] >= 1
    ):
        return "must be whole numbers >= 1: an int range or a choice of integers"
    return None


def check_for_lstm(space: Space, *, train_size: int | None = None, window: int = 20, source: str = "<space>") -> None:
    """Raise ``SpaceFileError`` for a space the LSTM backend cannot train. With ``train_size``
    (a fold's training rows) also refuse batches larger than a fold's ``train_size - window``
    training windows; ``window`` is the input window when the space has no window dimension."""
    from .backend import SHAPE_KEYS, check_space  # imports JAX, so only when asked
    from .network import ACTIVATIONS
    from .optim import OPTIMIZERS

    required = ("lr", *SHAPE_KEYS)
    known = (*required, "dropout", "activation", "optimizer", "window")
    missing = [k for k in required if k not in space.dims]
    if missing:
        fail(source, "space", f"the LSTM backend needs {', '.join(required)}; missing {', '.join(missing)}")
    for name, dim in space.dims.items():
        if name not in known:
            fail(
                source,
                entry(name),
                "the LSTM backend does not know this hyperparameter; known: " + ", ".join(sorted(known)),
            )
        problem = _lstm_problem(name, dim, {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS})
        if problem:
            fail(source, entry(name), problem)
    try:
        check_space(space)  # the backend's own rules, should it gain some
    except ValueError as err:
        fail(source, "space", str(err))
    if train_size is not None:
        where = "space.window" if "window" in space.dims else "settings.window"
        widest = _range(space.dims["window"])[1] if "window" in space.dims else window
        if widest >= train_size:
            fail(source, where, f"window {widest} must be smaller than train_size {train_size}")
        rows, batch = train_size - widest, _range(space.dims["batch_size"])[1]
        if batch > rows:
            fail(
                source,
                "space.batch_size",
                f"batch size {batch} exceeds the {rows} training windows of a fold "
                f"(train_size {train_size} - window {widest})",
            )
