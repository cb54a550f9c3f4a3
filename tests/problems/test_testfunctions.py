"""Multi-fidelity test functions: known minima, one vmapped call per rung, and the literature's
finding that Hyperband and BOHB beat random search at equal budget."""

import numpy as np
import pytest
from scipy import stats

from hbjax.problems.testfunctions import FUNCTIONS, FunctionBackend, hartmann6
from hbjax.scheduler import RungJob
from hbjax.strategies import compare

OPTIMA = {
    "branin": [(-np.pi, 12.275), (np.pi, 2.275), (9.42478, 2.475)],
    "hartmann3": [(0.114614, 0.555649, 0.852547)],
    "hartmann6": [(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)],
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_full_fidelity_is_the_standard_function_with_its_known_minimum(name):
    fn, bounds, minimum = FUNCTIONS[name]
    for x in OPTIMA[name]:
        assert float(fn(np.array(x, np.float32), 1.0)) == pytest.approx(minimum, abs=2e-4)
    rng = np.random.default_rng(0)
    xs = np.array([[rng.uniform(lo, hi) for lo, hi in bounds] for _ in range(200)], np.float32)
    assert min(float(fn(x, 1.0)) for x in xs) > minimum - 1e-4  # nothing below the minimum
    low = np.array([float(fn(x, 0.1)) for x in xs])
    high = np.array([float(fn(x, 1.0)) for x in xs])
    assert not np.allclose(low, high) and stats.spearmanr(low, high).statistic > 0.8  # cheaper, correlated


def _job(configs, resource, ids=None):
    ids = tuple(ids or range(len(configs)))
    return RungJob(
        iteration=0,
        bracket=0,
        bracket_index=0,
        rung=0,
        config_ids=ids,
        configs=tuple(configs),
        resource=resource,
        previous_resource=(0.0,) * len(configs),
    )


def test_a_rung_is_one_vmapped_call_equal_to_each_config_alone():
    backend = FunctionBackend("hartmann6", max_resource=27)
    configs = backend.space().sample_configs(np.random.default_rng(1), 7)
    together = backend.train_rung(_job(configs, 9.0))
    for i, c in enumerate(configs):
        alone = hartmann6(np.array([c[f"x{j + 1}"] for j in range(6)], np.float32), 9.0 / 27)
        assert together[i] == pytest.approx(float(alone), rel=1e-6)
    noisy = FunctionBackend("hartmann6", max_resource=27, noise=0.1, seed=4)
    a, b = noisy.train_rung(_job(configs, 9.0)), noisy.train_rung(_job(configs, 9.0))
    np.testing.assert_array_equal(a, b)  # noise is a function of (seed, config id, resource)
    assert 0 < np.abs(a - together).max() < 1.0
    with pytest.raises(ValueError, match="unknown test function"):
        FunctionBackend("rosenbrock", max_resource=9)


@pytest.mark.parametrize("name", ["branin", "hartmann3", "hartmann6"])
def test_hyperband_and_bohb_beat_random_search_at_equal_budget(name):
    """20 seeds, 5 full Hyperband iterations' budget each: paired Wilcoxon signed-rank, one-sided."""
    R = 81
    space = FunctionBackend(name, max_resource=R).space()
    df = compare(
        ["hyperband", "bohb", "random"],
        lambda s: FunctionBackend(name, max_resource=R, seed=s),
        space,
        budget=5 * 10 * R,
        seeds=range(20),
        max_resource=R,
        eta=3,
    )
    best = df.pivot(index="seed", columns="method", values="best_loss")
    for method in ("hyperband", "bohb"):
        assert stats.wilcoxon(best[method], best["random"], alternative="less").pvalue < 0.01, method
    assert (df["resource_spent"] <= 5 * 10 * R).all()
