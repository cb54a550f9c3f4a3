"""Bracket maths of Hyperband (Algorithm 1 of Li et al. 2018), checked against literal tables and
an independent Fraction-based reference."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbjax.brackets import (
    Bracket,
    bracket_budget,
    format_plan,
    hyperband_plan,
    plan_budget,
    s_max,
    shrink_bracket,
    successive_halving_plan,
    validate_resource_and_eta,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------- s_max
@pytest.mark.parametrize(
    "R, eta, expected",
    [
        (81, 3, 4),
        (100, 3, 4),
        (27, 3, 3),
        (243, 3, 5),  # int(math.log(243, 3)) == 4: the float-log trap
        (1, 3, 0),
        (2, 2, 1),
        (1000, 10, 3),  # math.log(1000, 10) == 2.9999999999999996
        (125, 5, 3),  # math.log(125, 5) == 3.0000000000000004
        (3**20, 3, 20),
        (3**20 - 1, 3, 19),
        (100.0, 3, 4),
        (80.9, 3, 3),
        (81.0, 3, 4),
        (80.99999999999999, 3, 3),
        (Fraction(81, 1), 3, 4),
        (Fraction(161, 2), 3, 3),
        (2.5, 2, 1),
        (9, 10, 0),
    ],
)
def test_s_max_exact(R, eta, expected):
    assert s_max(R, eta) == expected


@FAST
@given(R=st.integers(1, 10**6), eta=st.integers(2, 10))
def test_s_max_property_integer(R, eta):
    s = s_max(R, eta)
    assert isinstance(s, int)
    assert eta**s <= R < eta ** (s + 1)


@FAST
@given(R=st.floats(1, 1e6, allow_nan=False, allow_infinity=False), eta=st.integers(2, 10))
def test_s_max_property_float(R, eta):
    s = s_max(R, eta)
    assert eta**s <= Fraction(R) < eta ** (s + 1)


# ------------------------------------------------------------------------ the R=81, eta=3 table
R81_TABLE = {
    # s: (n, r, [(n_i, r_i), ...])
    4: (81, 1, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
    3: (34, 3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
    2: (15, 9, [(15, 9), (5, 27), (1, 81)]),
    1: (8, 27, [(8, 27), (2, 81)]),
    0: (5, 81, [(5, 81)]),
}


def test_plan_r81_eta3_literal_table():
    plan = hyperband_plan(81, 3)
    assert [b.s for b in plan] == [4, 3, 2, 1, 0]
    assert [(b.s, b.n, b.r) for b in plan] == [(4, 81, 1), (3, 34, 3), (2, 15, 9), (1, 8, 27), (0, 5, 81)]
    for b in plan:
        n, r, rungs = R81_TABLE[b.s]
        assert (b.n, b.r) == (n, r)
        assert [(rg.n_configs, rg.resource) for rg in b.rungs] == rungs
        assert [rg.index for rg in b.rungs] == list(range(b.s + 1))
        expected_promote = [n_i // 3 for n_i, _ in rungs[:-1]] + [0]
        assert [rg.n_promote for rg in b.rungs] == expected_promote
        # the survivors of rung i are exactly the configs of rung i+1
        for lo, hi in zip(b.rungs, b.rungs[1:]):
            assert lo.n_promote == hi.n_configs


def test_plan_r81_promote_literal():
    plan = {b.s: b for b in hyperband_plan(81, 3)}
    assert [r.n_promote for r in plan[4].rungs] == [27, 9, 3, 1, 0]
    assert [r.n_promote for r in plan[3].rungs] == [11, 3, 1, 0]
    assert [r.n_promote for r in plan[2].rungs] == [5, 1, 0]
    assert [r.n_promote for r in plan[1].rungs] == [2, 0]
    assert [r.n_promote for r in plan[0].rungs] == [0]


def test_plan_follows_algorithm_1_not_paper_table_1():
    # Table 1 of the paper prints n0 = 81, 27, 9, 6, 5; hbjax deliberately follows Algorithm 1.
    assert [b.n for b in hyperband_plan(81, 3)] == [81, 34, 15, 8, 5] != [81, 27, 9, 6, 5]


def test_plan_budget_r81_literal():
    plan = hyperband_plan(81, 3)
    assert [b.budget for b in plan] == [405, 363, 351, 378, 405]
    assert [bracket_budget(b) for b in plan] == [405, 363, 351, 378, 405]
    assert plan_budget(plan) == 1902


def test_plan_r100_eta3_fractional_resources():
    plan = hyperband_plan(100, 3)
    assert [b.n for b in plan] == [81, 34, 15, 8, 5]
    expected_r = [100 / 81, 100 / 27, 100 / 9, 100 / 3, 100]
    assert [b.r for b in plan] == pytest.approx(expected_r, rel=1e-12)
    for b in plan:
        assert b.rungs[-1].resource == 100  # exactly R, not 99.99999
        assert b.rungs[0].resource == pytest.approx(b.r, rel=1e-15)
        for i, rg in enumerate(b.rungs):
            assert rg.resource == pytest.approx(100 * 3.0 ** (i - b.s), rel=1e-12)
    first = plan[0]
    assert [rg.n_configs for rg in first.rungs] == [81, 27, 9, 3, 1]


def test_plan_r100_integer_resource_literal():
    plan = hyperband_plan(100, 3, integer_resource=True)
    assert [[(rg.n_configs, rg.resource) for rg in b.rungs] for b in plan] == [
        [(81, 1), (27, 3), (9, 11), (3, 33), (1, 100)],
        [(34, 3), (11, 11), (3, 33), (1, 100)],
        [(15, 11), (5, 33), (1, 100)],
        [(8, 33), (2, 100)],
        [(5, 100)],
    ]
    assert [b.r for b in plan] == [1, 3, 11, 33, 100]


# ----------------------------------------------------------- property: independent reference
def _reference_plan(R, eta):
    """Algorithm 1 in a different formulation: repeated division, Fraction ceil/floor."""
    R = Fraction(R)
    x, top = R, 0
    while x >= eta:
        x /= eta
        top += 1
    out = []
    for s in range(top, -1, -1):
        n = math.ceil(Fraction(top + 1, s + 1) * Fraction(eta) ** s)
        rungs = []
        for i in range(s + 1):
            n_i = math.floor(Fraction(n) / Fraction(eta) ** i)
            r_i = R / Fraction(eta) ** (s - i)
            promote = math.floor(Fraction(n_i, eta)) if i < s else 0
            rungs.append((i, n_i, r_i, promote))
        out.append((s, n, R / Fraction(eta) ** s, rungs))
    return top, out


R_VALUES = st.one_of(
    st.integers(1, 5000),
    st.fractions(min_value=1, max_value=5000, max_denominator=1000),
    st.floats(1, 5000, allow_nan=False, allow_infinity=False),
)


@FAST
@given(R=R_VALUES, eta=st.integers(2, 8))
def test_plan_matches_fraction_reference(R, eta):
    top, ref = _reference_plan(R, eta)
    assert s_max(R, eta) == top
    plan = hyperband_plan(R, eta)
    assert len(plan) == top + 1
    for b, (s, n, r, rungs) in zip(plan, ref):
        assert (b.s, b.n) == (s, n)
        assert b.r == float(r)
        assert len(b.rungs) == s + 1
        for rg, (i, n_i, r_i, promote) in zip(b.rungs, rungs):
            assert (rg.index, rg.n_configs, rg.n_promote) == (i, n_i, promote)
            assert rg.resource == float(r_i)  # correctly rounded from the exact value
        assert b.rungs[-1].resource == float(Fraction(R))
        assert b.rungs[-1].n_configs >= 1


@FAST
@given(R=R_VALUES, eta=st.integers(2, 8))
def test_budget_bounds(R, eta):
    Rf = float(Fraction(R))
    top = s_max(R, eta)
    for b in hyperband_plan(R, eta):
        budget = b.budget
        upper = (top + 1) * Rf + (b.s + 1) * Rf * eta ** (-b.s)
        assert budget <= upper * (1 + 1e-12)
        # every bracket takes at least one config to R, and its first rung alone spends
        # n * r >= (s_max+1)/(s+1) * R
        assert budget >= Rf * (1 - 1e-12)
        assert b.rungs[0].n_configs * b.rungs[0].resource >= (top + 1) / (b.s + 1) * Rf * (1 - 1e-12)
        # the docstring's intermediate bound: each rung spends at most n * r
        for rg in b.rungs:
            assert rg.n_configs * rg.resource <= b.n * b.r * (1 + 1e-12)


@FAST
@given(R=st.integers(1, 5000), eta=st.integers(2, 8))
def test_integer_resource_property(R, eta):
    exact = hyperband_plan(R, eta)
    for b, be in zip(hyperband_plan(R, eta, integer_resource=True), exact):
        res = [rg.resource for rg in b.rungs]
        assert all(type(r) is int and r >= 1 for r in res)
        assert all(a <= c for a, c in itertools.pairwise(res))
        assert res[-1] == R
        assert max(res) <= R
        assert type(b.r) is int and b.r == res[0]
        # rounded down from the exact resource, at least 1; same config counts
        for rg, rge in zip(b.rungs, be.rungs):
            assert rg.resource == max(1, math.floor(Fraction(R) / Fraction(eta) ** (b.s - rg.index)))
            assert (rg.n_configs, rg.n_promote) == (rge.n_configs, rge.n_promote)


def test_integer_resource_fractional_R_never_exceeds_R():
    for b in hyperband_plan(80.9, 3, integer_resource=True):
        assert all(rg.resource <= 80.9 for rg in b.rungs)
        assert b.rungs[-1].resource == 80


# ----------------------------------------------------------------------- successive halving
def test_successive_halving_default_matches_hyperband_bracket():
    sh = successive_halving_plan(81, 81, 3)
    assert sh == hyperband_plan(81, 3)[0]


def test_successive_halving_default_limited_by_n_configs():
    b = successive_halving_plan(10, 81, 3)
    assert (b.s, b.n, b.r) == (2, 10, 9)
    assert [(r.n_configs, r.resource, r.n_promote) for r in b.rungs] == [(10, 9, 3), (3, 27, 1), (1, 81, 0)]


def test_successive_halving_default_limited_by_R():
    b = successive_halving_plan(100, 9, 3)
    assert (b.s, b.r) == (2, 1)
    assert [(r.n_configs, r.resource) for r in b.rungs] == [(100, 1), (33, 3), (11, 9)]


def test_successive_halving_one_config_is_one_rung_at_R():
    b = successive_halving_plan(1, 81, 3)
    assert (b.s, b.n) == (0, 1)
    assert [(r.n_configs, r.resource, r.n_promote) for r in b.rungs] == [(1, 81, 0)]


def test_successive_halving_min_resource():
    b = successive_halving_plan(27, 81, 3, min_resource=3)
    assert (b.s, b.r) == (3, 3)
    assert [(r.n_configs, r.resource) for r in b.rungs] == [(27, 3), (9, 9), (3, 27), (1, 81)]
    b = successive_halving_plan(7, 81, 3, min_resource=81)
    assert [(r.n_configs, r.resource, r.n_promote) for r in b.rungs] == [(7, 81, 0)]


def test_successive_halving_min_resource_not_a_power_rounds_up():
    b = successive_halving_plan(81, 81, 3, min_resource=10)
    assert 10 <= b.r < 30
    assert b.r == 27 and b.s == 1


def test_successive_halving_integer_resource():
    b = successive_halving_plan(9, 10, 3, integer_resource=True)
    assert [(r.n_configs, r.resource) for r in b.rungs] == [(9, 1), (3, 3), (1, 10)]


def test_successive_halving_float_min_resource_that_is_r_over_eta_power():
    b = successive_halving_plan(25, 1.0, 5, min_resource=0.2)
    assert b.s == 1
    assert b.r == pytest.approx(0.2)
    # the plan's own r fed back as min_resource must give the same bracket
    bracket = hyperband_plan(10, 3)[-2]  # s=1, r = 10/3 = 3.3333333333333335
    again = successive_halving_plan(bracket.n, 10, 3, min_resource=bracket.r)
    assert again.s == bracket.s


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_configs=0), "n_configs must be a positive integer"),
        (dict(n_configs=-3), "n_configs must be a positive integer"),
        (dict(n_configs=2.5), "n_configs must be a positive integer"),
        (dict(n_configs=True), "n_configs must be a positive integer"),
        (dict(n_configs=81, min_resource=0), r"min_resource must be in \(0, max_resource\]"),
        (dict(n_configs=81, min_resource=-1), r"min_resource must be in \(0, max_resource\]"),
        (dict(n_configs=81, min_resource=82), r"min_resource must be in \(0, max_resource\]"),
        (dict(n_configs=81, min_resource=float("nan")), r"min_resource must be in"),
        (dict(n_configs=5, min_resource=1), "5 configs cannot survive 4 halvings by eta=3"),
    ],
)
def test_successive_halving_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        successive_halving_plan(max_resource=81, eta=3, **kwargs)


def test_successive_halving_bad_R_eta():
    with pytest.raises(ValueError, match="eta must be an integer"):
        successive_halving_plan(10, 81, 1)
    with pytest.raises(ValueError, match="max_resource"):
        successive_halving_plan(10, 0, 3)


# ------------------------------------------------------------------------------ bad input
BAD_INPUT = [
    (81, 1, r"eta must be an integer >= 2, got 1"),
    (81, 0, r"eta must be an integer >= 2, got 0"),
    (81, -3, r"eta must be an integer >= 2"),
    (81, 2.5, r"eta must be an integer >= 2, got 2\.5"),
    (81, 3.0, r"got 3\.0 \(a float\); pass 3"),
    (81, "3", r"eta must be an integer >= 2, got '3'"),
    (81, True, r"eta must be an integer"),
    (81, None, r"eta must be an integer"),
    (0, 3, r"max_resource \(R\) must be >= 1, got 0"),
    (-5, 3, r"max_resource \(R\) must be >= 1, got -5"),
    (0.5, 3, r"max_resource \(R\) must be >= 1"),
    (float("nan"), 3, r"max_resource \(R\) must be >= 1, got nan"),
    (float("inf"), 3, r"max_resource \(R\) must be finite"),
    (float("-inf"), 3, r"max_resource \(R\) must be >= 1"),
    ("81", 3, r"max_resource \(R\) must be a number >= 1, got '81'"),
    (None, 3, r"max_resource \(R\) must be a number"),
    (True, 3, r"max_resource \(R\) must be a number"),
]


@pytest.mark.parametrize("fn", [validate_resource_and_eta, s_max, hyperband_plan])
@pytest.mark.parametrize("R, eta, match", BAD_INPUT)
def test_bad_input_raises_value_error(fn, R, eta, match):
    with pytest.raises(ValueError, match=match):
        fn(R, eta)


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    assert s_max(np.int64(81), np.int64(3)) == 4
    assert hyperband_plan(np.int64(81), np.int32(3)) == hyperband_plan(81, 3)


# ---------------------------------------------------------------------------- shrink_bracket
def test_shrink_bracket_81_to_20():
    big = hyperband_plan(81, 3)[0]
    small = shrink_bracket(big, 20, 3)
    assert isinstance(small, Bracket)
    assert (small.s, small.n, small.r) == (4, 20, 1)
    assert [r.n_configs for r in small.rungs] == [20, 6, 2, 1, 1]
    assert [r.n_promote for r in small.rungs] == [6, 2, 1, 1, 0]
    assert [r.resource for r in small.rungs] == [1, 3, 9, 27, 81]
    for lo, hi in zip(small.rungs, small.rungs[1:]):
        assert lo.n_promote == hi.n_configs


def test_shrink_bracket_noop_when_enough():
    big = hyperband_plan(81, 3)[1]
    assert shrink_bracket(big, 34, 3) == big
    assert shrink_bracket(big, 1000, 3) == big


def test_shrink_bracket_single_config():
    small = shrink_bracket(hyperband_plan(81, 3)[0], 1, 3)
    assert [r.n_configs for r in small.rungs] == [1, 1, 1, 1, 1]
    assert small.rungs[-1].resource == 81


# ------------------------------------------------------------------------------- format_plan
def test_format_plan_one_line_per_bracket():
    plan = hyperband_plan(81, 3)
    lines = format_plan(plan).splitlines()
    assert len(lines) == len(plan) == 5
    for line, b in zip(lines, plan):
        assert f"s={b.s}" in line
        assert f"n={b.n:>4}" in line
        cells = ", ".join(f"{r.n_configs}x{r.resource:g}" for r in b.rungs)
        assert cells in line
    assert "34x3, 11x9, 3x27, 1x81" in lines[1]
    assert lines[4].endswith("5x81")


def test_format_plan_fractional_and_integer():
    lines = format_plan(hyperband_plan(100, 3)).splitlines()
    assert len(lines) == 5
    assert "81x1.23457" in lines[0] and lines[0].endswith("1x100")
    lines = format_plan(hyperband_plan(100, 3, integer_resource=True)).splitlines()
    assert "9x11, 3x33, 1x100" in lines[0]
