"""Tests for hbjax.data: loading/validation, features, folds, window tensors, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbjax.data import (
    DataError,
    Fold,
    StockTask,
    from_frame,
    load_csv,
    load_nvda,
    make_features,
    ridge_fit_predict,
    walk_forward,
)

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def synthetic(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A positive random-walk OHLCV series on business days."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    return pd.DataFrame(
        {
            "Date": pd.bdate_range("2020-01-01", periods=n),
            "Open": open_,
            "High": np.maximum(open_, close) * 1.01,
            "Low": np.minimum(open_, close) * 0.99,
            "Close": close,
            "Volume": rng.integers(1_000, 100_000, n).astype(float),
        }
    )


def write(tmp_path, text: str, name: str = "prices.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def rows_csv(rows: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD_ROWS = [
    "2020-01-02,10,11,9,10.5,10.4,1000",
    "2020-01-03,10.5,11.5,10,11,10.9,1200",
    "2020-01-06,11,12,10.5,11.5,11.4,900",
    "2020-01-07,11.5,12,11,11.8,11.7,1100",
]

SMALL = dict(train_size=50, val_size=10, test_size=15, ma_window=3)


# --------------------------------------------------------------------------------- NVDA


@pytest.fixture(scope="module")
def nvda():
    return load_nvda()


@pytest.fixture(scope="module")
def nvda_task(nvda):
    return StockTask(nvda)


def test_nvda_loads(nvda):
    assert len(nvda) == 6558
    assert list(nvda.columns) == ["date", "open", "high", "low", "close", "volume", "adj_close"]
    assert nvda["date"].is_monotonic_increasing and nvda["date"].is_unique
    assert str(nvda["date"].iloc[0].date()) == "1999-01-22"
    assert str(nvda["date"].iloc[-1].date()) == "2025-02-14"
    assert all(nvda[c].dtype == np.float64 for c in nvda.columns[1:])
    assert list(nvda.index) == list(range(6558))


def test_nvda_folds(nvda_task):
    task = nvda_task
    assert task.n_rows == 6558 - 29
    assert len(task.folds) == 5
    for k, f in enumerate(task.folds):
        assert f.index == k
        assert f.train.stop - f.train.start == 3000 and f.val.stop - f.val.start == 500
        assert f.val.start == f.train.stop  # val follows train
        assert f.val.stop <= task.test.start  # never touches the test rows
    assert task.test == slice(task.n_rows - 800, task.n_rows)
    # anchored on the test block: the last validation block ends where the test starts
    assert task.folds[-1].val == slice(task.n_rows - 1300, task.n_rows - 800)
    assert task.folds[0].train == slice(229, 3229) and task.folds[0].val == slice(3229, 3729)
    assert task.n_features == 6 and "close" in task.feature_names and "close_rel" in task.input_names
    assert "5 walk-forward folds" in task.describe() and "target relative" in task.describe()


def test_nvda_windows_and_baselines(nvda_task):
    fw = nvda_task.fold_windows(20)
    assert fw.x_train.shape == (5, 2980, 20, 6) and fw.y_train.shape == (5, 2980)
    assert fw.x_val.shape == (5, 500, 20, 6) and fw.y_val.shape == (5, 500)
    assert fw.x_train.dtype == np.float32 and fw.persistence_mse.dtype == np.float64
    # relative target: persistence (a zero return) costs about one training variance of the return;
    # the folds differ by how calm their validation block is next to their training rows
    assert 0.1 < fw.persistence_mse[0] < 0.2 and 1.0 < fw.persistence_mse[-1] < 1.3
    assert nvda_task.fold_windows(20) is fw  # cached
    base = nvda_task.baselines(20)
    assert base["persistence_val_mse"] == pytest.approx(fw.persistence_mse.mean())
    assert base["persistence_test_mse"] == pytest.approx(nvda_task.final_windows(20).persistence_mse)
    for key in ("ridge_val_mse", "ridge_test_mse", "persistence_test_mse_price", "ridge_test_mse_price"):
        assert np.isfinite(base[key]) and base[key] > 0
    # price-unit persistence on the test days is the 5.88 (2021-12..2025-02 closes)
    assert base["persistence_test_mse_price"] == pytest.approx(5.87997, rel=1e-5)
    # ridge on relative windows does not beat persistence on NVDA (skill < 0), deterministic
    assert -0.2 < base["ridge_val_skill"] < 0 and -0.1 < base["ridge_test_skill"] < 0
    assert base["persistence_val_skill"] == 0.0 and "seasonal_naive_val_skill" not in base


# --------------------------------------------------------------------------------- folds


def test_walk_forward_counts_and_max_folds():
    folds = walk_forward(6529)
    assert len(folds) == 5
    assert [f.train.start for f in folds] == [229, 729, 1229, 1729, 2229]  # the oldest 229 rows go unused
    assert folds[-1].val.stop == 6529 - 800  # adjacent to the test block
    last2 = walk_forward(6529, max_folds=2)
    assert [f.index for f in last2] == [0, 1]
    assert [(f.train, f.val) for f in last2] == [(f.train, f.val) for f in folds[-2:]]
    stepped = walk_forward(100, train_size=50, val_size=10, test_size=10, step=5)
    assert len(stepped) == (100 - 10 - 60) // 5 + 1 == 7
    assert stepped[-1] == Fold(6, slice(30, 80), slice(80, 90))
    assert stepped[1] == Fold(1, slice(5, 55), slice(55, 65))  # 30 usable rows spare: a multiple of step


def test_walk_forward_errors():
    with pytest.raises(DataError, match=r"4299 rows available.*3000 \+ 500 \+ 800 = 4300"):
        walk_forward(4299)
    assert len(walk_forward(4300)) == 1
    with pytest.raises(DataError, match="val_size"):
        walk_forward(5000, val_size=0)
    with pytest.raises(DataError, match="max_folds"):
        walk_forward(5000, max_folds=0)


# --------------------------------------------------------------------------------- windows


def test_fold_window_alignment_against_direct_computation():
    df = synthetic(120)
    task = StockTask(df, target="close", **SMALL)
    w = 5
    fw = task.fold_windows(w)
    x, names, frame = make_features(from_frame(df), ma_window=3)
    ci = names.index("close")
    assert x.shape == (118, 6) and len(frame) == 118
    # direct MA check: row 0 of the matrix is day 2 of the series
    assert x[0, -1] == pytest.approx(df["Close"].iloc[:3].mean())
    assert x[0, ci] == pytest.approx(df["Close"].iloc[2])
    for k, fold in enumerate(task.folds):
        a, b = fold.train.start, fold.train.stop
        mu, sd = x[a:b].mean(0), x[a:b].std(0)
        z = (x - mu) / sd
        zc = z[:, ci]
        assert fw.x_train.shape[1] == 50 - w and fw.x_val.shape[1] == 10
        for i in (0, 7, 50 - w - 1):  # train sample i ends at row t = a + w - 1 + i
            t = a + w - 1 + i
            np.testing.assert_allclose(fw.x_train[k, i], z[t - w + 1 : t + 1], rtol=1e-5, atol=1e-5)
            assert fw.x_train[k, i, -1, ci] == pytest.approx(zc[t], abs=1e-5)
            assert fw.y_train[k, i] == pytest.approx(zc[t + 1], abs=1e-5)
        assert a + w - 1 + (50 - w - 1) + 1 == b - 1  # last train target is the last train row
        for j in (0, 9):  # val sample j ends at t = val.start - 1 + j
            t = fold.val.start - 1 + j
            np.testing.assert_allclose(fw.x_val[k, j], z[t - w + 1 : t + 1], rtol=1e-5, atol=1e-5)
            assert fw.y_val[k, j] == pytest.approx(zc[t + 1], abs=1e-5)
        # persistence: predict today's standardised close
        expected = np.mean((zc[fold.val.start : fold.val.stop] - zc[fold.val.start - 1 : fold.val.stop - 1]) ** 2)
        assert fw.persistence_mse[k] == pytest.approx(expected, rel=1e-9)
        assert fw.target_std[k] == pytest.approx(sd[ci])
        # price units: mse_std * std**2 is the raw close persistence MSE
        c = frame["close"].to_numpy()
        raw = np.mean((c[fold.val.start : fold.val.stop] - c[fold.val.start - 1 : fold.val.stop - 1]) ** 2)
        assert fw.persistence_mse[k] * fw.target_std[k] ** 2 == pytest.approx(raw, rel=1e-9)
    assert list(fw.val_dates[0]) == list(task.dates[task.folds[0].val])


def test_final_windows_shapes_and_alignment():
    df = synthetic(120)
    task = StockTask(df, target="close", **SMALL)
    w = 4
    fin = task.final_windows(w)
    n = task.n_rows
    assert fin.x_train.shape == (60 - w, w, 6) and fin.y_train.shape == (60 - w,)
    assert fin.x_test.shape == (15, w, 6) and fin.y_test.shape == (15,)
    x = task.features
    a, b = n - 15 - 60, n - 15
    mu, sd = x[a:b].mean(0), x[a:b].std(0)
    zc = (x[:, 3] - mu[3]) / sd[3]
    assert fin.y_test[0] == pytest.approx(zc[b], abs=1e-5)
    assert fin.x_test[0, -1, 3] == pytest.approx(zc[b - 1], abs=1e-5)
    assert fin.y_test[-1] == pytest.approx(zc[n - 1], abs=1e-5)
    assert fin.persistence_mse == pytest.approx(np.mean((zc[b:] - zc[b - 1 : -1]) ** 2))
    assert list(fin.test_dates) == list(task.dates[b:])


def test_window_errors_and_read_only():
    task = StockTask(synthetic(120), **SMALL)
    with pytest.raises(ValueError, match="train_size"):
        task.fold_windows(50)
    with pytest.raises(ValueError, match="window"):
        task.fold_windows(0)
    fw = task.fold_windows(3)
    with pytest.raises(ValueError):
        fw.x_train[0, 0, 0, 0] = 1.0


@pytest.mark.parametrize("target", ["relative", "close", "return"])
def test_no_leakage_from_val_or_test_rows(target):
    df = synthetic(120)
    task = StockTask(df, target=target, **SMALL)
    w = 5
    fw, fin = task.fold_windows(w), task.final_windows(w)
    fold0 = task.folds[0]
    # feature row r is series row r + 2 (3-day MA); wreck everything after fold 0's train rows
    wild = df.copy()
    cut = fold0.train.stop + 2
    for col in ("Open", "High", "Low", "Close"):
        wild.loc[cut:, col] *= 100.0  # wild but below the glitch check (1000x in one row)
    wild.loc[cut:, "Volume"] = 1e15
    fw2 = StockTask(wild, target=target, **SMALL).fold_windows(w)
    np.testing.assert_array_equal(fw.x_train[0], fw2.x_train[0])
    np.testing.assert_array_equal(fw.y_train[0], fw2.y_train[0])
    np.testing.assert_array_equal(fw.feature_mean[0], fw2.feature_mean[0])
    np.testing.assert_array_equal(fw.feature_std[0], fw2.feature_std[0])
    assert fw.target_std[0] == fw2.target_std[0]
    assert not np.allclose(fw.y_val[0], fw2.y_val[0])  # the val rows did change
    # the same for the test block and the final model
    wild = df.copy()
    cut = task.test.start + 2
    wild.loc[cut:, "Close"] *= 100.0
    fin2 = StockTask(wild, target=target, **SMALL).final_windows(w)
    np.testing.assert_array_equal(fin.x_train, fin2.x_train)
    np.testing.assert_array_equal(fin.y_train, fin2.y_train)
    assert fin.target_mean == fin2.target_mean and fin.target_std == fin2.target_std
    assert not np.allclose(fin.y_test, fin2.y_test)


def test_return_target_and_zero_return_persistence():
    df = synthetic(120)
    task = StockTask(df, target="return", **SMALL)
    w = 5
    fw = task.fold_windows(w)
    close = df["Close"].to_numpy()
    logret = np.log(close[1:] / close[:-1])  # logret[s-1] = return of series day s
    for k, fold in enumerate(task.folds):
        a, b = fold.train.start, fold.train.stop
        r_train = logret[a + 2 : b + 1]  # feature rows a+1..b-1 are series days a+3..b+1
        mu, sd = r_train.mean(), r_train.std()
        assert fw.target_mean[k] == pytest.approx(mu) and fw.target_std[k] == pytest.approx(sd)
        t = fold.val.start - 1  # first val sample: target = return from feature row t to t+1
        assert fw.y_val[k, 0] == pytest.approx((logret[t + 2] - mu) / sd, abs=1e-5)
        y = fw.y_val[k].astype(np.float64)
        expected = np.mean((y - (0.0 - mu) / sd) ** 2)  # zero-return forecast, standardised
        assert fw.persistence_mse[k] == pytest.approx(expected, rel=1e-5)
    base = task.baselines(w)
    assert base["target"] == "return"
    # own units: the close's day-to-day change on the validation days (series rows = feature rows + 2)
    assert base["persistence_val_mse_price_folds"] == pytest.approx(
        [np.mean(np.diff(close[f.val.start + 1 : f.val.stop + 2]) ** 2) for f in task.folds], rel=1e-12
    )


def test_bad_target_and_last_rows():
    with pytest.raises(ValueError, match="'relative', 'close', 'return' for a price series"):
        StockTask(synthetic(120), target="price", **SMALL)
    task = StockTask(synthetic(300), last_rows=120, **SMALL)
    assert task.n_rows == 118
    assert task.dates[-1] == synthetic(300)["Date"].iloc[-1]


def test_calendar_features():
    x, names, _frame = make_features(from_frame(synthetic(60)), ma_window=1, calendar=True)
    assert x.shape == (60, 6 + 12 + 5 + 1) and len(names) == x.shape[1]
    month = x[:, names.index("month_1") : names.index("month_12") + 1]
    weekday = x[:, names.index("weekday_mon") : names.index("weekday_fri") + 1]
    assert (month.sum(1) == 1).all() and (weekday.sum(1) == 1).all()
    task = StockTask(synthetic(120), calendar=True, **SMALL)
    assert np.isfinite(task.fold_windows(3).x_train).all()  # constant one-hots don't divide by 0


def test_ridge_matches_sklearn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(1)
    x, y, xe = rng.normal(size=(80, 4, 3)), rng.normal(size=80), rng.normal(size=(10, 4, 3))
    ours = ridge_fit_predict(x, y, xe)
    ref = sklearn.Ridge(alpha=1.0).fit(x.reshape(80, -1), y).predict(xe.reshape(10, -1))
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------------- CSV loading


def test_good_csv_and_column_matching(tmp_path):
    df = load_csv(write(tmp_path, rows_csv(GOOD_ROWS)))
    assert list(df.columns) == ["date", "open", "high", "low", "close", "volume", "adj_close"]
    assert df["close"].tolist() == [10.5, 11, 11.5, 11.8]
    odd = rows_csv(GOOD_ROWS, header="DATE, open ,HIGH,low,CLOSE,adj_close,Vol_ume")
    df2 = load_csv(write(tmp_path, odd, "odd.csv"))
    pd.testing.assert_frame_equal(df, df2)
    no_adj = "\n".join(
        ["date,open,high,low,close,volume"] + [",".join(r.split(",")[:5] + [r.split(",")[6]]) for r in GOOD_ROWS]
    )
    assert "adj_close" not in load_csv(write(tmp_path, no_adj, "noadj.csv")).columns


def test_reversed_csv_accepted(tmp_path):
    fwd = load_csv(write(tmp_path, rows_csv(GOOD_ROWS)))
    rev = load_csv(write(tmp_path, rows_csv(GOOD_ROWS[::-1]), "rev.csv"))
    pd.testing.assert_frame_equal(fwd, rev)


def test_missing_column(tmp_path):
    text = rows_csv([",".join(r.split(",")[:6]) for r in GOOD_ROWS], header="Date,Open,High,Low,Close,Adj Close")
    with pytest.raises(DataError) as err:
        load_csv(write(tmp_path, text))
    msg = str(err.value)
    assert "prices.csv" in msg and "missing required column(s) volume" in msg and "'Adj Close'" in msg


def test_a_close_series_alone_is_enough(tmp_path):
    """date + close (optionally volume): open/high/low are the close, a missing volume is 0, and
    the task builds finite standardised windows from it."""
    df = synthetic(120)
    path = tmp_path / "close.csv"
    df[["Date", "Close"]].to_csv(path, index=False)
    loaded = load_csv(path)
    np.testing.assert_array_equal(loaded["open"], loaded["close"])
    np.testing.assert_array_equal(loaded["low"], loaded["close"])
    assert (loaded["volume"] == 0).all()
    w = StockTask(loaded, **SMALL).fold_windows(5)
    assert np.isfinite(w.x_train).all() and np.isfinite(w.y_val).all()
    with_volume = load_csv(write(tmp_path, df[["Date", "Close", "Volume"]].to_csv(index=False), "cv.csv"))
    np.testing.assert_array_equal(with_volume["volume"], df["Volume"])
    with pytest.raises(DataError, match="missing required column"):  # open without high/low is not a close series
        load_csv(write(tmp_path, df[["Date", "Open", "Close"]].to_csv(index=False), "oc.csv"))


def test_non_numeric_value(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[2] = "2020-01-06,11,12,10.5,abc,11.4,900"
    with pytest.raises(DataError) as err:
        load_csv(write(tmp_path, rows_csv(rows)))
    msg = str(err.value)
    assert "'Close'" in msg and "'abc'" in msg and "line 4" in msg and "2020-01-06" in msg


def test_unparseable_date(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[1] = "not-a-date,10.5,11.5,10,11,10.9,1200"
    with pytest.raises(DataError, match=r"unparseable date 'not-a-date' at line 3"):
        load_csv(write(tmp_path, rows_csv(rows)))


def test_unsorted_dates(tmp_path):
    rows = [GOOD_ROWS[0], GOOD_ROWS[2], GOOD_ROWS[1], GOOD_ROWS[3]]
    with pytest.raises(DataError) as err:
        load_csv(write(tmp_path, rows_csv(rows)))
    msg = str(err.value)
    assert "out of order" in msg and "line 4 (2020-01-03)" in msg


def test_duplicate_date(tmp_path):
    rows = GOOD_ROWS[:2] + [GOOD_ROWS[1]] + GOOD_ROWS[2:]
    with pytest.raises(DataError, match=r"duplicate date 2020-01-03 at line 3 and line 4"):
        load_csv(write(tmp_path, rows_csv(rows)))


def test_nan_raise_and_ffill(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[2] = "2020-01-06,11,12,10.5,,11.4,"  # close and volume missing
    path = write(tmp_path, rows_csv(rows))
    with pytest.raises(DataError) as err:
        load_csv(path)
    msg = str(err.value)
    assert "'Close'" in msg and "line 4" in msg and "2020-01-06" in msg and "ffill" in msg
    df = load_csv(path, nan_policy="ffill")
    assert df["close"].tolist() == [10.5, 11, 11, 11.8]  # the missing day = the last known value
    assert df["volume"].tolist() == [1000, 1200, 1200, 1100]
    first = GOOD_ROWS.copy()
    first[0] = "2020-01-02,,11,9,10.5,10.4,1000"
    with pytest.raises(DataError, match=r"'Open'.*first day.*line 2"):
        load_csv(write(tmp_path, rows_csv(first), "first.csv"), nan_policy="ffill")
    # reversed file: "first day" is the oldest one, i.e. the last line
    rev = GOOD_ROWS[::-1]
    rev[-1] = "2020-01-02,,11,9,10.5,10.4,1000"
    with pytest.raises(DataError, match=r"first day.*line 5 \(2020-01-02\)"):
        load_csv(write(tmp_path, rows_csv(rev), "rev.csv"), nan_policy="ffill")
    with pytest.raises(ValueError, match="nan_policy"):
        load_csv(path, nan_policy="drop")


def test_a_glitched_price_is_refused_not_averaged_into_inf(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[2] = "2020-01-06,11,12,10,1e300,10.9,1200"  # one row's close is garbage
    with pytest.raises(DataError, match=r"'Close' jumps from 11 to 1e\+300 at line 4 .*factor of 9.09e\+298"):
        load_csv(write(tmp_path, rows_csv(rows)))
    rows = GOOD_ROWS.copy()
    rows[2] = "2020-01-06,11,12,10,0.001,10.9,1200"  # and the other way
    with pytest.raises(DataError, match=r"'Close' jumps from 11 to 0.001 at line 4"):
        load_csv(write(tmp_path, rows_csv(rows), "low.csv"))
    rows = GOOD_ROWS.copy()
    rows[2] = "2020-01-06,11,12,10,55,10.9,1200"  # a 5x day is a (wild) market move: accepted
    assert len(load_csv(write(tmp_path, rows_csv(rows), "wild.csv"))) == len(GOOD_ROWS)


def test_non_positive_price_and_negative_volume(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[1] = "2020-01-03,10.5,11.5,0,11,10.9,1200"
    with pytest.raises(DataError, match=r"'Low' has a non-positive price 0 at line 3"):
        load_csv(write(tmp_path, rows_csv(rows)))
    rows = GOOD_ROWS.copy()
    rows[3] = "2020-01-07,11.5,12,11,11.8,11.7,-5"
    with pytest.raises(DataError, match=r"negative volume -5 at line 5"):
        load_csv(write(tmp_path, rows_csv(rows), "vol.csv"))


def test_empty_missing_and_garbage_files(tmp_path):
    with pytest.raises(DataError, match="file is empty"):
        load_csv(write(tmp_path, ""))
    with pytest.raises(DataError, match="no data rows"):
        load_csv(write(tmp_path, HEADER + "\n", "header.csv"))
    with pytest.raises(DataError, match="nope.csv: file not found"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="directory"):
        load_csv(tmp_path)
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"\xff\xfe\x00\x81garbage\x00\xff")
    with pytest.raises(DataError, match="bin.csv"):
        load_csv(bad)
    with pytest.raises(DataError, match="not parseable as CSV"):
        load_csv(write(tmp_path, 'Date,Open\n"2020-01-01,1\n', "quote.csv"))
    with pytest.raises(DataError, match="delimited"):
        load_csv(write(tmp_path, "Date;Open;High;Low;Close;Volume\n2020-01-02;1;1;1;1;1\n", "semi.csv"))


def test_blank_lines_keep_line_numbers(tmp_path):
    rows = GOOD_ROWS.copy()
    rows[3] = "2020-01-07,11.5,12,11,oops,11.7,1100"
    text = "\n".join([HEADER, rows[0], "", rows[1], rows[2], rows[3]]) + "\n"
    with pytest.raises(DataError, match="line 6"):
        load_csv(write(tmp_path, text))


def test_too_few_rows_for_one_fold(tmp_path):
    rows = [f"{d.date()},10,11,9,10.5,10.4,1000" for d in pd.bdate_range("2020-01-01", periods=100)]
    df = load_csv(write(tmp_path, rows_csv(rows)))
    with pytest.raises(DataError) as err:
        StockTask(df)
    msg = str(err.value)
    assert "71 rows available" in msg and "3000 + 500 + 800 = 4300" in msg and "100 rows" in msg


def test_from_frame_variants():
    df = synthetic(10)
    out = from_frame(df)
    assert list(out.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert from_frame(df.set_index("Date"))["date"].equals(out["date"])  # DatetimeIndex accepted
    pd.testing.assert_frame_equal(from_frame(out), out)  # idempotent
    bad = df.copy()
    bad.loc[4, "High"] = np.nan
    with pytest.raises(DataError, match=r"DataFrame: column 'High' has a missing value \(NaN\) at row 5"):
        from_frame(bad)
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        from_frame([1, 2, 3])
