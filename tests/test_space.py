"""Search spaces: dimensions, validation, seeding, grids and JSON-safe configs."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hbjax.space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform, as_generator

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------ dimensions
@FAST
@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(1e-6, 1e6, allow_nan=False),
    seed=st.integers(0, 2**32 - 1),
)
def test_uniform_in_range(low, width, seed):
    high = low + width
    assume(low < high)
    dim = Uniform(low, high)
    x = dim.sample(np.random.default_rng(seed), 200)
    assert x.shape == (200,)
    assert np.all(x >= low) and np.all(x <= high)
    assert all(dim.contains(v) for v in x)
    assert not dim.contains(high + abs(high) + 1) and not dim.contains(low - abs(low) - 1)


@FAST
@given(
    log_low=st.floats(-8, 7, allow_nan=False),
    log_width=st.floats(0.01, 8, allow_nan=False),
    seed=st.integers(0, 2**32 - 1),
)
def test_loguniform_in_range(log_low, log_width, seed):
    low, high = 10.0**log_low, 10.0 ** (log_low + log_width)
    dim = LogUniform(low, high)
    x = dim.sample(np.random.default_rng(seed), 200)
    assert np.all(x > 0)
    assert np.all(x >= low * (1 - 1e-12)) and np.all(x <= high * (1 + 1e-12))
    assert all(dim.contains(v) for v in x)
    assert not dim.contains(low / 2) and not dim.contains(high * 2)


def test_loguniform_log_is_uniform():
    dim = LogUniform(1e-4, 1e-1)
    x = dim.sample(np.random.default_rng(0), 20_000)
    logs = np.log(x)
    a, b = math.log(1e-4), math.log(1e-1)
    # mean of U(a, b) is (a+b)/2; standard error = (b-a)/sqrt(12*20000) ~ 0.002*(b-a)
    assert abs(logs.mean() - (a + b) / 2) < 0.01 * (b - a)
    assert abs(logs.std() - (b - a) / math.sqrt(12)) < 0.01 * (b - a)
    # each decade holds a third of the mass (a plain Uniform would put 90% in the top decade)
    decades = np.histogram(np.log10(x), bins=[-4, -3, -2, -1])[0] / len(x)
    assert np.allclose(decades, 1 / 3, atol=0.02)
    assert np.mean(x < 1e-3) == pytest.approx(1 / 3, abs=0.02)


def test_uniform_mean():
    x = Uniform(2.0, 4.0).sample(np.random.default_rng(1), 20_000)
    assert abs(x.mean() - 3.0) < 0.02


@FAST
@given(low=st.integers(-1000, 1000), span=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_intuniform_in_range_inclusive(low, span, seed):
    high = low + span
    dim = IntUniform(low, high)
    x = dim.sample(np.random.default_rng(seed), 50 * (span + 1))
    assert x.min() >= low and x.max() <= high
    assert set(x.tolist()) == set(range(low, high + 1))  # both ends show up
    assert dim.values == tuple(range(low, high + 1))
    assert dim.contains(low) and dim.contains(high) and dim.contains(float(low))
    assert not dim.contains(low - 1) and not dim.contains(high + 1) and not dim.contains(low + 0.5)


def test_intuniform_single_value():
    assert IntUniform(7, 7).sample(np.random.default_rng(0), 10).tolist() == [7] * 10


def test_choice_mixed_types_keep_python_types():
    values = ["scale", "auto", 0.1]
    space = Space(gamma=Choice(values))
    cols = space.sample(0, 3000)
    assert set(cols["gamma"].tolist()) == {"scale", "auto", 0.1}
    for cfgs in (space.configs(cols), space.sample_configs(0, 10), space.grid()):
        for cfg in cfgs:
            v = cfg["gamma"]
            assert (type(v) is str and v in ("scale", "auto")) or (type(v) is float and v == 0.1)
    assert sorted(map(repr, space.sample_configs(0, 10))) == sorted(map(repr, [{"gamma": v} for v in values]))
    json.dumps(space.configs(cols))


def test_choice_mixed_in_continuous_space_keeps_types():
    space = Space(gamma=Choice(["scale", "auto", 0.1]), c=LogUniform(0.1, 10))
    cfgs = space.sample_configs(3, 300)
    assert len(cfgs) == 300
    assert {type(c["gamma"]) for c in cfgs} == {str, float}
    assert {c["gamma"] for c in cfgs} == {"scale", "auto", 0.1}
    assert all(type(c["c"]) is float for c in cfgs)


def test_numpy_scalars_become_python_scalars():
    space = Space(
        a=Choice([np.int64(1), np.float32(0.5), np.str_("s")]),
        n=IntUniform(np.int64(1), np.int64(5)),
        u=Uniform(0, 1),
        lu=LogUniform(1e-3, 1),
        k=IntChoice([np.int32(16), 32]),
    )
    cfgs = space.configs(space.sample(0, 200)) + space.sample_configs(1, 50)
    seen = set()
    for cfg in cfgs:
        assert type(cfg["n"]) is int and 1 <= cfg["n"] <= 5
        assert type(cfg["u"]) is float and type(cfg["lu"]) is float
        assert type(cfg["k"]) is int and cfg["k"] in (16, 32)
        assert type(cfg["a"]) in (int, float, str)
        seen.add((type(cfg["a"]), cfg["a"]))
        for v in cfg.values():
            assert not isinstance(v, np.generic)
    assert seen == {(int, 1), (float, 0.5), (str, "s")}
    json.dumps(cfgs)


def test_choice_of_tuples_and_none():
    space = Space(h=Choice([(64,), (128, 64), None]), a=Uniform(0, 1))
    cfgs = space.sample_configs(0, 200)
    assert {c["h"] for c in cfgs} == {(64,), (128, 64), None}


def test_intchoice():
    dim = IntChoice([16, 32, 64])
    assert set(dim.sample(np.random.default_rng(0), 500).tolist()) == {16, 32, 64}
    assert dim.values == (16, 32, 64)
    assert dim.contains(32) and not dim.contains(33)


def test_choice_contains():
    dim = Choice(["scale", "auto", 0.1])
    assert dim.contains("auto") and dim.contains(0.1)
    assert not dim.contains("Auto") and not dim.contains(0.2)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Uniform(1, 1), r"Uniform needs low < high, got low=1, high=1"),
        (lambda: Uniform(2, 1), r"Uniform needs low < high"),
        (lambda: Uniform(0, float("inf")), r"Uniform high must be finite"),
        (lambda: Uniform(float("nan"), 1), r"Uniform low must be finite"),
        (lambda: Uniform("0", 1), r"Uniform low must be a number"),
        (lambda: LogUniform(0, 1), r"LogUniform needs low > 0, got low=0"),
        (lambda: LogUniform(-1, 1), r"LogUniform needs low > 0, got low=-1"),
        (lambda: LogUniform(1, 1), r"LogUniform needs low < high"),
        (lambda: LogUniform(1e-3, float("inf")), r"LogUniform high must be finite"),
        (lambda: IntUniform(3, 2), r"IntUniform needs low <= high, got low=3, high=2"),
        (lambda: IntUniform(1.5, 3), r"IntUniform low must be an integer, got 1\.5"),
        (lambda: IntUniform(1, 3.0), r"IntUniform high must be an integer"),
        (lambda: IntUniform(True, 3), r"IntUniform low must be an integer"),
        (lambda: Choice([]), r"Choice needs at least one value"),
        (lambda: Choice("abc"), r"Choice needs a list of values, got 'abc'"),
        (lambda: Choice(5), r"Choice needs a list of values"),
        (lambda: Choice([1, 2, 1]), r"Choice values must be distinct"),
        (lambda: IntChoice([1.5]), r"IntChoice values must be integers, got \[1\.5\]"),
        (lambda: IntChoice([1, True]), r"IntChoice values must be integers"),
        (lambda: Space(), r"the search space is empty"),
        (lambda: Space({}), r"the search space is empty"),
        (lambda: Space(x=[1, 2]), r"dimension 'x' must be Uniform, LogUniform, IntUniform or Choice, got \[1, 2\]"),
        (lambda: Space(x=Uniform(0, 1), y=(0, 1)), r"dimension 'y' must be"),
    ],
)
def test_validation_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------------------------- keys
SPACE = Space(x=Uniform(0, 1), lr=LogUniform(1e-4, 1e-1), n=IntUniform(1, 100), c=Choice(["a", "b", 3]))


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_int_seed_deterministic():
    assert _same(SPACE.sample(0, 50), SPACE.sample(0, 50))
    assert _same(SPACE.sample(np.int64(0), 50), SPACE.sample(0, 50))
    assert not _same(SPACE.sample(0, 50), SPACE.sample(1, 50))
    assert SPACE.sample_configs(3, 20) == SPACE.sample_configs(3, 20)
    assert SPACE.sample_configs(3, 20) != SPACE.sample_configs(4, 20)


def test_generator_deterministic_and_advances():
    a = SPACE.sample(np.random.default_rng(5), 50)
    b = SPACE.sample(np.random.default_rng(5), 50)
    assert _same(a, b)
    rng = np.random.default_rng(5)
    assert as_generator(rng) is rng
    first = SPACE.sample(rng, 50)
    second = SPACE.sample(rng, 50)
    assert _same(first, a) and not _same(first, second)


def test_sequence_seed():
    assert _same(SPACE.sample((1, 2), 10), SPACE.sample(np.random.default_rng([1, 2]), 10))


@pytest.mark.parametrize("bad", ["abc", 1.5, None, True, object()])
def test_bad_key(bad):
    with pytest.raises(TypeError, match="key must be an int seed, numpy Generator or JAX PRNG key"):
        SPACE.sample(bad, 3)


@pytest.fixture(scope="module")
def jax():
    try:
        import jax
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"jax not importable: {err}")
    return jax


@pytest.mark.parametrize("make", ["key", "PRNGKey"])
def test_jax_keys_deterministic(jax, make):
    new = getattr(jax.random, make)
    a = SPACE.sample(new(0), 50)
    assert _same(a, SPACE.sample(new(0), 50))
    assert not _same(a, SPACE.sample(new(1), 50))
    assert SPACE.sample_configs(new(0), 10) == SPACE.sample_configs(new(0), 10)
    for name in ("x", "lr", "n"):
        assert all(SPACE.dims[name].contains(v) for v in a[name])
    # a split key works too and differs from its parent
    k1, _ = jax.random.split(new(0))
    assert not _same(SPACE.sample(k1, 50), a)


def test_jax_typed_and_raw_key_agree(jax):
    assert _same(SPACE.sample(jax.random.key(7), 20), SPACE.sample(jax.random.PRNGKey(7), 20))


# ------------------------------------------------------------------ size / grid / sampling
FINITE = Space(a=IntUniform(1, 3), b=Choice(["x", "y"]))


def test_size_and_grid():
    assert FINITE.size == 6
    assert FINITE.names == ("a", "b")
    assert FINITE.grid() == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 3, "b": "x"},
        {"a": 3, "b": "y"},
    ]
    assert all(type(c["a"]) is int for c in FINITE.grid())
    assert Space(a=IntChoice([1, 2]), b=Choice(["u", "v", "w"]), c=IntUniform(0, 4)).size == 30
    assert SPACE.size is None
    with pytest.raises(ValueError, match="grid\\(\\) needs a finite space"):
        SPACE.grid()


def test_sample_configs_finite_without_replacement():
    four = FINITE.sample_configs(0, 4)
    assert len(four) == 4 and len({tuple(c.items()) for c in four}) == 4
    everything = FINITE.sample_configs(1, 6)
    assert sorted(map(repr, everything)) == sorted(map(repr, FINITE.grid()))
    capped = FINITE.sample_configs(2, 100)
    assert len(capped) == 6 and sorted(map(repr, capped)) == sorted(map(repr, FINITE.grid()))
    # explicitly with replacement
    many = FINITE.sample_configs(0, 100, unique=False)
    assert len(many) == 100 and len({tuple(c.items()) for c in many}) <= 6
    assert all(FINITE.contains(c) for c in many)


def test_sample_configs_continuous_with_replacement():
    space = Space(u=Uniform(0, 1), c=IntChoice([1, 2]))
    cfgs = space.sample_configs(0, 100)
    assert len(cfgs) == 100
    assert {c["c"] for c in cfgs} == {1, 2}  # the finite dimension repeats
    assert len({c["u"] for c in cfgs}) == 100
    with pytest.raises(ValueError, match="finite space"):
        space.sample_configs(0, 5, unique=True)


def test_sample_configs_matches_sample_columns():
    cols = SPACE.sample(9, 30)
    assert SPACE.configs(cols) == SPACE.sample_configs(9, 30)
    assert [c["x"] for c in SPACE.configs(cols)] == cols["x"].tolist()


def test_sample_configs_does_not_materialise_huge_grid():
    space = Space(a=IntUniform(0, 499), b=IntUniform(0, 99))  # 50,000 points
    tracemalloc.start()
    try:
        cfgs = space.sample_configs(0, 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cfgs) == 5 and len({tuple(c.items()) for c in cfgs}) == 5
    assert all(space.contains(c) for c in cfgs)
    assert peak < 2_000_000  # the grid alone is ~10 MB; a permutation of 50,000 ids is 0.4 MB


def test_contains_and_validate():
    good = {"x": 0.5, "lr": 1e-3, "n": 7, "c": "a"}
    assert SPACE.contains(good)
    SPACE.validate(good)
    assert not SPACE.contains({**good, "x": 1.5})
    assert not SPACE.contains({**good, "n": 7.5})
    assert not SPACE.contains({**good, "c": "z"})
    assert not SPACE.contains({k: v for k, v in good.items() if k != "x"})
    assert not SPACE.contains({**good, "extra": 1})
    with pytest.raises(ValueError, match=r"unknown \['extra'\], missing \[\]"):
        SPACE.validate({**good, "extra": 1})
    with pytest.raises(ValueError, match=r"unknown \[\], missing \['x'\]"):
        SPACE.validate({k: v for k, v in good.items() if k != "x"})
    with pytest.raises(ValueError, match=r"value 1\.5 of 'x' is outside Uniform"):
        SPACE.validate({**good, "x": 1.5})
    with pytest.raises(ValueError, match=r"value 0 of 'lr' is outside LogUniform"):
        SPACE.validate({**good, "lr": 0})
    for cfg in SPACE.sample_configs(0, 100):
        SPACE.validate(cfg)


def test_space_equality_and_repr():
    assert Space(a=Uniform(0, 1)) == Space({"a": Uniform(0, 1)})
    assert Space(a=Uniform(0, 1)) != Space(a=Uniform(0, 2))
    assert "a=Uniform(low=0, high=1)" in repr(Space(a=Uniform(0, 1)))
    assert Space({"a": Uniform(0, 1)}, b=IntUniform(0, 1)).names == ("a", "b")
