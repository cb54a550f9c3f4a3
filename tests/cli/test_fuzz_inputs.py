"""Generated bad input: every malformed CSV, argument list or space file ends in one clear error.

Property-based (hypothesis): a valid OHLCV file is mutated at random (cells replaced by junk,
columns dropped or renamed, rows shuffled or duplicated, bytes truncated, other delimiters and
encodings, glitched price jumps) and must load and validate into a task with finite baselines, or
raise ``DataError``: nothing else, no numpy warning. Random ``hbjax`` argument lists must either
validate or print exactly one ``error: ...`` line with exit code 2, leaving an existing output
directory untouched. Validation only: nothing is trained, so the 1000+ inputs take seconds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_ohlcv
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hbjax.data import DataError, StockTask, load_csv

N_ROWS = 240
SIZES = dict(train_size=120, val_size=40, test_size=40)


def _valid_frame(seed: int = 0, n: int = N_ROWS) -> pd.DataFrame:
    return synthetic_ohlcv(n, seed, start="2015-01-01", price=40.0, daily_sd=0.02, open_sd=0.003, max_volume=100_000)


BASE = _valid_frame()
JUNK_CELLS = [
    "",
    "nan",
    "NaN",
    "abc",
    "1e300",
    "-1e300",
    "-5",
    "0",
    "inf",
    "-inf",
    "1,5",
    "\u00e9\u00e8",
    "null",
    "2015-13-45",
    "0x1F",
    " ",
    "1e-320",
    "99999999999999999999999",
    "True",
    "--",
]


@st.composite
def mutated_csv(draw) -> bytes:
    frame = BASE.copy().astype(object)
    for _ in range(draw(st.integers(0, 4))):
        if len(frame) == 0:
            break
        kind = draw(
            st.sampled_from(["cell", "drop", "rename", "shuffle", "duplicate", "reverse", "glitch", "head", "date"])
        )
        if kind == "cell":
            row, col = draw(st.integers(0, len(frame) - 1)), draw(st.sampled_from(list(frame.columns)))
            frame.loc[frame.index[row], col] = draw(st.sampled_from(JUNK_CELLS) | st.text(max_size=8))
        elif kind == "drop" and len(frame.columns) > 1:
            frame = frame.drop(columns=draw(st.sampled_from(list(frame.columns))))
        elif kind == "rename":
            col = draw(st.sampled_from(list(frame.columns)))
            frame = frame.rename(columns={col: draw(st.sampled_from(["", "x", "close", "Date", "Adj Close"]))})
        elif kind == "shuffle":
            frame = frame.sample(frac=1.0, random_state=draw(st.integers(0, 9)))
        elif kind == "duplicate":
            row = draw(st.integers(0, len(frame) - 1))
            frame = pd.concat([frame.iloc[: row + 1], frame.iloc[row:]])
        elif kind == "reverse":
            frame = frame.iloc[::-1]
        elif kind == "glitch" and "Close" in frame.columns:
            row = draw(st.integers(0, len(frame) - 1))
            value = pd.to_numeric(frame["Close"].iloc[row], errors="coerce")
            if np.isfinite(value):
                frame.loc[frame.index[row], "Close"] = value * 10.0 ** draw(st.integers(-300, 300))
        elif kind == "head":
            frame = frame.iloc[: draw(st.integers(0, len(frame)))]
        elif kind == "date" and "Date" in frame.columns:
            row = draw(st.integers(0, len(frame) - 1))
            frame.loc[frame.index[row], "Date"] = draw(st.sampled_from(["", "yesterday", "2015/02/30", "1e5"]))
    sep = draw(st.sampled_from([","] * 8 + [";", "\t"]))
    text = frame.to_csv(index=False, sep=sep)
    data = text.encode(draw(st.sampled_from(["utf-8"] * 8 + ["utf-16", "latin-1"])), errors="replace")
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=64)) + data
    return data


def _load_and_validate(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or cast warning means garbage got through
        task = StockTask(load_csv(path), **SIZES, max_folds=2)
        baselines = task.baselines(5)
        windows = task.fold_windows(5)
    bad = {k: v for k, v in baselines.items() if isinstance(v, float) and not np.isfinite(v)}
    assert not bad, f"non-finite baselines accepted: {bad}"
    for name in ("x_train", "y_train", "x_val", "y_val"):
        assert np.isfinite(np.asarray(getattr(windows, name))).all(), name


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=mutated_csv())
def test_a_mutated_csv_loads_cleanly_or_is_one_data_error(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "prices.csv"
    path.write_bytes(data)
    try:
        _load_and_validate(path)
        event("accepted")
    except DataError as err:
        message = str(err)
        event("refused: " + message.split(":")[-1].strip()[:40])
        assert message and "\n" not in message.strip(), message
        assert "prices.csv" in message or "rows" in message or "fold" in message, message


def test_the_unmutated_file_is_accepted(tmp_path):
    path = tmp_path / "prices.csv"
    BASE.to_csv(path, index=False)
    _load_and_validate(path)


# --- command-line arguments ---------------------------------------------------------------------

OPTIONS = {
    "-R": st.sampled_from(["0", "0.5", "1", "3", "-2", "nan", "inf", "1e9", "abc", ""]),
    "--eta": st.sampled_from(["1", "2", "3", "1.5", "-3", "0", "x", "1e9"]),
    "--seed": st.sampled_from(["0", "-1", "1.5", "x", "99999999999999999999"]),
    "--window": st.sampled_from(["0", "1", "5", "-5", "500", "1e3", "x"]),
    "--folds": st.sampled_from(["0", "1", "2", "-1", "x", "1000"]),
    "--train-size": st.sampled_from(["0", "10", "120", "100000", "-3", "x"]),
    "--val-size": st.sampled_from(["0", "1", "40", "100000", "x"]),
    "--test-size": st.sampled_from(["0", "40", "100000", "x"]),
    "--space": st.sampled_from(["demo", "default", "nope", "", "missing.toml"]),
    "--plan": st.sampled_from(["auto", "exact", "wide", "fast"]),
    "--hyperband-iterations": st.sampled_from(["0", "1", "-1", "x"]),
    "--data": st.sampled_from(["CSV", "missing.csv", "", "nvda2"]),
    "--bogus": st.just("1"),
}


@st.composite
def argument_lists(draw) -> list[str]:
    argv = [draw(st.sampled_from(["plan", "run"]))]
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5, unique=True)):
        argv += [option, draw(OPTIONS[option])]
    return argv + (["--dry-run"] if argv[0] == "run" else [])


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "prices.csv"
    _valid_frame(n=1200).to_csv(path, index=False)  # long enough for the built-in spaces' batches
    return path


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(argv=argument_lists())
def test_random_arguments_validate_or_give_one_error_line(argv, small_csv, tmp_path_factory, monkeypatch, capsys):
    import hbjax.cli as cli
    import hbjax.commands.run as run_command

    out = tmp_path_factory.mktemp("out")
    (out / "precious.txt").write_text("keep")
    # the small CSV unless --data was drawn (the last value wins): validation stays cheap
    argv = (
        argv[:1]
        + ["--data", small_csv.as_posix()]
        + [small_csv.as_posix() if a == "CSV" else a for a in argv[1:]]
        + ["--out", str(out)]
    )
    previews = []
    monkeypatch.setattr(run_command, "walk", lambda *a, **k: previews.append(a) or 0)  # validation only
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    captured = capsys.readouterr()
    if code == 0:
        assert previews, argv
        event("validated")
    else:
        event("refused: " + captured.err.split(":")[1 if "hbjax" not in captured.err else 2][:30])
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, captured.err)
        assert "Traceback" not in captured.err
    assert [p.name for p in out.iterdir()] == ["precious.txt"] and (out / "precious.txt").read_text() == "keep"


@pytest.mark.parametrize("date", ["-5", "1500-01-01", "3000-01-01"])
def test_a_date_outside_the_nanosecond_range_is_unparseable_not_an_overflow(tmp_path, date):
    """pandas >= 3.1 parses '-5' as the year -5; found by the fuzz test above in CI."""
    frame = BASE.copy()
    frame.loc[0, "Date"] = date
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="date"):
        load_csv(path)
