"""Scale-free targets, skill, anchored folds, value series (Delhi climate) and the LSTM on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbjax.data import (
    DataError,
    SeriesTask,
    StockTask,
    from_frame,
    load_csv,
    load_delhi_climate,
    make_features,
    persistence_prediction,
    relative_windows,
    skill_score,
    walk_forward,
)
from hbjax.data.targets import score

SMALL = dict(train_size=50, val_size=10, test_size=15, ma_window=3)


def prices(n: int = 120, seed: int = 0, scale: float = 1.0) -> pd.DataFrame:
    """A positive random-walk OHLCV series on business days."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    return pd.DataFrame(
        {
            "Date": pd.bdate_range("2020-01-01", periods=n),
            "Open": open_ * scale,
            "High": np.maximum(open_, close) * 1.01 * scale,
            "Low": np.minimum(open_, close) * 0.99 * scale,
            "Close": close * scale,
            "Volume": rng.integers(1_000, 100_000, n).astype(float),
        }
    )


def temperatures(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A seasonal daily value series that crosses 0 (period 30 rows)."""
    rng = np.random.default_rng(seed)
    day = np.arange(n)
    return pd.DataFrame(
        {
            "Date": pd.date_range("2021-01-01", periods=n),
            "temp": 5 + 10 * np.sin(2 * np.pi * day / 30) + rng.normal(0, 1, n),
        }
    )


@pytest.fixture(scope="module")
def climate():
    return SeriesTask(load_delhi_climate())


# --------------------------------------------------------------------------------- per-window inputs


@pytest.mark.parametrize("kind", ["price", "value"])
def test_relative_windows_use_only_rows_inside_the_window(kind):
    frame = from_frame(prices(80)) if kind == "price" else from_frame(temperatures(80))
    x, names, _ = make_features(frame, ma_window=1)  # MA of 1: a row depends on that day only
    w, t = 6, 40  # the window ending at row t is entry t - w + 1
    base, _ = relative_windows(x, names, kind, w)
    later, earlier = x.copy(), x.copy()
    later[t + 1 :] *= 3.0  # the future
    earlier[: t - w + 1] *= 3.0  # the days before the window
    np.testing.assert_array_equal(relative_windows(later, names, kind, w)[0][: t - w + 2], base[: t - w + 2])
    np.testing.assert_array_equal(relative_windows(earlier, names, kind, w)[0][t - w + 1 :], base[t - w + 1 :])
    assert not np.allclose(relative_windows(later, names, kind, w)[0][t - w + 2 :], base[t - w + 2 :])
    if kind == "price":
        assert np.all(base[:, -1, names.index("close")] == 0.0)  # log(c_t / c_t)


def test_relative_price_inputs_ignore_the_price_scale():
    a = StockTask(prices(), **SMALL).fold_windows(5)
    b = StockTask(prices(scale=1000.0), **SMALL).fold_windows(5)
    np.testing.assert_allclose(a.x_train, b.x_train, atol=1e-5)
    np.testing.assert_allclose(a.y_val, b.y_val, atol=1e-5)
    np.testing.assert_allclose(a.persistence_mse, b.persistence_mse, rtol=1e-9)
    np.testing.assert_allclose(a.persistence_mse_price * 1e6, b.persistence_mse_price, rtol=1e-9)


# --------------------------------------------------------------------------------- back to values, skill


@pytest.mark.parametrize(
    "make",
    [
        lambda: StockTask(prices(), **SMALL),
        lambda: SeriesTask(temperatures(), train_size=200, val_size=40, test_size=60),
    ],
)
def test_true_target_gives_back_the_value_and_skill_is_0_for_persistence_1_for_perfect(make):
    task = make()
    fw, fin = task.fold_windows(5), task.final_windows(5)
    for k, fold in enumerate(task.folds):  # alignment: sample j ends at val.start - 1 + j
        np.testing.assert_array_equal(fw.last_val[k], task.values[fold.val.start - 1 : fold.val.stop - 1])
        np.testing.assert_array_equal(fw.truth_val[k], task.values[fold.val])
    last, truth = fw.last_val, fw.truth_val
    change = np.log(truth / last) if task.kind == "price" else truth - last
    exact = (change - fw.target_mean[:, None]) / fw.target_std[:, None]  # the true standardised target
    np.testing.assert_allclose(fw.to_values(exact), truth, rtol=1e-13, atol=0)
    np.testing.assert_allclose(exact, fw.y_val, atol=1e-5)  # what the engine is given (float32)
    for s in fw.score(exact):
        assert s["skill"] == pytest.approx(1.0, abs=1e-12) and s["invalid_reason"] is None
    naive = persistence_prediction(last, fw.target_mean[:, None], fw.target_std[:, None], fw.target_form)
    for k, s in enumerate(fw.score(naive)):
        assert s["skill"] == 0.0  # exactly: the forecast is the last value itself
        assert s["mse_price"] == fw.persistence_mse_price[k]
        assert s["skill_target"] == pytest.approx(0.0, abs=1e-6)  # float32 targets
    s = fin.score(persistence_prediction(fin.last_test, fin.target_mean, fin.target_std, fin.target_form))
    assert s["skill"] == 0.0 and s["persistence_mse_price"] == fin.persistence_mse_price
    assert fw.skill_from_loss(fw.persistence_mse) == pytest.approx(0.0)  # per-fold losses
    assert fw.skill_from_loss(np.zeros_like(fw.persistence_mse)) == 1.0


def test_skill_score_and_non_finite_metrics_are_never_silent():
    assert skill_score(0.3, 0.3) == 0.0 and skill_score(0.0, 0.3) == 1.0 and skill_score(0.6, 0.3) == -1.0
    with pytest.raises(ValueError, match="persistence's MSE is 0"):
        skill_score(0.1, 0.0)
    with pytest.raises(ValueError, match="forecast's MSE is nan"):
        skill_score(float("nan"), 0.1)
    s = score([0.0, np.inf], [0.1, 0.2], 1.0, [10.0, 11.0], [10.5, 11.5], 0.0, 1.0, "log_ratio")
    assert np.isnan(s["skill"]) and "1 of 2 forecasts are not finite" in s["invalid_reason"]
    s = score([0.1, 0.2], [0.1, 0.2], 1.0, [10.0, 11.0], [10.5, 11.5], 0.0, 1.0, "difference")
    assert s["invalid_reason"] is None and np.isfinite(s["skill"])


def test_constant_series_has_no_skill_and_baselines_say_so():
    flat = temperatures(200)
    flat["temp"] = 7.0
    with pytest.raises(ValueError, match="skill is undefined"):
        SeriesTask(flat, train_size=100, val_size=20, test_size=30).baselines(5)


# --------------------------------------------------------------------------------- folds


@pytest.mark.parametrize(
    "n, sizes",
    [
        (6529, {}),
        (100, dict(train_size=50, val_size=10, test_size=10, step=5)),
        (1000, dict(train_size=300, val_size=70, test_size=90, max_folds=3)),
        (371, dict(train_size=300, val_size=70, test_size=1)),
    ],
)
def test_last_validation_block_ends_where_the_test_block_starts(n, sizes):
    folds = walk_forward(n, **sizes)
    test_start = n - sizes.get("test_size", 800)
    assert folds[-1].val.stop == test_start
    assert all(f.val.start == f.train.stop and f.train.start >= 0 for f in folds)
    step = sizes.get("step", sizes.get("val_size", 500))
    if "max_folds" in sizes:
        assert len(folds) == sizes["max_folds"]  # the most recent ones
    else:
        assert folds[0].train.start < step  # fewer than a step of the oldest rows is left over


def test_task_folds_are_anchored(climate):
    assert climate.folds[-1].val.stop == climate.test.start
    fin_rows = climate.final_windows(20).x_train.shape[0] + 20  # the final fit's span
    assert fin_rows == climate.train_size + climate.val_size  # = the last fold's train + val rows


# --------------------------------------------------------------------------------- scale-free averages


@pytest.mark.parametrize(
    "make, scale",
    [
        (lambda s: StockTask(prices(scale=s), **SMALL), 1000.0),
        (
            lambda s: SeriesTask(
                temperatures().assign(temp=lambda d: d.temp * s), period=30, train_size=200, val_size=40, test_size=60
            ),
            1000.0,
        ),
    ],
)
def test_fold_averaged_skill_does_not_depend_on_the_series_scale(make, scale):
    a, b = make(1.0).baselines(5), make(scale).baselines(5)
    for key in ("ridge_val_skill", "ridge_test_skill", "persistence_val_mse", "ridge_val_mse"):
        assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key
    assert b["ridge_val_skill_folds"] == pytest.approx(a["ridge_val_skill_folds"], rel=1e-4, abs=1e-6)
    assert b["persistence_test_mse_price"] == pytest.approx(a["persistence_test_mse_price"] * scale**2)
    if a["period"]:
        assert b["seasonal_naive_val_skill"] == pytest.approx(a["seasonal_naive_val_skill"], rel=1e-9)
        assert a["seasonal_naive_val_skill"] > 0.5  # a clean 30-row season: last season beats yesterday


# --------------------------------------------------------------------------------- Delhi climate


def test_delhi_climate_loads_as_a_value_series(climate):
    frame = load_delhi_climate()
    assert list(frame.columns) == ["date", "meantemp"] and len(frame) == 1462 and frame.attrs["period"] == 365
    assert climate.kind == "value" and climate.unit == "meantemp" and climate.period == 365
    assert (climate.train_size, climate.val_size, climate.test_size) == (716, 119, 179)
    assert len(climate.folds) == 4 and climate.target_form == "difference"
    assert climate.input_names == ["meantemp_diff", "meantemp_ma30_diff", "meantemp_level"]
    with pytest.raises(ValueError, match="'relative', 'level' for a value series"):
        SeriesTask(frame, target="return")
    with pytest.raises(ValueError, match="column must be one of"):
        load_delhi_climate("rain")


def test_delhi_climate_baselines(climate):
    """Measured facts, deterministic: yesterday's temperature is a far better forecast than the
    same day last year (seasonal naive skill about -3.5), and ridge on 20-day windows beats
    persistence a little on validation (+0.08, 3 of 4 folds) and on the test half-year (+0.02)."""
    base = climate.baselines(20)
    assert base["kind"] == "value" and base["unit"] == "meantemp" and base["notes"] == []
    assert all(s < -1.0 for s in base["seasonal_naive_val_skill_folds"]) and base["seasonal_naive_test_skill"] < -1.0
    assert base["seasonal_naive_val_skill"] == pytest.approx(-3.5465, abs=1e-3)
    assert base["ridge_val_skill"] == pytest.approx(0.0831, abs=1e-3)
    assert sum(s > 0 for s in base["ridge_val_skill_folds"]) == 3
    assert 0.0 < base["ridge_test_skill"] < 0.05
    assert base["persistence_test_mse_price"] == pytest.approx(2.2392, abs=1e-3)  # deg C^2


def test_seasonal_naive_needs_one_period_of_history():
    base = SeriesTask(temperatures(), period=300, train_size=200, val_size=40, test_size=60).baselines(5)
    assert "seasonal_naive_val_skill" not in base and "one period" in base["notes"][0]


# --------------------------------------------------------------------------------- value CSVs


def test_value_csv_is_routed_to_a_value_task(tmp_path):
    path = tmp_path / "temp.csv"
    temperatures(200).rename(columns={"temp": "Temp (C)"}).to_csv(path, index=False)
    frame = load_csv(path)
    assert list(frame.columns) == ["date", "Temp (C)"] and (frame["Temp (C)"] < 0).any()  # below 0 is fine
    pd.testing.assert_frame_equal(from_frame(frame), frame)
    task = SeriesTask(frame, train_size=100, val_size=20, test_size=30)
    assert task.kind == "value" and task.target == "relative" and task.unit == "Temp (C)"
    assert np.isfinite(task.fold_windows(5).x_train).all()
    priced = SeriesTask(
        frame.assign(**{"Temp (C)": frame["Temp (C)"] + 50}), kind="price", train_size=100, val_size=20, test_size=30
    )
    assert priced.kind == "price" and priced.target_form == "log_ratio"
    with pytest.raises(DataError, match="non-positive price"):
        SeriesTask(frame, kind="price", train_size=100, val_size=20, test_size=30)


def test_bad_value_csvs_raise_clear_errors(tmp_path):
    def write(text, name="v.csv"):
        p = tmp_path / name
        p.write_text(text)
        return p

    with pytest.raises(DataError, match=r"2 value columns \['a', 'b'\].*pass value_column="):
        load_csv(write("date,a,b\n2020-01-01,1,2\n"))
    assert list(load_csv(write("date,a,b\n2020-01-01,1,2\n"), value_column="B").columns) == ["date", "b"]
    with pytest.raises(DataError, match="value_column 'c' is not among"):
        load_csv(write("date,a,b\n2020-01-01,1,2\n"), value_column="c")
    with pytest.raises(DataError, match="missing a date column"):
        load_csv(write("when,temp\n2020-01-01,1\n"))
    with pytest.raises(DataError, match=r"'temp' has a non-numeric value 'warm' at line 3 \(2020-01-02\)"):
        load_csv(write("date,temp\n2020-01-01,1\n2020-01-02,warm\n"))
    with pytest.raises(DataError, match="'temp' has a missing value"):
        load_csv(write("date,temp\n2020-01-01,1\n2020-01-02,\n2020-01-03,2\n"))
    with pytest.raises(DataError, match="duplicate date"):
        load_csv(write("timestamp,temp\n2020-01-01,1\n2020-01-01,2\n"))
    with pytest.raises(DataError, match="found no value column"):
        load_csv(write("date\n2020-01-01\n"))


# --------------------------------------------------------------------------------- the LSTM on them


@pytest.mark.parametrize(
    "make",
    [
        lambda: StockTask(from_frame(prices(400)), train_size=150, val_size=40, test_size=40, ma_window=5),
        lambda: SeriesTask(load_delhi_climate(), last_rows=420, train_size=150, val_size=40, test_size=40, max_folds=2),
    ],
    ids=["price-relative", "climate-relative"],
)
def test_lstm_trains_on_the_relative_target(make, monkeypatch):
    import hbjax as hb
    from hbjax.lstm.backend import LSTMBackend, LSTMEngine

    task = make()
    assert task.target == "relative"
    space = hb.Space(
        lr=hb.LogUniform(1e-3, 1e-1),
        hidden=hb.IntChoice([8]),
        layers=hb.IntChoice([1]),
        batch_size=hb.IntChoice([16]),
        dropout=hb.Uniform(0.1, 0.3),
    )
    backend = LSTMBackend(task, seed=0, window=5, configs_per_program=4)
    result = hb.Hyperband(space, max_resource=3, eta=3, seed=0).run(backend)
    losses = result.to_frame()["loss"].to_numpy()
    assert np.isfinite(losses).all() and np.isfinite(result.best_loss)
    fw = task.fold_windows(5)
    # the rung loss is each fold's MSE over persistence's, averaged: the same configs trained by
    # an engine that reports plain MSE give exactly the per-fold ratios' mean
    np.testing.assert_array_equal(backend.engine.fold_loss_scale(5), fw.persistence_mse)
    plain = LSTMEngine(backend._fold_arrays, seed=0, configs_per_program=4, window=5)
    ids, configs = list(range(3)), [result.to_frame().iloc[i][list(space.names)].to_dict() for i in range(3)]
    configs = [{k: (int(v) if k in ("hidden", "layers", "batch_size") else v) for k, v in c.items()} for c in configs]
    scaled = LSTMEngine(
        backend._fold_arrays,
        seed=0,
        configs_per_program=4,
        window=5,
        fold_loss_scale=lambda w: np.ones(fw.n_folds) * 2.0,
    )
    np.testing.assert_allclose(
        scaled.train(ids, configs, 1, [0.0] * 3)[0], plain.train(ids, configs, 1, [0.0] * 3)[0] / 2.0, rtol=1e-12
    )
    engine_losses = []
    train = LSTMEngine.train

    def spy(self, *args, **kwargs):
        out = train(self, *args, **kwargs)
        engine_losses.append(out[0])
        return out

    monkeypatch.setattr(LSTMEngine, "train", spy)
    test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)
    # the predictions scored here are the ones the engine's own test MSE came from
    assert test["test_mse"] == pytest.approx(float(engine_losses[-1][0]), rel=1e-4)
    assert test["invalid_reason"] is None and test["target"] == "relative"
    for key in ("test_skill", "test_mse", "test_mse_price", "persistence_test_mse", "persistence_test_mse_price"):
        assert np.isfinite(test[key]), key
    fin = task.final_windows(5)
    assert test["persistence_test_mse_price"] == fin.persistence_mse_price
    assert test["test_skill"] == pytest.approx(1 - test["test_mse_price"] / test["persistence_test_mse_price"])
    assert test["test_skill"] < 0.5  # nobody forecasts day-to-day changes that well: a units slip would


def test_diebold_mariano_is_a_t_test_on_the_error_differences():
    from scipy import stats

    from hbjax.data import diebold_mariano

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 500) ** 2, rng.normal(0, 1.3, 500) ** 2
    stat, p = diebold_mariano(a, b)
    expected = stats.ttest_1samp(a - b, 0.0)
    assert stat == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue)
    assert stat < 0 and p < 0.01  # a's errors are smaller
    assert all(np.isnan(diebold_mariano(a, a)))  # identical forecasts: no test, not p = 1
