"""The JAX research benchmarks against the reference code: mf-prior-bench's MFHartmann generators
(verbatim in ``reference_mfpbench.py``, and values mf-prior-bench 1.10.0 itself printed) and the
Counting Ones objective of DEHB's benchmarking code."""

import math

import numpy as np
import pytest
from reference_mfpbench import MFPBENCH_AT_HALF, MFHartmann3, MFHartmann6, counting_ones
from scipy import stats

import hbjax as hb
from hbjax.problems.mfbench import BENCHMARKS, PRESETS, MFBenchmarkBackend

REFERENCE = {3: MFHartmann3, 6: MFHartmann6}


def _noise_free(backend, x, z):
    quiet = MFBenchmarkBackend(backend.name, preset=backend.preset, noise=False)
    return quiet.evaluate([dict(zip(quiet.space().names, row)) for row in x], list(z), list(range(len(z))))


@pytest.mark.parametrize("name", ["mfh3", "mfh6"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_mfhartmann_equals_the_reference_without_noise(name, preset):
    backend = MFBenchmarkBackend(name, preset=preset)
    rng = np.random.default_rng([backend.dims, list(PRESETS).index(preset)])
    x = rng.random((1000, backend.dims))
    z = rng.integers(1, 101, 1000)
    ref = REFERENCE[backend.dims](n_fidelities=100, fidelity_bias=backend.bias, fidelity_noise=0.0)
    expected = np.array([ref(int(zi), tuple(float(v) for v in xi)) for xi, zi in zip(x, z)])
    np.testing.assert_allclose(_noise_free(backend, x, z), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("key", list(MFPBENCH_AT_HALF))
def test_mfhartmann_at_the_values_mfpbench_printed(key):
    name, _, preset = key.partition("_")
    backend = MFBenchmarkBackend(name, preset=preset or "default")
    z = [row[0] for row in MFPBENCH_AT_HALF[key]]
    x = np.full((len(z), backend.dims), 0.5)
    np.testing.assert_allclose(_noise_free(backend, x, z), [row[2] for row in MFPBENCH_AT_HALF[key]], atol=1e-11)
    # and the verbatim generator gives mfpbench's noisy values too (its noise is hash-seeded)
    ref = REFERENCE[backend.dims](n_fidelities=100, fidelity_bias=backend.bias, fidelity_noise=backend.noise)
    assert [round(ref(zi, (0.5,) * backend.dims), 9) for zi in z] == [round(r[1], 9) for r in MFPBENCH_AT_HALF[key]]


def test_the_optimum_at_full_fidelity():
    for name, optimum in (("mfh3", REFERENCE[3].optimum), ("mfh6", REFERENCE[6].optimum)):
        backend = MFBenchmarkBackend(name)
        config = {f"X_{i}": v for i, v in enumerate(optimum)}
        assert backend.true_value(config) == pytest.approx(backend.optimum(), abs=1e-6)
        assert backend.evaluate([config], [100], [0])[0] == pytest.approx(
            backend.optimum(), abs=1e-6
        )  # no noise at z=100


@pytest.mark.parametrize("preset", ["default", "moderate"])
def test_mfhartmann_noise_follows_the_reference_distribution(preset):
    """Half-normal, scaled by noise * (1 - s): the JAX draws (per config id and fidelity) and the
    reference's hash-seeded draws have the same moments and pass a two-sample KS test."""
    backend = MFBenchmarkBackend("mfh3", preset=preset, seed=3)
    ref = MFHartmann3(n_fidelities=100, fidelity_bias=backend.bias, fidelity_noise=backend.noise, seed=3)
    rng = np.random.default_rng(1)
    n, z = 2000, 11
    x = rng.random((n, 3))
    scale = backend.noise * (1 - math.log(z) / math.log(100))
    configs = [dict(zip(backend.space().names, row)) for row in x]
    ours = (backend.evaluate(configs, [z] * n, list(range(n))) - _noise_free(backend, x, [z] * n)) / scale
    theirs = np.array([ref(z, tuple(float(v) for v in row)) for row in x]) - _noise_free(backend, x, [z] * n)
    theirs /= scale
    for sample in (ours, theirs):
        assert (sample >= -1e-9).all()
        assert abs(sample.mean() - math.sqrt(2 / math.pi)) < 4 * math.sqrt((1 - 2 / math.pi) / n)
        assert abs(sample.var() - (1 - 2 / math.pi)) < 0.05
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3
    # fixed per (seed, config, fidelity); another seed or fidelity draws anew
    again = backend.evaluate(configs[:50], [z] * 50, list(range(50)))
    np.testing.assert_array_equal(again, backend.evaluate(configs[:50], [z] * 50, list(range(50))))
    other = MFBenchmarkBackend("mfh3", preset=preset, seed=4).evaluate(configs[:50], [z] * 50, list(range(50)))
    assert not np.allclose(again, other)


def test_counting_ones_equals_the_reference_in_distribution():
    backend = MFBenchmarkBackend("counting-ones", seed=2)
    names = backend.space().names
    rng = np.random.default_rng(5)
    config = {n: (int(rng.integers(0, 2)) if n.startswith("cat") else float(rng.random())) for n in names}
    expected = -(sum(config[f"cat_{i}"] for i in range(50)) + sum(config[f"float_{i}"] for i in range(50)))
    assert backend.true_value(config) == pytest.approx(expected, abs=1e-12)
    for budget in (11, 103):
        ours = backend.evaluate([config] * 2000, [budget] * 2000, list(range(2000)))
        np.random.seed(0)
        theirs = np.array([counting_ones(config, budget) for _ in range(2000)])
        var = sum(config[f"float_{i}"] * (1 - config[f"float_{i}"]) for i in range(50)) / budget
        for sample in (ours, theirs):
            assert abs(sample.mean() - expected) < 4 * math.sqrt(var / 2000)
            assert abs(sample.var() / var - 1) < 0.15
        assert stats.ks_2samp(ours, theirs).pvalue > 1e-3
    # the optimum: every bit set, every p = 1, at any budget
    best = {n: (1 if n.startswith("cat") else 1.0) for n in names}
    assert backend.evaluate([best], [11], [0])[0] == backend.optimum() == -100.0


def test_hyperband_rungs_are_dehbs_fidelities():
    for name, expected in (("mfh3", [3, 11, 33, 100]), ("counting-ones", [11, 34, 103, 311, 933])):
        backend = MFBenchmarkBackend(name)
        plan = hb.Hyperband(backend.space(), max_resource=backend.max_resource, eta=3).plan
        assert [backend.fidelity(r.resource) for r in plan[0].rungs] == expected
    result = hb.Hyperband(MFBenchmarkBackend("mfh6").space(), max_resource=27, eta=3, seed=0).run(
        backend := MFBenchmarkBackend("mfh6")
    )
    assert backend.evaluations == len(result.to_frame())  # one evaluation per trial row
    assert result.best_loss > backend.optimum() - 1e-9


def test_bad_benchmark_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown benchmark"):
        MFBenchmarkBackend("mfh4")
    with pytest.raises(ValueError, match="unknown preset"):
        MFBenchmarkBackend("mfh3", preset="awful")
    with pytest.raises(ValueError, match="presets"):
        MFBenchmarkBackend("counting-ones", preset="good")
    assert set(BENCHMARKS) == {"mfh3", "mfh6", "counting-ones"}


def test_mfpbench_itself_where_installed():
    mfpbench = pytest.importorskip("mfpbench")  # not in the dev extra: it pins numpy < 2
    rng = np.random.default_rng(0)
    for name in ("mfh3", "mfh6"):
        bench = mfpbench.get(name, noise=0.0)
        backend = MFBenchmarkBackend(name)
        x = rng.random((50, backend.dims))
        z = rng.integers(1, 101, 50)
        ref = [bench.query({f"X_{i}": float(v) for i, v in enumerate(row)}, at=int(zi)).error for row, zi in zip(x, z)]
        np.testing.assert_allclose(_noise_free(backend, x, z), ref, atol=1e-12)


def test_dehb_protocol_counts_evaluations_and_quotes_the_published_rows(tmp_path, capsys):
    """``hbjax compare --task mfh3``: DEHB's protocol (incumbents after 20..100% of the function
    evaluations), the published DEHB rows beside hbjax's, ranks and paired tests."""
    import pandas as pd

    from hbjax.cli import main
    from hbjax.strategies.protocol import incumbents, run_protocol

    got = incumbents([3.0, float("nan"), 1.0, 2.0, 0.5], (1, 2, 3, 5))
    assert got == [3.0, 3.0, 1.0, 0.5]
    raw = run_protocol(
        ["hyperband", "random"],
        lambda s: MFBenchmarkBackend("mfh3", seed=s),
        MFBenchmarkBackend("mfh3").space(),
        seeds=[0, 1],
        max_resource=27,
        fevals=60,
        checkpoints=(12, 24, 36, 48, 60),
    )
    assert (raw.evaluations == 60).all() and (raw.inc_60 <= raw.inc_12).all()
    assert (
        main(
            [
                "compare",
                "--task",
                "mfh3",
                "--methods",
                "hyperband,random",
                "--seeds",
                "6",
                "--fevals",
                "300",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    text = (tmp_path / "protocol_summary.md").read_text()
    assert "DEHB 0.1.1, published (5 seeds)" in text and "-3.793" in text and "p (Holm)" in text
    frame = pd.read_csv(tmp_path / "protocol_raw.csv")
    assert len(frame) == 12 and (frame.evaluations == 300).all()
    assert main(["compare", "--task", "counting-ones", "--preset", "good", "--out", str(tmp_path)]) == 2


def test_protocol_runs_gp_bo_with_one_length_scale_only_in_many_dimensions():
    from hbjax.strategies.protocol import protocol_options

    assert protocol_options(MFBenchmarkBackend("mfh6"))["bo"] == {"batch_size": 32, "ard": True}
    assert protocol_options(MFBenchmarkBackend("counting-ones"))["bo"] == {"batch_size": 32, "ard": False}
