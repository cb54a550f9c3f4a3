"""The trials table: one row per config per rung, and the best config."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["TRIAL_COLUMNS", "Result", "Trials"]

TRIAL_COLUMNS = (
    "config_id",
    "iteration",
    "bracket",
    "rung",
    "resource",
    "loss",
    "promoted",
    "diverged",
    "seconds",
    "rung_seconds",
)


@dataclass
class Trials:
    """Rows of ``TRIAL_COLUMNS`` plus one column per hyperparameter."""

    rows: list[dict] = field(default_factory=list)
    param_names: tuple[str, ...] = ()

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        columns = list(TRIAL_COLUMNS) + [p for p in self.param_names if p not in TRIAL_COLUMNS]
        extra = sorted({k for r in self.rows for k in r} - set(columns))
        return pd.DataFrame(self.rows, columns=columns + extra)

    def to_csv(self, path) -> Path:
        path = Path(path)
        self.to_frame().to_csv(path, index=False)
        return path

    def to_json(self, path) -> Path:
        path = Path(path)
        path.write_text(json.dumps([_json_safe(r) for r in self.rows], indent=1))
        return path

    def to_parquet(self, path) -> Path:
        """Needs pyarrow or fastparquet; raises a clear ImportError otherwise."""
        path = Path(path)
        try:
            self.to_frame().to_parquet(path, index=False)
        except ImportError as err:
            raise ImportError("Parquet export needs pyarrow: pip install pyarrow") from err
        return path


def _json_safe(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


@dataclass
class Result:
    """What a search returns. ``best_*`` is the smallest finite loss seen at any rung (Algorithm 1
    returns the best intermediate loss); ``None`` if every config diverged."""

    trials: Trials
    best_config: dict | None
    best_loss: float
    best_config_id: int | None
    best_resource: float | None
    resource_spent: float
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    state: Any = None

    def to_frame(self) -> pd.DataFrame:
        return self.trials.to_frame()

    def summary(self) -> str:
        if self.best_config is None:
            return "no configuration finished with a finite loss (all diverged)"
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_config.items())
        return (
            f"best loss {self.best_loss:.6g} (config {self.best_config_id} at resource {self.best_resource:g}): "
            f"{params}\n{len(self.trials)} trial rows, resource spent {self.resource_spent:g}, {self.seconds:.1f} s"
        )

    def plot_losses(self, ax=None):
        from .reports.plots import plot_losses

        return plot_losses(self.to_frame(), ax=ax)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def param_column(name: str) -> str:
    """Hyperparameter column name; prefixed when it would collide with a fixed column (e.g. an
    SGDClassifier's ``loss``)."""
    return f"param_{name}" if name in TRIAL_COLUMNS else name


def trials_from_history(
    history: Sequence,
    configs: Sequence[dict],
    seconds_by_rung: dict,
    *,
    cost: Callable[[dict], float] | None = None,
    continued: bool = True,
    columns: Mapping | None = None,
) -> Trials:
    """The trials table. ``rung_seconds``: the wall time of the row's rung; ``seconds``: the
    config's share of it, so the column sums to the run's training time. A rung's time is shared
    by ``cost(config)`` (a backend's estimate per unit of resource; None: equal) times the
    resource the config trained in that rung (only the increment when survivors continue).
    ``columns``: (config id, resource) -> more columns of that row (a backend's
    ``trial_columns``, e.g. each seed's loss under :class:`hbjax.repeats.Repeats`)."""
    names = tuple(param_column(k) for k in configs[0]) if configs else ()
    trials = Trials(param_names=names)
    trained = _trained_resource(history, continued)
    rungs: dict[tuple, list[int]] = {}
    for i, o in enumerate(history):
        rungs.setdefault((o.iteration, o.bracket, o.rung), []).append(i)
    seconds = [float("nan")] * len(history)
    for key, rows in rungs.items():
        shares = share_seconds(
            seconds_by_rung.get(key, float("nan")),
            [configs[history[i].config_id] for i in rows],
            [trained[i] for i in rows],
            cost,
        )
        for i, share in zip(rows, shares):
            seconds[i] = share
    for i, o in enumerate(history):
        rung_seconds = seconds_by_rung.get((o.iteration, o.bracket, o.rung), float("nan"))
        trials.add(
            {
                "config_id": o.config_id,
                "iteration": o.iteration,
                "bracket": o.bracket,
                "rung": o.rung,
                "resource": o.resource,
                "loss": o.loss,
                "promoted": o.promoted,
                "diverged": not math.isfinite(o.loss),
                "seconds": seconds[i],
                "rung_seconds": rung_seconds,
                **{param_column(k): v for k, v in configs[o.config_id].items()},
                **dict((columns or {}).get((o.config_id, float(o.resource)), {})),
            }
        )
    return trials


def share_seconds(
    seconds: float, configs: Sequence[dict], trained: Sequence[float], cost: Callable[[dict], float] | None = None
) -> list[float]:
    """A job's wall time shared among its configs by ``cost(config)`` (a backend's estimate per
    unit of resource; None: equal) times the resource each trained in the job; the shares sum to
    ``seconds``."""
    weights = [float(t) * (1.0 if cost is None else float(cost(c))) for c, t in zip(configs, trained)]
    total = sum(weights)
    return [seconds * w / total if total > 0 else seconds / max(len(weights), 1) for w in weights]


def _trained_resource(history: Sequence, continued: bool) -> list[float]:
    """Per observation, the resource trained for it: the increment over the config's previous
    observation when survivors continue, else the whole resource."""
    last: dict[int, float] = {}
    out = []
    for o in history:
        previous = last.get(o.config_id, 0.0) if continued else 0.0
        out.append(max(float(o.resource) - previous, 0.0))
        last[o.config_id] = float(o.resource)
    return out
