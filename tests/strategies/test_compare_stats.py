"""Ranks, paired Wilcoxon tests, Holm correction and verdicts over compare()'s raw table
(hbjax.strategies.compare), checked against hand-computed values and scipy."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hbjax.strategies import paired_tests, rank_summary, seed_ranks, stats_markdown, summarize, summarize_stats
from hbjax.strategies.compare import holm


def raw(table: dict[str, list[float]], metric: str = "best_loss") -> pd.DataFrame:
    """{method: [value per seed]} -> compare()-shaped rows (method-major, like compare())."""
    rows = [
        {"method": m, "seed": s, metric: float(v), "seconds": 1.0 + s}
        for m, values in table.items()
        for s, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ ranks
HAND = {  # seed 0: tie B=C, D diverged (NaN); seed 1: B inf, C NaN (both last, tied); seed 2: reversed order
    "A": [1.0, 3.0, 5.0],
    "B": [2.0, math.inf, 4.0],
    "C": [2.0, math.nan, 3.0],
    "D": [math.nan, 0.5, 2.0],
}
HAND_RANKS = np.array([[1, 2.5, 2.5, 4], [2, 3.5, 3.5, 1], [4, 3, 2, 1]])


def test_seed_ranks_hand_computed_with_ties_and_nan():
    ranks = seed_ranks(raw(HAND))
    assert list(ranks.columns) == ["A", "B", "C", "D"]  # order of appearance
    assert list(ranks.index) == [0, 1, 2]
    np.testing.assert_array_equal(ranks.to_numpy(), HAND_RANKS)
    summary = rank_summary(raw(HAND)).set_index("method")
    np.testing.assert_allclose(summary["mean_rank"], [7 / 3, 3, 8 / 3, 2])
    assert (summary["seeds"] == 3).all()
    # every seed's ranks sum to m(m+1)/2
    np.testing.assert_allclose(ranks.sum(axis=1), 10)


def test_seed_ranks_higher_is_better_keeps_non_finite_last():
    ranks = seed_ranks(raw(HAND), higher_is_better=True)
    np.testing.assert_array_equal(ranks.to_numpy(), [[3, 1.5, 1.5, 4], [1, 3.5, 3.5, 2], [1, 2, 3, 4]])


def test_seeds_missing_a_method_are_left_out_but_nan_values_are_not():
    df = raw(HAND)
    df = pd.concat([df, pd.DataFrame([{"method": "A", "seed": 3, "best_loss": 0.0, "seconds": 1.0}])])
    ranks = seed_ranks(df)  # seed 3 has only A: not rankable
    assert list(ranks.index) == [0, 1, 2]
    with pytest.raises(ValueError, match="more than one row"):
        seed_ranks(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ValueError, match="'test_mse'"):
        seed_ranks(df, metric="test_mse")


def test_rank_interval_is_a_seeded_bootstrap():
    rng = np.random.default_rng(1)
    df = raw({"a": rng.normal(0, 1, 15), "b": rng.normal(0.5, 1, 15), "c": rng.normal(1, 1, 15)})
    one, two = rank_summary(df), rank_summary(df)
    pd.testing.assert_frame_equal(one, two)  # fixed generator seed: reruns agree
    assert (one["mean_rank_low"] <= one["mean_rank"]).all() and (one["mean_rank"] <= one["mean_rank_high"]).all()
    assert (one["mean_rank_low"] >= 1).all() and (one["mean_rank_high"] <= 3).all()
    # the same resampling by hand
    r = seed_ranks(df).to_numpy()
    idx = np.random.default_rng(0).integers(0, 15, size=(10_000, 15))
    low, high = np.quantile(r[idx].mean(axis=1), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(one["mean_rank_low"], low)
    np.testing.assert_allclose(one["mean_rank_high"], high)
    # the same order on every seed: no uncertainty
    fixed = rank_summary(raw({"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]}))
    assert fixed["mean_rank_low"].tolist() == fixed["mean_rank_high"].tolist() == [1.0, 2.0]
    single = rank_summary(raw({"x": [1.0], "y": [2.0]}))
    assert single["mean_rank"].tolist() == [1.0, 2.0] and single["mean_rank_low"].isna().all()


# ------------------------------------------------------------------------------------- Holm
def test_holm_on_known_p_values():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.01, math.nan, 0.04]), [0.02, math.nan, 0.04])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1, monotone
    np.testing.assert_allclose(holm([0.02]), [0.02])
    assert holm([]).shape == (0,) and np.isnan(holm([math.nan])).all()
    with pytest.raises(ValueError, match="p-values"):
        holm([1.5])


# ----------------------------------------------------------------------------- paired tests
def test_wilcoxon_p_is_scipys_and_counts_are_right():
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, 12)
    other = ref + rng.normal(0.4, 0.5, 12)
    other[4] = ref[4]  # one tie
    tests = paired_tests(raw({"hyperband": ref, "random": other}))
    row = tests.iloc[0]
    expected = stats.wilcoxon(ref, other, alternative="two-sided")
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["p_holm"] == pytest.approx(expected.pvalue)  # one comparison: Holm changes nothing
    assert row["median_diff"] == pytest.approx(np.median(ref - other))
    assert (row["wins"], row["ties"], row["losses"]) == (int((ref < other).sum()), 1, int((ref > other).sum()))
    assert row["seeds"] == row["n_test"] == 12 and row["reason"] == ""


def test_wilcoxon_exact_value_six_seeds_all_won():
    tests = paired_tests(raw({"hyperband": [1, 2, 3, 4, 5, 6], "random": [2, 4, 6, 8, 10, 12.5]}))
    assert tests["p_value"].iloc[0] == pytest.approx(2 / 64)  # exact: both tails of 1/64
    assert tests["verdict"].iloc[0] == "hyperband lower than random (p_holm=0.031, lower on 6/6 seeds)"


def test_non_finite_values_count_as_losses_and_leave_the_test():
    ref = np.arange(1.0, 11.0)
    other = ref + np.linspace(0.5, 2.0, 10)
    other[0] = math.nan  # other diverged on seed 0: the reference won it
    ref_b = ref.copy()
    ref_b[1] = math.inf  # the reference diverged on seed 1 against b
    df = pd.concat([raw({"hyperband": ref, "a": other}), raw({"b": other})])
    df.loc[(df.method == "hyperband") & (df.seed == 1), "best_loss"] = math.nan  # diverged ref, seed 1
    tests = paired_tests(df).set_index("method")
    a = tests.loc["a"]
    assert (a["wins"], a["ties"], a["losses"]) == (9, 0, 1)  # seed 1: ref NaN vs finite -> ref lost
    assert a["n_test"] == 8 and "2 seed(s) with a non-finite value left out" in a["reason"]
    keep = np.isfinite(other) & (np.arange(10) != 1)
    assert a["p_value"] == pytest.approx(stats.wilcoxon(ref[keep], other[keep]).pvalue)


def test_holm_across_comparisons_and_verdicts():
    rng = np.random.default_rng(7)
    n = 20
    ref = rng.normal(0, 1, n)
    worse = ref + 1.0 + 0.3 * rng.normal(size=n)  # clearly worse than the reference
    worse[[3, 11]] = ref[[3, 11]] - 0.1  # the reference loses 2 seeds
    same = ref + rng.normal(0, 1, n)  # no real difference
    better = ref - 2.0 - 0.1 * rng.normal(size=n)  # clearly better than the reference
    tests = paired_tests(raw({"hyperband": ref, "random": worse, "bo": same, "ga": better})).set_index("method")
    p = np.array([stats.wilcoxon(ref, x).pvalue for x in (worse, same, better)])
    np.testing.assert_allclose(tests["p_value"], p)
    np.testing.assert_allclose(tests["p_holm"], holm(p))
    ph = tests["p_holm"]
    assert tests.loc["random", "verdict"] == (
        f"hyperband lower than random (p_holm={ph['random']:.2g}, lower on 18/20 seeds)"
    )
    assert tests.loc["ga", "verdict"] == f"hyperband higher than ga (p_holm={ph['ga']:.2g}, higher on 20/20 seeds)"
    assert ph["bo"] >= 0.05
    assert tests.loc["bo", "verdict"] == f"no significant difference at 0.05 (p_holm={ph['bo']:.2g}, n=20)"
    # a metric where higher is better (accuracy): the words follow the values, the counts too
    acc = paired_tests(raw({"hyperband": ref, "random": worse}, metric="acc"), metric="acc", higher_is_better=True)
    verdict = acc["verdict"].iloc[0]
    assert verdict.startswith("hyperband lower than random (") and "lower on 18/20 seeds" in verdict
    assert (acc["wins"].iloc[0], acc["losses"].iloc[0]) == (2, 18)


def test_degenerate_inputs_give_nan_with_a_reason():
    same = paired_tests(raw({"hyperband": [1.0] * 8, "random": [1.0] * 8})).iloc[0]
    assert math.isnan(same["p_value"]) and same["reason"] == "all paired differences are zero"
    assert same["verdict"] == "not tested: all paired differences are zero"
    assert (same["wins"], same["ties"], same["losses"]) == (0, 8, 0)
    few = paired_tests(raw({"hyperband": [1, 2, 3, 4, 5.0], "random": [2, 3, 4, 5, 6.0]})).iloc[0]
    assert math.isnan(few["p_value"]) and math.isnan(few["p_holm"])
    assert few["reason"].startswith("fewer than 6 non-zero paired differences") and "(n=5)" in few["reason"]
    mostly_tied = paired_tests(raw({"hyperband": [1.0] * 10, "random": [1.0] * 6 + [2.0] * 4})).iloc[0]
    assert "(n=4)" in mostly_tied["reason"]
    diverged = paired_tests(raw({"hyperband": [1.0] * 7, "random": [math.nan] * 7})).iloc[0]
    assert diverged["wins"] == 7 and diverged["n_test"] == 0 and "(n=0)" in diverged["reason"]
    assert math.isnan(diverged["median_diff"])
    alone = paired_tests(raw({"hyperband": [1.0, 2.0]}))
    assert len(alone) == 0 and "verdict" in alone.columns
    with pytest.raises(ValueError, match="reference method 'hyperband'"):
        paired_tests(raw({"random": [1.0], "bo": [2.0]}))
    with pytest.raises(ValueError, match="alpha"):
        paired_tests(raw({"hyperband": [1.0], "bo": [2.0]}), alpha=0)
    # one seed, one method: everything still renders
    one = summarize_stats(raw({"hyperband": [1.0]}))
    assert one["verdict"].tolist() == ["reference"] and math.isnan(one["mean_rank_low"].iloc[0])
    assert "| **hyperband** | 1 |" in stats_markdown(one)


# ------------------------------------------------------------------------------ full summary
def test_summarize_stats_keeps_summarize_and_adds_columns():
    rng = np.random.default_rng(0)
    df = raw({"random": rng.normal(1, 1, 10), "hyperband": rng.normal(0, 1, 10), "bo": rng.normal(0, 1, 10)})
    base = summarize(df)
    full = summarize_stats(df)
    pd.testing.assert_frame_equal(full[list(base.columns)], base)  # summarize's columns, unchanged, first
    assert list(full.columns[: len(base.columns)]) == list(base.columns)
    for col in (
        "best_loss_median",
        "mean_rank",
        "mean_rank_low",
        "mean_rank_high",
        "wins",
        "ties",
        "losses",
        "median_diff",
        "p_value",
        "p_holm",
        "reason",
        "verdict",
    ):
        assert col in full.columns
    full = full.set_index("method")
    assert full.loc["hyperband", "verdict"] == "reference" and pd.isna(full.loc["hyperband", "p_value"])
    tests = paired_tests(df).set_index("method")
    assert full.loc["random", "p_holm"] == pytest.approx(tests.loc["random", "p_holm"])
    assert full.loc["bo", "verdict"] == tests.loc["bo", "verdict"]
    assert full.loc["random", "best_loss_median"] == pytest.approx(np.median(df[df.method == "random"].best_loss))
    # no hyperband: the first method is the reference; an explicit one must exist
    assert summarize_stats(df[df.method != "hyperband"]).attrs["reference"] == "random"
    assert summarize_stats(df, reference="bo").set_index("method").loc["bo", "verdict"] == "reference"
    with pytest.raises(ValueError, match="reference method 'ga'"):
        summarize_stats(df, reference="ga")


def test_markdown_table():
    rng = np.random.default_rng(0)
    df = raw({"hyperband": rng.normal(0, 1, 8), "ran|dom": rng.normal(3, 1, 8)})
    text = stats_markdown(summarize_stats(df), title="Branin, 8 seeds")
    lines = text.splitlines()
    assert lines[0] == "**Branin, 8 seeds**"
    header = lines[2]
    assert header.startswith("| method | runs | best_loss mean ± 95% CI | median | mean rank [95% CI]")
    assert lines[3].startswith("|---|---:")
    assert lines[4].startswith("| **hyperband** | 8 |") and lines[4].endswith("| reference |")
    assert lines[5].startswith("| ran\\|dom | 8 |")  # a pipe in a name is escaped
    assert "8/0/0" in lines[5] and "hyperband lower than ran|dom" in lines[5].replace("\\|", "|")
    cells = [len(re.split(r"(?<!\\)\|", line)) for line in (header, lines[4], lines[5])]
    assert cells == [12, 12, 12]  # 10 columns in every row (escaped pipes are not separators)
    assert "two-sided paired Wilcoxon" in text and "Holm" in text
    with pytest.raises(ValueError, match="summarize_stats"):
        stats_markdown(summarize(df))


def test_summary_markdown_adds_the_held_out_score_when_there_is_one():
    from hbjax.commands.compare import summary_markdown

    rows = [
        {"method": m, "seed": s, "best_loss": 1.0 + 0.1 * i + 0.01 * s, "test_skill": 0.05 - 0.01 * i}
        for i, m in enumerate(["hyperband", "random"])
        for s in range(8)
    ]
    text = summary_markdown(pd.DataFrame(rows), "toy")
    assert "toy: best validation loss" in text and "toy: test_skill of each run's best config" in text
    assert "hyperband lower than random" in text and "hyperband higher than random" in text
    assert "toy: test_skill" not in summary_markdown(pd.DataFrame(rows).drop(columns="test_skill"), "toy")
