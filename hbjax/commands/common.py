"""Pieces the command-line commands share: data and space by name, one-line usage errors,
skill formatting, JSON output. Imports stay lazy (JAX only when a command needs it)."""

from __future__ import annotations

import json
import math
from pathlib import Path


class UsageError(ValueError):
    pass


def load_series(data: str):
    from ..data import load_csv, load_delhi_climate, load_nvda

    presets = {"nvda": load_nvda, "delhi": load_delhi_climate}
    return presets[data.lower()]() if data.lower() in presets else load_csv(data)


def task_of(args):
    """The walk-forward task of ``--data`` (sizes left unset fit the series' length)."""
    from ..data import SeriesTask

    return SeriesTask(
        load_series(args.data),
        train_size=args.train_size,
        val_size=args.val_size,
        test_size=args.test_size,
        max_folds=args.folds,
        target=args.target,
    )


def format_skill(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.4f}"


def baseline_skills(baselines: dict, split: str, suffix: str = "") -> str:
    """'ridge +0.0027, seasonal naive -3.5466' for the baselines a task reports."""
    names = [("ridge", "ridge"), ("seasonal_naive", "seasonal naive")]
    return ", ".join(
        f"{label} {format_skill(baselines[f'{key}_{split}_skill{suffix}'])}"
        for key, label in names
        if f"{key}_{split}_skill{suffix}" in baselines
    )


def space_of(name):
    """A preset name, an experiment file (.toml/.json/.yaml), or a saved run's space (a dict)."""
    from ..lstm.backend import default_space, demo_space
    from ..runs.spacefile import is_space_file, load_experiment, space_from_dict

    if isinstance(name, dict):
        return space_from_dict(name, source="the saved run's space")
    if is_space_file(name):
        return load_experiment(name).space
    spaces = {"default": default_space, "demo": demo_space}
    if name not in spaces:
        raise UsageError(
            f"unknown --space {name!r}; choose one of {sorted(spaces)} or give a .toml, .json or "
            f".yaml file (see examples/experiment.toml)"
        )
    return spaces[name]()


def apply_resume(args, resumable):
    """For ``--resume DIR``: the saved run's settings (of ``resumable``) onto ``args`` and its
    output directory; -> the cost constants it planned with (None: not resuming or none saved),
    so a resume plans the same programs and floats."""
    from ..runs.checkpoint import read_run_meta

    if not args.resume:
        return None
    args.out = args.resume
    saved = read_run_meta(args.resume)
    for key, value in saved.items():  # the saved run's settings win
        if key in resumable:
            setattr(args, key, value)
    if "cost_constants" not in saved:
        return None
    from ..engine.cost import CostModel

    return CostModel.from_dict(saved["cost_constants"])


def programs_detail(backend):
    """() -> the engine's programs and compiles of the last wave or rung, for a progress line."""

    def detail() -> str:
        stats = backend.wave_stats or backend.engine.rung_stats[-1]
        return (
            f"{stats['programs']} program(s), {stats['compiles']} compiled in {stats['compile_s']:.1f} s "
            f"(devices idle {stats.get('compile_idle_s', 0.0):.1f} s for them)"
        )

    return detail


def compile_wait(engine, seconds: float) -> tuple[str, dict]:
    """A run's compiles for its last lines and its summary.json: (a sentence, the figures): the
    programs compiled, their seconds beside training, how long the devices sat idle waiting for
    them (training's wait: the mean over devices) and its share of the run's wall time, and how
    long the dispatch waited (also while the devices still had work)."""

    def total(key):
        return float(sum(s.get(key, 0.0) for s in engine.rung_stats))

    idle, waited = total("compile_idle_s"), total("compile_wait_s")
    figures = {
        "compile_idle_s": idle,
        "compile_idle_share": idle / max(seconds, 1e-9),
        "compile_wait_s": waited,
        "compile_wait_share": waited / max(seconds, 1e-9),
        "compiles": engine.compiles,
        "compile_s_beside_training": engine.compile_seconds,
    }
    text = (
        f"{engine.compiles} programs compiled on background threads ({engine.compile_seconds:.1f} s beside "
        f"training); the devices sat idle {idle:.1f} s waiting for them "
        f"({100 * figures['compile_idle_share']:.0f}% of the run; the dispatch waited {waited:.1f} s)"
    )
    return text, figures


def write_json(path: Path, obj) -> None:
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(clean(obj), indent=2, default=float))
    tmp.replace(path)
