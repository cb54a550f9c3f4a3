"""Trials table and Result: frame columns, CSV / JSON export, summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hbjax.hyperband import Hyperband
from hbjax.results import TRIAL_COLUMNS, Result, Trials, trials_from_history
from hbjax.scheduler import Observation
from hbjax.space import Choice, LogUniform, Space, Uniform

CONFIGS = [
    {"lr": 0.01, "kernel": "rbf"},
    {"lr": 0.001, "kernel": "linear"},
    {"lr": 0.1, "kernel": "rbf"},
]
HISTORY = [
    Observation(0, 0, 1, 0, 1.0, 0.5, True),
    Observation(1, 0, 1, 0, 1.0, float("nan"), False),
    Observation(2, 0, 1, 0, 1.0, 0.9, False),
    Observation(0, 0, 1, 1, 3.0, 0.25, False),
]
SECONDS = {(0, 1, 0): 1.5, (0, 1, 1): 2.5}


def make_trials():
    return trials_from_history(HISTORY, CONFIGS, SECONDS)


def make_result(trials=None, best=True):
    trials = trials or make_trials()
    if not best:
        return Result(
            trials=trials,
            best_config=None,
            best_loss=math.inf,
            best_config_id=None,
            best_resource=None,
            resource_spent=5.0,
            seconds=0.25,
        )
    return Result(
        trials=trials,
        best_config=dict(CONFIGS[0]),
        best_loss=0.25,
        best_config_id=0,
        best_resource=3.0,
        resource_spent=5.0,
        seconds=4.0,
    )


def test_trial_columns_constant():
    assert TRIAL_COLUMNS == (
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


def test_to_frame_columns_and_values():
    trials = make_trials()
    assert len(trials) == 4
    frame = trials.to_frame()
    assert list(frame.columns) == list(TRIAL_COLUMNS) + ["lr", "kernel"]
    assert frame["config_id"].tolist() == [0, 1, 2, 0]
    assert frame["rung"].tolist() == [0, 0, 0, 1]
    assert frame["resource"].tolist() == [1.0, 1.0, 1.0, 3.0]
    assert frame["promoted"].tolist() == [True, False, False, False]
    assert frame["diverged"].tolist() == [False, True, False, False]
    assert frame["rung_seconds"].tolist() == [1.5, 1.5, 1.5, 2.5]
    assert frame["lr"].tolist() == [0.01, 0.001, 0.1, 0.01]
    assert frame["kernel"].tolist() == ["rbf", "linear", "rbf", "rbf"]
    assert math.isnan(frame["loss"][1]) and frame["loss"][3] == 0.25


def test_missing_seconds_are_nan():
    frame = trials_from_history(HISTORY, CONFIGS, {}).to_frame()
    assert frame["seconds"].isna().all()


def test_empty_trials_frame():
    frame = Trials().to_frame()
    assert len(frame) == 0 and list(frame.columns) == list(TRIAL_COLUMNS)
    assert len(trials_from_history([], [], {})) == 0


def test_extra_row_keys_become_columns():
    t = Trials(param_names=("lr",))
    t.add({"config_id": 0, "loss": 1.0, "lr": 0.1, "zeta": 1, "alpha": 2})
    assert list(t.to_frame().columns) == list(TRIAL_COLUMNS) + ["lr", "alpha", "zeta"]


def test_to_csv_round_trip(tmp_path):
    trials = make_trials()
    path = trials.to_csv(tmp_path / "trials.csv")
    assert path == tmp_path / "trials.csv" and path.exists()
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, trials.to_frame(), check_dtype=False)


def test_to_json_round_trip_nan_is_null(tmp_path):
    trials = make_trials()
    path = trials.to_json(str(tmp_path / "trials.json"))
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    rows = json.loads(text)
    assert len(rows) == 4
    assert rows[1]["loss"] is None and rows[1]["diverged"] is True
    assert rows[0] == {**trials.rows[0]}
    assert [r["loss"] for r in rows] == [0.5, None, 0.9, 0.25]
    for r, orig in zip(rows, trials.rows):
        assert set(r) == set(orig)
        for k, v in orig.items():
            if isinstance(v, float) and not math.isfinite(v):
                assert r[k] is None
            else:
                assert r[k] == v and type(r[k]) is type(v)


def test_to_json_inf_loss_is_null(tmp_path):
    hist = [Observation(0, 0, 0, 0, 1.0, float("inf"), False), Observation(1, 0, 0, 0, 1.0, -math.inf, False)]
    trials = trials_from_history(hist, CONFIGS[:2], {})
    rows = json.loads(trials.to_json(tmp_path / "t.json").read_text())
    assert [r["loss"] for r in rows] == [None, None]
    assert [r["seconds"] for r in rows] == [None, None]


def test_summary_mentions_best():
    result = make_result()
    text = result.summary()
    assert "best loss 0.25" in text
    assert "config 0" in text and "resource 3" in text
    assert "lr=0.01" in text and "kernel=rbf" in text
    assert "4 trial rows" in text and "resource spent 5" in text
    pd.testing.assert_frame_equal(result.to_frame(), result.trials.to_frame())


def test_summary_all_diverged():
    text = make_result(best=False).summary()
    assert "all diverged" in text
    assert "best loss" not in text


def test_result_from_a_run_json_and_summary(tmp_path):
    space = Space(lr=LogUniform(1e-4, 1e-1), kernel=Choice(["rbf", "linear", 0.5]))

    class Backend:
        def train_rung(self, job):
            return [np.nan if c["kernel"] == "linear" else c["lr"] * 100 / job.resource for c in job.configs]

    result = Hyperband(space, max_resource=9, eta=3, seed=0).run(Backend())
    frame = result.to_frame()
    assert f"best loss {result.best_loss:.6g}" in result.summary()
    finite = frame[np.isfinite(frame["loss"])]
    assert result.best_loss == finite["loss"].min()
    rows = json.loads(result.trials.to_json(tmp_path / "r.json").read_text())
    assert len(rows) == len(frame)
    diverged = [r for r in rows if r["diverged"]]
    assert diverged and all(r["loss"] is None and r["kernel"] == "linear" for r in diverged)
    assert {type(r["kernel"]) for r in rows} <= {str, float}


def test_hyperparameter_named_loss_does_not_clobber_loss_column(tmp_path):
    # scikit-learn estimators have a `loss` hyperparameter; it must not overwrite the measured loss
    space = Space(loss=Choice(["hinge", "log_loss"]), alpha=Uniform(0.0, 1.0))

    class Backend:
        def train_rung(self, job):
            return [c["alpha"] for c in job.configs]

    result = Hyperband(space, max_resource=9, eta=3, seed=0).run(Backend())
    frame = result.to_frame()
    history = result.state.history
    assert frame["loss"].tolist() == [o.loss for o in history]
    assert frame["resource"].tolist() == [o.resource for o in history]
    assert frame["param_loss"].tolist() == [result.state.configs[o.config_id]["loss"] for o in history]
    assert frame["alpha"].tolist() == [result.state.configs[o.config_id]["alpha"] for o in history]
    assert list(frame.columns) == list(TRIAL_COLUMNS) + ["param_loss", "alpha"]
    rows = json.loads(result.trials.to_json(tmp_path / "t.json").read_text())
    assert [r["loss"] for r in rows] == [o.loss for o in history]
    # the Result's best config keeps the user's own key
    assert set(result.best_config) == {"loss", "alpha"}


def test_per_config_seconds_share_each_rung_and_sum_to_the_training_time():
    frame = make_trials().to_frame()
    # equal cost: the three first-rung configs share 1.5 s; the survivor has the second rung alone
    np.testing.assert_allclose(frame["seconds"], [0.5, 0.5, 0.5, 2.5])
    np.testing.assert_allclose(frame["rung_seconds"], [1.5, 1.5, 1.5, 2.5])
    assert frame["seconds"].sum() == sum(SECONDS.values())
    # by cost: lr=0.1 costs twice as much per unit of resource
    costly = trials_from_history(HISTORY, CONFIGS, SECONDS, cost=lambda c: 2.0 if c["lr"] == 0.1 else 1.0).to_frame()
    np.testing.assert_allclose(costly["seconds"], [0.375, 0.375, 0.75, 2.5])


def test_a_survivor_is_charged_only_the_resource_it_trained_in_the_rung():
    history = [
        Observation(0, 0, 1, 0, 1.0, 0.5, True),
        Observation(1, 0, 1, 0, 1.0, 0.6, True),
        Observation(2, 0, 1, 1, 3.0, 0.4, False),
        Observation(0, 0, 1, 1, 3.0, 0.3, False),
    ]
    configs = CONFIGS
    seconds = {(0, 1, 0): 2.0, (0, 1, 1): 4.0}
    # config 2 is new in rung 1 (3 units from scratch); config 0 continues (2 more units)
    continued = trials_from_history(history, configs, seconds, continued=True).to_frame()
    np.testing.assert_allclose(continued["seconds"], [1.0, 1.0, 4.0 * 3 / 5, 4.0 * 2 / 5])
    retrained = trials_from_history(history, configs, seconds, continued=False).to_frame()
    np.testing.assert_allclose(retrained["seconds"], [1.0, 1.0, 2.0, 2.0])
    for frame in (continued, retrained):
        assert frame["seconds"].sum() == pytest.approx(6.0)
