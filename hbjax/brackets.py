"""Bracket maths of Hyperband (Li et al. 2018, Algorithm 1), in exact integer arithmetic.

For a maximum resource ``R`` and a reduction factor ``eta``:

* ``s_max = floor(log_eta(R))``, found by integer comparison ``eta**s <= R`` (no float log,
  so R=243, eta=3 gives 5, not 4 as ``int(math.log(243, 3))`` does).
* bracket ``s`` (from ``s_max`` down to 0) starts ``n = ceil((s_max+1) / (s+1) * eta**s)``
  configurations at resource ``r = R * eta**-s``;
* rung ``i`` (0..s) trains ``n_i = floor(n * eta**-i)`` configurations to ``r_i = r * eta**i``,
  and the best ``floor(n_i / eta)`` go on to rung ``i+1``.

Paper note: Table 1 of the paper prints, for R=81 and eta=3, first-rung sizes n0 = 81, 27, 9, 6, 5,
which is not what its own Algorithm 1 gives (81, 34, 15, 8, 5).  hbjax follows Algorithm 1: it is
the algorithm the paper analyses, it gives every bracket about the same budget ``(s_max+1)*R``
(the table's sizes underspend the middle brackets), and it is what Ray Tune and HpBandSter do.

Resources may be fractional (epochs: r = 100/81 epoch is fine) or integral (samples,
iterations).  With ``integer_resource=True`` every ``r_i`` is rounded *down* to an integer (at
least 1), so no rung ever exceeds R and the last rung of every bracket is exactly R.

Budget bound (checked by the tests): since ``n < (s_max+1)/(s+1) * eta**s + 1``,
``sum_i n_i * r_i <= (s+1) * n * R * eta**-s < (s_max+1)*R + (s+1)*R*eta**-s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Real

__all__ = [
    "Bracket",
    "Rung",
    "bracket_budget",
    "continued_budget",
    "format_plan",
    "hyperband_plan",
    "plan_budget",
    "s_max",
    "successive_halving_plan",
    "validate_resource_and_eta",
]


@dataclass(frozen=True)
class Rung:
    """One rung of successive halving: ``n_configs`` trained to ``resource``; ``n_promote`` go on."""

    index: int
    n_configs: int
    resource: float
    n_promote: int


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket ``s`` of Hyperband."""

    s: int
    n: int
    r: float
    rungs: tuple[Rung, ...]

    @property
    def budget(self) -> float:
        return bracket_budget(self)


def validate_resource_and_eta(max_resource, eta) -> None:
    """Raise a ``ValueError`` naming the problem when ``R`` or ``eta`` is unusable."""
    if isinstance(eta, bool) or not isinstance(eta, Integral):
        if isinstance(eta, Real) and float(eta).is_integer():
            raise ValueError(f"eta must be an integer >= 2, got {eta!r} (a float); pass {int(float(eta))}")
        raise ValueError(f"eta must be an integer >= 2, got {eta!r}")
    if eta < 2:
        raise ValueError(f"eta must be an integer >= 2, got {eta}")
    if isinstance(max_resource, bool) or not isinstance(max_resource, Real):
        raise ValueError(f"max_resource (R) must be a number >= 1, got {max_resource!r}")
    if not float(max_resource) >= 1:  # also catches NaN
        raise ValueError(f"max_resource (R) must be >= 1, got {max_resource!r}")
    if max_resource == float("inf"):
        raise ValueError("max_resource (R) must be finite")


def s_max(max_resource, eta: int) -> int:
    """``floor(log_eta(R))`` computed exactly: the largest s with ``eta**s <= R``."""
    validate_resource_and_eta(max_resource, eta)
    R = Fraction(max_resource)
    s = 0
    while eta ** (s + 1) <= R:
        s += 1
    return s


def _resource(R: Fraction, eta: int, exponent: int, integer_resource: bool):
    value = R * Fraction(eta) ** exponent
    if integer_resource:
        return max(1, int(value))  # floor: never exceeds R; the top rung (exponent 0) is R itself
    return float(value)


def _rungs(n: int, s: int, R: Fraction, eta: int, integer_resource: bool, min_configs: int = 0):
    rungs = []
    for i in range(s + 1):
        n_i = max(min_configs, n // eta**i)
        n_promote = max(min_configs, n_i // eta) if i < s else 0
        rungs.append(Rung(i, n_i, _resource(R, eta, i - s, integer_resource), n_promote))
    return tuple(rungs)


def hyperband_plan(max_resource, eta: int = 3, *, integer_resource: bool = False) -> tuple[Bracket, ...]:
    """All brackets of one Hyperband iteration, s = s_max..0 (Algorithm 1)."""
    top = s_max(max_resource, eta)
    R = Fraction(max_resource)
    brackets = []
    for s in range(top, -1, -1):
        n = -(-(top + 1) * eta**s // (s + 1))  # exact ceil((s_max+1)/(s+1) * eta^s)
        r = _resource(R, eta, -s, integer_resource)
        brackets.append(Bracket(s, n, r, _rungs(n, s, R, eta, integer_resource)))
    return tuple(brackets)


def successive_halving_plan(
    n_configs: int, max_resource, eta: int = 3, *, min_resource=None, integer_resource: bool = False
) -> Bracket:
    """Plain successive halving: ``n_configs`` start at ``min_resource`` (default R*eta^-s with the
    largest s such that every rung keeps at least one config), ending at ``max_resource``."""
    validate_resource_and_eta(max_resource, eta)
    if isinstance(n_configs, bool) or not isinstance(n_configs, Integral) or n_configs < 1:
        raise ValueError(f"n_configs must be a positive integer, got {n_configs!r}")
    R = Fraction(max_resource)
    if min_resource is None:
        s = min(s_max(max_resource, eta), _ilog(n_configs, eta))
    else:
        if not 0 < min_resource <= max_resource:
            raise ValueError(f"min_resource must be in (0, max_resource], got {min_resource!r}")
        # limit_denominator: the float 0.2 (or 10/3) means the ratio the user wrote, not its binary value
        s = _ilog(
            Fraction(max_resource).limit_denominator(10**9) / Fraction(min_resource).limit_denominator(10**9), eta
        )
        if n_configs // eta**s < 1:
            raise ValueError(
                f"{n_configs} configs cannot survive {s} halvings by eta={eta}; "
                f"use at least {eta**s} configs or a larger min_resource"
            )
    return Bracket(
        s, n_configs, _resource(R, eta, -s, integer_resource), _rungs(n_configs, s, R, eta, integer_resource)
    )


def _ilog(x, eta: int) -> int:
    s = 0
    while eta ** (s + 1) <= x:
        s += 1
    return s


def shrink_bracket(bracket: Bracket, n_available: int, eta: int) -> Bracket:
    """The same bracket started with only ``n_available`` configs (a finite grid smaller than n).

    Every rung keeps at least one config so the bracket still reaches its top resource."""
    if n_available >= bracket.n:
        return bracket
    rungs = []
    for rung in bracket.rungs:
        n_i = max(1, n_available // eta**rung.index)
        n_promote = max(1, n_i // eta) if rung.index < bracket.s else 0
        rungs.append(Rung(rung.index, n_i, rung.resource, n_promote))
    return Bracket(bracket.s, n_available, bracket.r, tuple(rungs))


def bracket_budget(bracket: Bracket) -> float:
    """Total resource of a bracket if every config is trained from scratch at every rung."""
    return sum(r.n_configs * r.resource for r in bracket.rungs)


def plan_budget(plan) -> float:
    return sum(bracket_budget(b) for b in plan)


def continued_budget(plan) -> float:
    """Config-epochs of a plan when survivors continue from their trained state (no retraining)."""
    total = 0.0
    for bracket in plan:
        previous = 0.0
        for rung in bracket.rungs:
            total += rung.n_configs * (rung.resource - previous)
            previous = rung.resource
    return total


def format_plan(plan) -> str:
    """A text table of the plan (the paper's Table 1 layout: one column pair per bracket)."""
    lines = []
    for b in plan:
        cells = ", ".join(f"{r.n_configs}x{_fmt(r.resource)}" for r in b.rungs)
        lines.append(f"bracket s={b.s}: n={b.n:>4} r={_fmt(b.r):>6} | rungs (configs x resource): {cells}")
    return "\n".join(lines)


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
