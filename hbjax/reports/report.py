"""``hbjax report RUN_DIR``: a run directory's pictures and a one-page summary (``report.md``)
from its ``trials.csv``, ``summary.json`` and ``run.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import close_figure
from .plots import bracket_table, check_trials, plot_brackets, plot_losses, prune_points

__all__ = ["write_report"]


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.5g}" if math.isfinite(v) else str(v)
    return str(v)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_report(run_dir) -> list[Path]:
    """Write ``losses.png``, ``brackets.png`` and ``report.md`` into ``run_dir`` from its
    ``trials.csv`` (and ``summary.json`` / ``run.json`` when present). -> the written paths."""
    run_dir = Path(run_dir)
    trials_path = run_dir / "trials.csv"
    if not trials_path.exists():
        raise FileNotFoundError(f"{trials_path} not found: not an hbjax run directory")
    frame = check_trials(pd.read_csv(trials_path))
    if frame.empty:
        raise ValueError(f"{trials_path} has no trials yet")
    summary = _read_json(run_dir / "summary.json") or {}
    run = _read_json(run_dir / "run.json") or {}

    losses_png, brackets_png, report_md = run_dir / "losses.png", run_dir / "brackets.png", run_dir / "report.md"
    fig = plot_losses(frame)
    fig.savefig(losses_png, dpi=120, bbox_inches="tight")
    close_figure(fig)
    fig = plot_brackets(frame)
    fig.savefig(brackets_png, dpi=120, bbox_inches="tight")
    close_figure(fig)

    stops = prune_points(frame)
    finite = frame[np.isfinite(frame["loss"])]
    lines = [f"# hbjax run report: `{run_dir.name}`", ""]
    meta = run.get("meta") or {}
    if meta:
        space = meta.get("space")
        settings = {k: v for k, v in meta.items() if v is not None and k != "space"}
        lines += ["Settings: " + ", ".join(f"{k}={_fmt(v)}" for k, v in settings.items()), ""]
        if isinstance(space, dict):  # saved by the run: name -> {distribution: arguments}
            lines += ["Space: " + ", ".join(f"{name} {_fmt(spec)}" for name, spec in space.items()), ""]
        elif space is not None:
            lines += [f"Space: {space}", ""]
    if not run.get("finished", True):
        lines += ["**The run is not finished** (checkpoint after an interrupted rung; resume it).", ""]
    best_cfg = summary.get("best_config")
    if best_cfg is None and len(finite):
        best_row = finite.sort_values(["loss", "resource"], ascending=[True, False]).iloc[0]
        params = [
            c
            for c in frame.columns
            if c
            not in (
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
                "train_loss",
            )
        ]
        best_cfg = {p: best_row[p] for p in params}
        best_val = float(best_row["loss"])
    else:
        best_val = summary.get("best_val_loss", float(finite["loss"].min()) if len(finite) else None)
    lines += ["## Best configuration", ""]
    if best_cfg:
        lines += ["| hyperparameter | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in best_cfg.items()]
    else:
        lines.append("Every configuration diverged.")
    lines.append("")
    base = summary.get("baselines") or {}
    test = summary.get("test") or {}
    skill = None if best_val is None else 1.0 - float(best_val)

    def row(name, val_skill, test_skill):
        return f"| {name} | {_fmt(val_skill)} | {_fmt(test_skill)} |"

    lines += [
        "## Best config vs naive baselines (skill = 1 - MSE / persistence's MSE; > 0 beats persistence)",
        "",
        "| model | validation skill (mean over folds) | test skill |",
        "|---|---|---|",
        row("best LSTM", skill, test.get("test_skill")),
        row("persistence (tomorrow = today)", 0.0, 0.0),
        row("ridge", base.get("ridge_val_skill_target"), base.get("ridge_test_skill")),
    ]
    if "seasonal_naive_val_skill" in base:
        lines.append(
            row(
                f"seasonal naive (period {base.get('period')})",
                base["seasonal_naive_val_skill"],
                base.get("seasonal_naive_test_skill"),
            )
        )
    lines.append("")
    if not summary:
        lines += ["(no summary.json: baselines and test scores are not available for this run)", ""]
    elif test.get("test_skill") is not None:
        p = test.get("vs_persistence_p")
        significant = p is not None and math.isfinite(p) and p < 0.05
        said = (
            ("beats" if test["test_skill"] > 0 else "**is worse than**")
            if significant
            else "**is not distinguishable from**"
        )
        lines += [
            f"On the {test.get('n_test', '')} held-out test days the best LSTM {said} persistence (test MSE "
            f"{_fmt(test.get('test_mse_price'))} vs {_fmt(test.get('persistence_test_mse_price'))} "
            f"{test.get('unit', '')} units squared; Diebold-Mariano p = {_fmt(p)}).",
            "",
        ]

    lines += [
        "## Brackets",
        "",
        "| iteration | bracket s | rungs (configs x epochs) | configs | pruned | finished | diverged | best loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    table = bracket_table(frame).sort_values(["iteration", "bracket", "rung"], ascending=[True, False, True])
    for (it, s), rows in table.groupby(["iteration", "bracket"], sort=False):
        rungs = ", ".join(f"{int(n)}x{r:g}" for n, r in zip(rows["n_configs"], rows["resource"]))
        st = stops[(stops["iteration"] == it) & (stops["bracket"] == s)]
        b_loss = finite[(finite["iteration"] == it) & (finite["bracket"] == s)]["loss"]
        lines.append(
            f"| {it} | {s} | {rungs} | {len(st)} | {(st['kind'] == 'pruned').sum()} | "
            f"{(st['kind'] == 'finished').sum()} | {(st['kind'] == 'diverged').sum()} | "
            f"{_fmt(float(b_loss.min())) if len(b_loss) else 'n/a'} |"
        )
    lines.append("")
    spent = 0.0
    for _, rows in frame.sort_values(["config_id", "rung"]).groupby("config_id"):
        spent += float(rows["resource"].max())  # survivors continue: a config costs its last resource
    lines += [
        "## Cost",
        "",
        f"- config-epochs: {_fmt(summary.get('config_epochs', spent))}"
        + (f" on {summary['folds']} fold(s)" if "folds" in summary else ""),
        f"- trial rows: {len(frame)}, configs: {frame['config_id'].nunique()}",
        f"- wall time: {_fmt(summary.get('seconds', run.get('elapsed_seconds')))} s",
        f"- compiles: {_fmt(summary.get('compiles'))}",
        "",
        "## Plots",
        "",
        f"![losses]({losses_png.name})",
        "",
        f"![brackets]({brackets_png.name})",
        "",
    ]
    report_md.write_text("\n".join(lines))
    return [losses_png, brackets_png, report_md]
