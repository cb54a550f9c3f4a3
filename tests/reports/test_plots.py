"""Plots: prune markers where configs stopped, bracket diagram, comparison, and the run report."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax.reports.plots import plot_brackets, plot_comparison, plot_losses, prune_points
from hbjax.reports.report import write_report


def _row(cid, bracket, rung, resource, loss, promoted, it=0):
    return dict(
        config_id=cid,
        iteration=it,
        bracket=bracket,
        rung=rung,
        resource=resource,
        loss=loss,
        promoted=promoted,
        diverged=not math.isfinite(loss),
        seconds=0.1,
        lr=0.01 * (cid + 1),
    )


HAND = pd.DataFrame(
    [
        # bracket s=2: 0..3 at 1 epoch; 0 and 1 promoted; 2 pruned; 3 diverged
        _row(0, 2, 0, 1.0, 0.50, True),
        _row(1, 2, 0, 1.0, 0.40, True),
        _row(2, 2, 0, 1.0, 0.90, False),
        _row(3, 2, 0, 1.0, float("nan"), False),
        # rung 1 at 3 epochs: 1 promoted, 0 pruned
        _row(0, 2, 1, 3.0, 0.30, False),
        _row(1, 2, 1, 3.0, 0.20, True),
        # rung 2 at 9 epochs: 1 finishes
        _row(1, 2, 2, 9.0, 0.10, False),
        # bracket s=0: 4 finishes at 9, 5 diverged (inf) at 9
        _row(4, 0, 0, 9.0, 0.15, False),
        _row(5, 0, 0, 9.0, float("inf"), False),
    ]
)


def _markers(fig, gid):
    pts = [tuple(p) for line in fig.axes[0].get_lines() if line.get_gid() == gid for p in line.get_xydata()]
    return sorted(pts)


def test_prune_points_are_each_configs_last_rung():
    stops = prune_points(HAND).set_index("config_id")
    assert stops.loc[0, ["rung", "resource", "kind"]].tolist() == [1, 3.0, "pruned"]
    assert stops.loc[1, ["rung", "resource", "kind"]].tolist() == [2, 9.0, "finished"]
    assert stops.loc[2, ["rung", "resource", "kind"]].tolist() == [0, 1.0, "pruned"]
    assert stops.loc[3, "kind"] == "diverged" and stops.loc[5, "kind"] == "diverged"
    assert stops.loc[4, "kind"] == "finished"
    # an interrupted run: promoted at its last row -> still running
    running = prune_points(HAND[HAND.rung == 0]).set_index("config_id")
    assert running.loc[1, "kind"] == "running" and running.loc[2, "kind"] == "pruned"


def test_plot_losses_markers_at_stops():
    fig = plot_losses(HAND)
    assert _markers(fig, "pruned") == [(1.0, 0.90), (3.0, 0.30)]
    assert _markers(fig, "finished") == [(9.0, 0.10), (9.0, 0.15)]
    diverged = _markers(fig, "diverged")
    top = fig.axes[0].get_ylim()[1]
    assert [x for x, _ in diverged] == [1.0, 9.0] and all(y == pytest.approx(top) for _, y in diverged)
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_xscale() == "log"
    # one line per config with a finite loss (config 3 and 5 have none)
    assert sum(1 for ln in fig.axes[0].get_lines() if str(ln.get_gid()).startswith("config-")) == 6
    # losses over > 2 decades -> log y
    wide = HAND.copy()
    wide.loc[wide.config_id == 1, "loss"] = [0.4, 0.02, 0.001]
    assert plot_losses(wide).axes[0].get_yscale() == "log"


def test_plot_brackets_from_plan_and_frame(tmp_path):
    plan = hb.Hyperband(hb.Space(x=hb.Uniform(0, 1)), max_resource=81, eta=3).plan
    fig = plot_brackets(plan)
    assert len(fig.axes[0].get_legend().get_texts()) == len(plan)
    fig.savefig(tmp_path / "b.png")
    fig = plot_brackets(HAND)
    assert len(fig.axes[0].get_legend().get_texts()) == 2


def test_plot_comparison_raw_and_budget_frames(tmp_path):
    rng = np.random.default_rng(0)
    raw = pd.DataFrame(
        [
            {
                "method": m,
                "seed": s,
                "best_loss": 0.05 + 0.01 * i + rng.normal(0, 0.002),
                "resource_spent": 300 - rng.integers(0, 10),
                "seconds": 1.0,
            }
            for i, m in enumerate(["hyperband", "random"])
            for s in range(4)
        ]
    )
    fig = plot_comparison(raw, baselines={"persistence": 0.0427})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "hyperband" in labels and any(lbl.startswith("persistence") for lbl in labels)
    by_budget = pd.DataFrame(
        [
            {"method": m, "seed": s, "budget": b, "best_loss": 1.0 / b + 0.01 * i + 0.001 * s}
            for i, m in enumerate(["hyperband", "bohb"])
            for b in (100, 300, 900)
            for s in range(3)
        ]
    )
    fig = plot_comparison(by_budget, baselines={"persistence": 0.0427, "ridge": 0.05})
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # one band per method
    hb_line = next(ln for ln in ax.get_lines() if ln.get_label() == "hyperband")
    np.testing.assert_allclose(hb_line.get_xdata(), [100, 300, 900])
    np.testing.assert_allclose(hb_line.get_ydata(), [1 / 100 + 0.001, 1 / 300 + 0.001, 1 / 900 + 0.001])
    fig.savefig(tmp_path / "c.png")
    summary = pd.DataFrame(
        {
            "method": ["a", "b"],
            "runs": [3, 3],
            "best_loss_mean": [0.1, 0.2],
            "best_loss_ci95": [0.01, 0.02],
            "resource_spent_mean": [100.0, 100.0],
        }
    )
    plot_comparison(summary)


def test_write_report_on_a_hand_made_dir(tmp_path):
    HAND.to_csv(tmp_path / "trials.csv", index=False)
    paths = write_report(tmp_path)
    assert [p.name for p in paths] == ["losses.png", "brackets.png", "report.md"]
    for p in paths[:2]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    text = paths[2].read_text()
    assert "persistence" in text and "losses.png" in text


class _Toy:
    def train_rung(self, job):
        return np.array([(c["lr"] - 0.03) ** 2 * 100 + 1.0 / (1 + job.resource) for c in job.configs])


def test_write_report_on_a_real_run_dir(tmp_path):
    from hbjax.runs.checkpoint import run_with_checkpoints

    space = hb.Space(lr=hb.LogUniform(1e-3, 1e-1), hidden=hb.IntChoice([8, 16]))
    result = run_with_checkpoints(
        hb.Hyperband(space, max_resource=27, eta=3, seed=1),
        _Toy(),
        tmp_path,
        meta={"data": "toy", "R": 27, "eta": 3, "seed": 1},
    )
    (tmp_path / "summary.json").write_text(
        json.dumps(
            {
                "best_config": result.best_config,
                "best_val_loss": result.best_loss,
                "compiles": 3,
                "seconds": 12.5,
                "config_epochs": 999.0,
                "baselines": {"ridge_val_skill_target": -0.05, "ridge_test_skill": -0.02},
                "test": {
                    "test_skill": 0.25,
                    "test_mse_price": 0.03,
                    "persistence_test_mse_price": 0.04,
                    "n_test": 40,
                    "vs_persistence_p": 0.01,
                    "unit": "price",
                },
            }
        )
    )
    paths = write_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "persistence" in text and "-0.05" in text and "0.25" in text and "beats" in text and "999" in text
    assert f"{result.best_config['hidden']}" in text
    rows = [ln for ln in text.splitlines() if ln.startswith(("| 0 | 3 |", "| 0 | 2 |", "| 0 | 1 |", "| 0 | 0 |"))]
    assert len(rows) == 4  # one bracket row per bracket s=3..0
    for p in paths[:2]:
        assert p.stat().st_size > 10_000


def test_missing_trials_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="trials.csv"):
        write_report(tmp_path)


def test_absurd_finite_losses_go_to_the_top_edge():
    frame = pd.concat([HAND, pd.DataFrame([_row(6, 0, 0, 9.0, 5e18, False)])], ignore_index=True)
    fig = plot_losses(frame)
    top = fig.axes[0].get_ylim()[1]
    assert top < 1e4 and _markers(fig, "offscale") == [(9.0, pytest.approx(top))]
    assert (9.0, 5e18) not in _markers(fig, "pruned") + _markers(fig, "finished")
