"""Experiment files (--space FILE): format, round trips, one-line errors, LSTM checks, junk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hbjax
from hbjax.lstm.backend import default_space, demo_space
from hbjax.lstm.spacecheck import check_for_lstm
from hbjax.runs import spacefile
from hbjax.runs.spacefile import (
    SETTINGS,
    Experiment,
    SpaceFileError,
    check_settings,
    dump_experiment,
    is_space_file,
    load_experiment,
    space_from_dict,
    space_to_dict,
)
from hbjax.space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "experiment.toml"
FORMATS = (".toml", ".json", ".yaml")
FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def error_of(call, *args, prefix: str | None = None, **kwargs) -> str:
    """The message of the SpaceFileError ``call`` raises, less its ``prefix: ``."""
    with pytest.raises(SpaceFileError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    if prefix is not None:
        assert message.startswith(f"{prefix}: "), message
        message = message[len(prefix) + 2 :]
    return message


def file_error(tmp_path, text: str | bytes, suffix: str = ".toml") -> str:
    path = tmp_path / f"exp{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return error_of(load_experiment, path, prefix=str(path))


def space_error(tmp_path, entries: str) -> str:
    return file_error(tmp_path, "[space]\n" + entries + "\n")


# ------------------------------------------------------------------------------ reading
def test_reads_every_distribution_and_constants(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        "[space]\nlr = {loguniform = [1e-4, 1e-1]}\ndropout = {uniform = [0, 0.5]}\n"
        'layers = {int = [1, 3]}\nhidden = {choice = [16, 32]}\nmix = {choice = [1, "a", 0.5]}\n'
        'activation = "tanh"\nbatch_size = 64\nrate = 0.25\nflag = true\n'
    )
    exp = load_experiment(path)
    assert exp == Experiment(
        Space(
            lr=LogUniform(1e-4, 1e-1),
            dropout=Uniform(0, 0.5),
            layers=IntUniform(1, 3),
            hidden=IntChoice([16, 32]),
            mix=Choice([1, "a", 0.5]),
            activation=Choice(["tanh"]),
            batch_size=IntChoice([64]),
            rate=Choice([0.25]),
            flag=Choice([True]),
        ),
        {},
        str(path),
    )
    assert type(exp.space.dims["hidden"]) is IntChoice and type(exp.space.dims["mix"]) is Choice
    assert type(load_experiment(path).space.dims["flag"]) is Choice  # booleans are not integers here


def test_json_and_yaml_read_the_same_tables(tmp_path):
    doc = {"settings": {"eta": 3}, "space": {"lr": {"loguniform": [1e-4, 0.1]}, "hidden": {"choice": [16, 32]}}}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    # YAML 1.1 reads a bare 1e-4 as a string; the loader reads it as the number people mean
    (tmp_path / "a.yml").write_text(
        "settings: {eta: 3}\nspace:\n  lr: {loguniform: [1e-4, 0.1]}\n  hidden: {choice: [16, 32]}\n"
    )
    a, b = load_experiment(tmp_path / "a.json"), load_experiment(tmp_path / "a.yml")
    assert a.space == b.space == Space(lr=LogUniform(1e-4, 0.1), hidden=IntChoice([16, 32]))
    assert a.settings == b.settings == {"eta": 3}


def test_is_space_file():
    assert is_space_file("x.toml") and is_space_file("dir/x.YAML") and is_space_file(Path("a.json"))
    assert not is_space_file("demo") and not is_space_file("default")


# ------------------------------------------------------------------------------ round trips
def test_builtin_spaces_round_trip_through_dicts():
    for space in (default_space(), demo_space()):
        assert space_from_dict(space_to_dict(space)) == space
        assert json.loads(json.dumps(space_to_dict(space))) == space_to_dict(space)  # plain scalars


def test_numpy_scalars_are_written_as_python_ones(tmp_path):
    space = Space(h=IntChoice(np.array([16, 32])), x=Uniform(np.float64(0.1), np.float64(0.5)))
    for suffix in FORMATS:
        assert load_experiment(dump_experiment(tmp_path / f"n{suffix}", space)).space == space


@pytest.mark.parametrize("suffix", FORMATS)
def test_files_round_trip_with_settings(tmp_path, suffix):
    run = {"max_resource": 27, "eta": 3, "seed": 1, "data": "nvda", "plan": "wide", "folds": 2}
    for space in (default_space(), demo_space()):
        exp = load_experiment(dump_experiment(tmp_path / f"exp{suffix}", space, run))
        assert (exp.space, exp.settings) == (space, run)
    exp = load_experiment(dump_experiment(tmp_path / f"bare{suffix}", demo_space()))
    assert exp.settings == {}


def test_dumped_toml_reads_like_the_format(tmp_path):
    text = dump_experiment(tmp_path / "d.toml", demo_space(), {"eta": 3}).read_text()
    assert "[settings]\neta = 3\n" in text
    assert "lr = {loguniform = [0.0001, 0.1]}\nhidden = {choice = [16, 32]}\n" in text


finite = st.floats(allow_nan=False, allow_infinity=False)
option = st.one_of(st.text(max_size=6), st.booleans(), st.integers(-(10**12), 10**12), finite)


@st.composite
def dimensions(draw):
    kind = draw(st.sampled_from(["uniform", "loguniform", "int", "choice", "intchoice"]))
    if kind == "uniform":
        low, high = sorted(
            draw(
                st.lists(st.one_of(finite, st.integers(-(10**6), 10**6)), min_size=2, max_size=2, unique=True).filter(
                    lambda v: v[0] != v[1]
                )
            )
        )
        return Uniform(low, high)
    if kind == "loguniform":
        low, high = sorted(
            draw(st.lists(st.floats(min_value=1e-300, max_value=1e300), min_size=2, max_size=2, unique=True))
        )
        return LogUniform(low, high)
    if kind == "int":
        return IntUniform(*sorted(draw(st.lists(st.integers(-(10**12), 10**12), min_size=2, max_size=2))))
    if kind == "intchoice":
        return IntChoice(draw(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=5, unique=True)))
    options = draw(
        st.lists(option, min_size=1, max_size=5, unique_by=repr).filter(
            lambda o: not all(isinstance(v, int) and not isinstance(v, bool) for v in o)
        )
    )
    return Choice(options)  # all-integer choices are IntChoice by the format's rule


spaces = st.dictionaries(st.text(min_size=1, max_size=8), dimensions(), min_size=1, max_size=5).map(Space)


@FAST
@given(space=spaces)
def test_random_spaces_round_trip_through_dicts(space):
    assert space_from_dict(space_to_dict(space)) == space


@FAST
@given(space=spaces, suffix=st.sampled_from(FORMATS))
def test_random_spaces_round_trip_through_files(tmp_path, space, suffix):
    assert load_experiment(dump_experiment(tmp_path / f"r{suffix}", space)).space == space


# ------------------------------------------------------------------------------ file errors
def test_file_errors(tmp_path):
    missing = tmp_path / "nope.toml"
    assert error_of(load_experiment, missing, prefix=str(missing)) == "no such file"
    assert error_of(load_experiment, tmp_path / "x.txt", prefix=str(tmp_path / "x.txt")) == (
        "unknown file type '.txt'; use .toml, .json, .yaml, .yml"
    )
    (tmp_path / "dir.toml").mkdir()
    assert error_of(load_experiment, tmp_path / "dir.toml").startswith(f"{tmp_path / 'dir.toml'}: cannot read it")
    assert file_error(tmp_path, b"\xff\xfe[space]") == "not UTF-8 text (invalid start byte at byte 0)"


def test_parse_errors_give_the_line(tmp_path):
    assert file_error(tmp_path, "[space]\nlr = {loguniform = [1e-4, }\n") == (
        "invalid TOML: Invalid value (at line 2, column 27)"
    )
    assert file_error(tmp_path, '{"space": {"lr":\n}', ".json") == (
        "invalid JSON: Expecting value: line 2 column 1 (char 17)"
    )
    assert file_error(tmp_path, "space:\n  lr: [1, 2\n", ".yaml") == (
        "invalid YAML: expected ',' or ']', but got '<stream end>' (at line 3, column 1)"
    )
    assert file_error(tmp_path, '{"space": {"a": 1, "a": 2}}', ".json") == "invalid JSON: key 'a' appears twice"


def test_yaml_without_pyyaml_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    spacefile._yaml.cache_clear()
    try:
        assert "pip install pyyaml" in file_error(tmp_path, "space: {}", ".yml")
    finally:
        spacefile._yaml.cache_clear()


@pytest.mark.parametrize(
    "text, suffix, message",
    [
        ("[1, 2]", ".json", "the top level must be a table holding [space], got a list"),
        ("", ".yaml", "the top level must be a table holding [space], got nothing"),
        (
            "[settings]\neta = 3\n",
            ".toml",
            "no [space] table; add one with a line per hyperparameter, e.g. lr = {loguniform = [1e-4, 1e-1]}",
        ),
        (
            "[spaces]\nlr = 1\n",
            ".toml",
            "unknown top-level key 'spaces' (did you mean space?); allowed: settings, space",
        ),
        ("space = 3\n", ".toml", "space: must be a table of hyperparameters, got int"),
        (
            "[space]\n",
            ".toml",
            "space: is empty; give at least one hyperparameter, e.g. lr = {loguniform = [1e-4, 1e-1]}",
        ),
        ('{"space": {"": 1}}', ".json", "space: hyperparameter names must be non-empty strings, got ''"),
        ("space: {1: {choice: [1]}}", ".yaml", "space: hyperparameter names must be non-empty strings, got 1"),
    ],
)
def test_structure_errors(tmp_path, text, suffix, message):
    assert file_error(tmp_path, text, suffix) == message


@pytest.mark.parametrize(
    "entry, message",
    [
        ("lr = {normal = [0, 1]}", "unknown distribution 'normal'; allowed: uniform, loguniform, int, choice"),
        (
            "lr = {logunifrom = [0, 1]}",
            "unknown distribution 'logunifrom' (did you mean loguniform?); allowed: uniform, loguniform, int, choice",
        ),
        (
            "lr = {uniform = [0, 1], loguniform = [1e-3, 1]}",
            "give exactly one distribution (uniform, loguniform, int, choice), got 'uniform', 'loguniform'",
        ),
        ("lr = {}", "give exactly one distribution (uniform, loguniform, int, choice), got none"),
        ("lr = {uniform = [0, 1, 2]}", "uniform needs [low, high], got [0, 1, 2]"),
        ("lr = {uniform = 0.5}", "uniform needs [low, high], got 0.5"),
        ('lr = {uniform = ["0", 1]}', "uniform bounds must be numbers, got ['0', 1]"),
        ("lr = {uniform = [true, 1]}", "uniform bounds must be numbers, got [True, 1]"),
        ("lr = {uniform = [0, inf]}", "uniform bounds must be finite, got [0, inf]"),
        ("lr = {uniform = [1, 1]}", "uniform needs low < high, got [1, 1]"),
        ("lr = {uniform = [0.5, 0.1]}", "uniform needs low < high, got [0.5, 0.1]"),
        ("lr = {loguniform = [0, 0.1]}", "loguniform needs 0 < low < high, got [0, 0.1]"),
        ("lr = {loguniform = [-1, 0.1]}", "loguniform needs 0 < low < high, got [-1, 0.1]"),
        ("lr = {loguniform = [0.1, 0.01]}", "loguniform needs 0 < low < high, got [0.1, 0.01]"),
        ("lr = {int = [1.5, 3]}", "int needs integer bounds [low, high], got [1.5, 3]"),
        ("lr = {int = [3, 1]}", "int needs low <= high, got [3, 1]"),
        ("lr = {choice = []}", "choice needs at least one option, got []"),
        ('lr = {choice = "adam"}', "choice needs a list of options, got 'adam'"),
        ("lr = {choice = [16, 32, 16]}", "choice options must be distinct, got 16 twice"),
        ("lr = {choice = [[1, 2]]}", "choice options must be finite numbers, strings or booleans, got [1, 2]"),
        ("lr = {choice = [nan]}", "choice options must be finite numbers, strings or booleans, got nan"),
        ("lr = [16, 32]", "a bare list is ambiguous: write {choice = [...]} or {uniform = [low, high]}, got [16, 32]"),
        ("lr = 1979-05-27", "must be a distribution such as {uniform = [0, 1]}, got date"),
    ],
)
def test_hyperparameter_errors_name_the_entry(tmp_path, entry, message):
    assert space_error(tmp_path, entry) == f"space.lr: {message}"


def test_space_from_dict_errors_name_the_source():
    assert error_of(space_from_dict, {"x": {"uniform": [2, 1]}}, source="mine", prefix="mine") == (
        "space.x: uniform needs low < high, got [2, 1]"
    )
    assert error_of(space_from_dict, {"a\nb": None}, prefix="<space>") == (
        "space['a\\nb']: must be a distribution such as {uniform = [0, 1]}, got nothing"
    )
    assert error_of(space_from_dict, [], prefix="<space>") == "space: must be a table of hyperparameters, got a list"


# ------------------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    "entry, message",
    [
        ("eta = 1.5", "settings.eta: must be an integer >= 2, got 1.5"),
        ("eta = 1", "settings.eta: must be an integer >= 2, got 1"),
        ("eta = true", "settings.eta: must be an integer >= 2, got True (a boolean)"),
        ("max_resource = 0", "settings.max_resource: must be a number > 0, got 0"),
        ("max_resource = true", "settings.max_resource: must be a number > 0, got True (a boolean)"),
        ('max_resource = "9"', "settings.max_resource: must be a number > 0, got '9'"),
        ('plan = "fast"', "settings.plan: must be one of auto, exact, wide, got 'fast'"),
        ('target = "open"', "settings.target: must be one of relative, close, return, level, got 'open'"),
        ("seed = -1", "settings.seed: must be an integer >= 0, got -1"),
        ("folds = 0", "settings.folds: must be an integer >= 1, got 0"),
        ('data = ""', "settings.data: must be a non-empty string, got ''"),
        (
            "max-resource = 9",
            "unknown setting 'max-resource' (did you mean max_resource?); allowed: " + ", ".join(SETTINGS),
        ),
        ("budget = 9", "unknown setting 'budget'; allowed: " + ", ".join(SETTINGS)),
    ],
)
def test_setting_errors(tmp_path, entry, message):
    assert file_error(tmp_path, f"[settings]\n{entry}\n[space]\nlr = 0.1\n") == message


def test_settings_table_and_dump_are_checked(tmp_path):
    assert file_error(tmp_path, "settings = 3\n[space]\nlr = 0.1\n") == (
        "settings: must be a table of run settings, got int"
    )
    path = tmp_path / "w.toml"
    assert error_of(dump_experiment, path, demo_space(), {"eta": 1}, prefix=str(path)) == (
        "settings.eta: must be an integer >= 2, got 1"
    )
    assert not path.exists()
    assert check_settings({"max_resource": 2.5, "out": "x"}) == {"max_resource": 2.5, "out": "x"}


# ------------------------------------------------------------------------------ LSTM check
def lstm_error(space: Space, **kwargs) -> str:
    return error_of(check_for_lstm, space, source="f.toml", prefix="f.toml", **kwargs)


def lstm_space(**dims) -> Space:
    return Space({**demo_space().dims, **dims})


WHOLE = "must be whole numbers >= 1: an int range or a choice of integers"


def test_builtin_spaces_pass_the_lstm_check():
    for space in (default_space(), demo_space(), lstm_space(window=IntChoice([10, 20]))):
        check_for_lstm(space, train_size=3000)


@pytest.mark.parametrize(
    "space, message",
    [
        (
            lstm_space(momentum=Uniform(0, 1)),
            "space.momentum: the LSTM backend does not know this hyperparameter; known: "
            "activation, batch_size, dropout, hidden, layers, lr, optimizer, window",
        ),
        (
            Space(lr=LogUniform(1e-3, 1e-1), hidden=IntChoice([8])),
            "space: the LSTM backend needs lr, hidden, layers, batch_size; missing layers, batch_size",
        ),
        (
            lstm_space(activation=Choice(["tanh", "gelu"])),
            "space.activation: must be a choice among tanh, relu, sigmoid; got 'gelu'",
        ),
        (
            lstm_space(optimizer=Uniform(0, 1)),
            "space.optimizer: must be a choice among adam, rmsprop, sgd; got Uniform(low=0, high=1)",
        ),
        (lstm_space(dropout=Uniform(0.0, 1.0)), "space.dropout: dropout rates must lie in [0, 1)"),
        (lstm_space(dropout=Choice(["none"])), "space.dropout: dropout rates must lie in [0, 1)"),
        (lstm_space(lr=Uniform(0, 0.1)), "space.lr: learning rates must be numbers > 0"),
        (lstm_space(hidden=Choice([16.0, 32.0])), f"space.hidden: {WHOLE}"),
        (lstm_space(layers=IntUniform(0, 2)), f"space.layers: {WHOLE}"),
    ],
)
def test_lstm_check_errors(space, message):
    assert lstm_error(space) == message


def test_batch_larger_than_a_folds_training_windows():
    space = lstm_space(batch_size=IntChoice([64, 512]))
    check_for_lstm(space)  # rows unknown: nothing to compare with
    check_for_lstm(space, train_size=532, window=20)
    assert lstm_error(space, train_size=531, window=20) == (
        "space.batch_size: batch size 512 exceeds the 511 training windows of a fold (train_size 531 - window 20)"
    )
    windowed = lstm_space(window=IntUniform(5, 40), batch_size=IntChoice([64]))
    assert lstm_error(windowed, train_size=100) == (
        "space.batch_size: batch size 64 exceeds the 60 training windows of a fold (train_size 100 - window 40)"
    )
    assert lstm_error(demo_space(), train_size=20, window=20) == (
        "settings.window: window 20 must be smaller than train_size 20"
    )


# ------------------------------------------------------------------------------ the example
def test_example_file_is_a_small_valid_lstm_experiment():
    exp = load_experiment(EXAMPLE)
    run = exp.settings
    check_for_lstm(exp.space, train_size=run.get("train_size", 3000), window=run["window"], source=exp.source)
    assert run["max_resource"] in (9, 27) and run["eta"] == 3
    assert exp.space.dims["activation"] == Choice(["tanh"])
    hb = hbjax.Hyperband(exp.space, max_resource=run["max_resource"], eta=run["eta"], seed=run["seed"])
    assert len(hb.plan) >= 2


# ------------------------------------------------------------------------------ junk
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6))
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
# an entry no reading accepts: a bare list, a null, or a table whose key is no distribution
poison = st.one_of(
    st.lists(junk, max_size=3),
    st.none(),
    st.dictionaries(
        st.text(max_size=6).filter(lambda k: k not in spacefile.DISTRIBUTIONS), junk, min_size=1, max_size=2
    ),
)


def strip_nulls(value):
    """TOML has no null: drop them so the document can be written."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value if v is not None]
    return value


@settings(max_examples=150, deadline=None)
@given(doc=junk)
def test_junk_spaces_raise_only_space_file_errors(doc):
    try:
        assert isinstance(space_from_dict(doc), Space)
    except SpaceFileError as err:
        assert "\n" not in str(err)


@FAST
@given(
    space=st.dictionaries(st.text(min_size=1, max_size=6), junk, max_size=3),
    bad=poison,
    run=st.none() | junk,
    suffix=st.sampled_from(FORMATS),
)
def test_junk_files_always_raise_space_file_error(tmp_path, space, bad, run, suffix):
    doc = {"space": {**space, "poisoned": bad}}
    if run is not None:
        doc["settings"] = run
    path = tmp_path / f"junk{suffix}"
    if suffix == ".toml":
        doc = strip_nulls(doc)
        if "poisoned" not in doc["space"] or not isinstance(doc.get("settings", {}), dict):
            return  # the null was the poison, or a bare TOML value cannot be a table here
        path.write_text(spacefile._render(doc, ".toml"))
    elif suffix == ".json":
        path.write_text(json.dumps(doc))
    else:
        import yaml

        path.write_text(yaml.safe_dump(doc))
    message = error_of(load_experiment, path, prefix=str(path))
    assert message


@FAST
@given(data=st.binary(max_size=40) | st.text(max_size=40).map(str.encode), suffix=st.sampled_from(FORMATS))
def test_random_bytes_raise_space_file_error(tmp_path, data, suffix):
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(data)
    error_of(load_experiment, path, prefix=str(path))


def test_recursive_and_overflowing_values_stay_one_line(tmp_path):
    assert file_error(tmp_path, "space: &a {x: [*a]}", ".yaml") == (
        "space.x: a bare list is ambiguous: write {choice = [...]} or {uniform = [low, high]}, got [{'x': [...]}]"
    )
    assert file_error(tmp_path, '{"space": {"x": {"uniform": [0, 1e999]}}}', ".json") == (
        "space.x: uniform bounds must be finite, got [0, inf]"
    )
    assert file_error(tmp_path, "[space]\nx = {choice = [" + "9" * 5000 + "]}\n").startswith("invalid TOML: ")
