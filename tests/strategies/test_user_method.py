"""Your own search method in the harness (ask/tell), and the pictures of a comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax.cli import main
from hbjax.strategies import UserMethod, compare, load_method
from hbjax.strategies.protocol import protocol_markdown, run_protocol

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_method.py"
SPACE = hb.Space(x=hb.Uniform(0.0, 1.0))


class Recording:
    """A backend that keeps states: a config's loss falls with the resource it holds."""

    continues = True

    def __init__(self, seed=0):
        self.jobs = []

    def train_rung(self, job):
        self.jobs.append(job)
        return np.array([(c["x"] - 0.3) ** 2 + 1.0 / job.resource for c in job.configs])


class Climber:
    """Asks two fresh configs at 1, then the same two at 3 and 9 (continuations), then stops."""

    def __init__(self, space, *, max_resource, seed, eta=3):
        self.configs = space.sample_configs(np.random.default_rng(seed), 2)
        self.resources = [1.0, 3.0, 9.0]
        self.told = []

    def ask(self):
        return (self.configs, self.resources.pop(0)) if self.resources else None

    def tell(self, configs, resource, losses):
        self.told.append((resource, list(losses)))


def test_a_method_continues_its_configs_and_is_charged_the_difference():
    method = UserMethod(Climber, name="climber")
    strategy = method(SPACE, max_resource=9, seed=0)
    backend = Recording()
    result = strategy.run(backend, budget=100)
    assert [j.resource for j in backend.jobs] == [1.0, 3.0, 9.0]
    assert [j.previous_resource for j in backend.jobs] == [(0.0, 0.0), (1.0, 1.0), (3.0, 3.0)]
    assert all(j.config_ids == (0, 1) for j in backend.jobs)  # the same configs, continued
    assert result.resource_spent == 18.0  # 2 configs x 9 epochs, not 2 x (1 + 3 + 9)
    assert [r for r, _ in strategy.method.told] == [1.0, 3.0, 9.0]
    assert len(result.to_frame()) == 6 and result.best_resource == 9.0


def test_a_batch_is_cut_to_the_budget_and_the_method_is_told_only_what_trained():
    strategy = UserMethod(Climber)(SPACE, max_resource=9, seed=0)
    backend = Recording()
    result = strategy.run(backend, budget=11)  # 2 at 1 (2) + 2 more epochs each to 3 (4) + 1 to 9 (6)
    assert result.resource_spent <= 11 and [len(j.config_ids) for j in backend.jobs] == [2, 2, 0][: len(backend.jobs)]
    assert strategy.method.told[-1][0] == 3.0


def test_the_example_method_runs_in_compare_and_the_protocol():
    from hbjax.problems.mfbench import MFBenchmarkBackend

    method = load_method(f"{EXAMPLE}:factory")
    assert method.name == "screen-continue"
    raw = compare(
        [method, "random"],
        lambda s: MFBenchmarkBackend("mfh3", seed=s),
        MFBenchmarkBackend("mfh3").space(),
        budget=81,
        seeds=[0, 1],
        max_resource=27,
    )
    assert sorted(raw.method) == ["random", "random", "screen-continue", "screen-continue"]
    assert (raw.resource_spent <= 81).all()
    curves: list = []
    raw = run_protocol(
        [method, "hyperband"],
        lambda s: MFBenchmarkBackend("mfh3", seed=s, min_fidelity=1),
        MFBenchmarkBackend("mfh3").space(),
        seeds=[0, 1],
        max_resource=81,
        fevals=30,
        checkpoints=(15, 30),
        curves=curves,
    )
    assert (raw.evaluations == 30).all() and len(curves) == 2 * 2 * 30
    curve = pd.DataFrame(curves).query("method == 'screen-continue' and seed == 0").best_loss.to_numpy()
    assert (
        np.all(np.diff(curve) <= 0)
        and curve[-1] == raw.query("method == 'screen-continue' and seed == 0").inc_30.iloc[0]
    )


def test_compare_with_a_method_file_writes_tables_and_both_pictures(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--method",
                f"{EXAMPLE}:factory",
                "--methods",
                "random,hyperband",
                "--task",
                "mfh6",
                "--seeds",
                "3",
                "--fevals",
                "30",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    text = (out / "protocol_summary.md").read_text()
    assert "screen-continue" in text and "z in 1..100" in text
    assert (out / "protocol_anytime.png").stat().st_size > 0 and (out / "protocol_ranks.png").stat().st_size > 0


BAD = """
import numpy as np

class NoTell:
    def ask(self):
        return None

def no_tell(space, *, max_resource, seed, eta=3):
    return NoTell()

class TooFar:
    def __init__(self, space):
        self.space = space
    def ask(self):
        return self.space.sample_configs(np.random.default_rng(0), 1), 1e9
    def tell(self, configs, resource, losses):
        pass

def too_far(space, *, max_resource, seed, eta=3):
    return TooFar(space)

def broken(space, *, max_resource, seed, eta=3):
    raise RuntimeError("no method here")
"""


@pytest.mark.parametrize(
    "factory, message",
    [
        ("no_tell", "has no tell"),
        ("too_far", r"asked for resource 1000000000.0; it must be in \(0, 27\]"),
        ("broken", "factory failed: RuntimeError: no method here"),
        ("missing", "defines no 'missing'"),
    ],
)
def test_a_bad_method_is_one_error_line(tmp_path, capsys, factory, message):
    path = tmp_path / "methods.py"
    path.write_text(BAD)
    code = main(
        [
            "compare",
            "--method",
            f"{path}:{factory}",
            "--methods",
            "random",
            "--task",
            "mfh3",
            "--min-fidelity",
            "3",
            "--seeds",
            "1",
            "--fevals",
            "10",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert pytest.importorskip("re").search(message, err[0]), err[0]


def test_critical_difference_is_demsars():
    from hbjax.reports.cdplot import cliques, critical_difference, mean_ranks

    # Demsar (2006), Table 5a: q_0.05 for k = 2..10 (CD at N = k (k + 1) / 6 equals q)
    for k, q in zip(range(2, 11), (1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164)):
        assert critical_difference(k, k * (k + 1) / 6) == pytest.approx(q, abs=1e-3)
    scores = pd.DataFrame({"a": [1, 1, 2, np.nan], "b": [2, 3, 1, 5], "c": [3, 2, 3, 4]})
    ranks = mean_ranks(scores)
    assert ranks.to_dict() == {"a": pytest.approx(1.75), "b": pytest.approx(2.0), "c": pytest.approx(2.25)}
    assert cliques(ranks, 0.3) == [(0, 1), (1, 2)] and cliques(ranks, 0.6) == [(0, 2)] and cliques(ranks, 0.2) == []


def test_published_rows_from_another_fidelity_range_are_flagged():
    raw = pd.DataFrame(
        {
            "method": ["dehb"],
            "seed": [0],
            "evaluations": [300],
            "seconds": [1.0],
            **{f"inc_{k}": [-2.0] for k in (60, 120, 180, 240, 300)},
        }
    )
    published = {"0.1.1": ([-1.4, -2.0, -2.8, -2.9, -2.9], [0.3, 0.4, 0.3, 0.2, 0.1])}
    z3 = protocol_markdown("mfh6", raw, published=published, fidelity=(3.0, 100.0))
    z1 = protocol_markdown("mfh6", raw, published=published, fidelity=(1.0, 100.0))
    assert "fidelity 1..100" in z1 and "not the published protocol's" not in z1
    assert "This table's fidelity runs 3..100, not the published protocol's 1..100" in z3


def test_the_public_names_resolve_from_hbjax():
    """What users import from ``hbjax`` directly (lazily: ``import hbjax`` stays free of JAX); the
    engine's client protocol sits under ``hb.engine``."""
    for name in ("FlaxBackend", "LSTMBackend", "MFBenchmarkBackend", "SharingError", "UserMethod", "nn", "engine"):
        assert getattr(hb, name) is not None, name
    for name in ("Engine", "Model", "EngineBackend"):
        assert getattr(hb.engine, name) is not None, name
    assert hb.UserMethod is UserMethod and issubclass(hb.SharingError, ValueError)
