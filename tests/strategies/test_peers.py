"""Optuna and DEHB as comparison strategies (hbjax.strategies.peers): same backends, same budget
accounting as hbjax's strategies, reproducible, on the cheap multi-fidelity test functions."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hbjax.problems.testfunctions import FunctionBackend
from hbjax.space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform
from hbjax.strategies import STRATEGIES, budget_of, compare, make_strategy
from hbjax.strategies.peers import (
    PEERS,
    DEHBStrategy,
    OptunaTPEHyperband,
    config_from_configspace,
    from_configspace,
    optuna_distributions,
    to_configspace,
)

LIBRARY = {"optuna-tpe-hb": "optuna", "optuna-random": "optuna", "dehb": "dehb"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None (import blocked)
        return False


INSTALLED = [name for name in PEERS if _installed(LIBRARY[name])]
#: every peer, skipped where its library is missing (both are in the dev extra)
NAMES = [
    pytest.param(name, marks=pytest.mark.skipif(name not in INSTALLED, reason=f"{LIBRARY[name]} not installed"))
    for name in PEERS
]
R = 27


class Continuing(FunctionBackend):
    """The test function as a backend that continues survivors: a config trained to r and asked
    for r' pays r' - r (it checks that it is only ever continued from where it stopped)."""

    continues = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trained: dict[int, float] = {}
        self.released: set[int] = set()

    def train_rung(self, job):
        for cid, prev in zip(job.config_ids, job.previous_resource):
            assert cid not in self.released
            assert self.trained.get(cid, 0.0) == prev, (cid, prev, self.trained.get(cid))
            self.trained[cid] = job.resource
        return super().train_rung(job)

    def release(self, ids):
        self.released.update(ids)


def run(name, backend, *, budget, seed=0, **kw):
    jobs = []
    space = backend.space()
    strategy = make_strategy(name, space, max_resource=R, eta=3, seed=seed, **kw)
    result = strategy.run(backend, budget=budget, callbacks=[lambda job, losses, state, s: jobs.append(job)])
    return result, jobs


# --------------------------------------------------------------------------------------- budget
@pytest.mark.parametrize("continues", [False, True], ids=["retrains", "continues"])
@pytest.mark.parametrize("name", NAMES)
def test_peer_runs_to_its_budget_and_no_further(name, continues):
    budget = 12 * R + 13.5
    backend = (Continuing if continues else FunctionBackend)("branin", max_resource=R, seed=0)
    result, jobs = run(name, backend, budget=budget)
    assert budget - R < result.resource_spent <= budget * (1 + 1e-12)
    assert result.resource_spent == pytest.approx(sum(budget_of(j, continues) for j in jobs))
    frame = result.to_frame()
    assert len(frame) == sum(len(j.config_ids) for j in jobs) == backend.evaluations
    assert all(0 < j.resource <= R for j in jobs)
    space = backend.space()
    assert all(space.contains(c) for j in jobs for c in j.configs)
    assert result.best_loss == pytest.approx(frame["loss"].min())
    assert result.best_config == result.state.configs[result.best_config_id]
    assert result.extras["strategy"] == name and result.extras["budget"] == budget
    if continues:
        assert set(backend.trained) == backend.released  # every trained state is given back


@pytest.mark.parametrize("name", NAMES)
def test_peer_is_deterministic_for_a_seed(name):
    def frame(seed):
        result, _ = run(name, FunctionBackend("hartmann3", max_resource=R, seed=0), budget=10 * R, seed=seed)
        return result.to_frame().drop(columns=["seconds", "rung_seconds"])

    a, b, c = frame(1), frame(1), frame(2)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["x1", "x2", "x3"]].equals(c[["x1", "x2", "x3"]])


def test_optuna_tpe_hyperband_reports_at_its_brackets_rungs():
    pytest.importorskip("optuna")
    result, jobs = run("optuna-tpe-hb", FunctionBackend("hartmann3", max_resource=R, seed=0), budget=40 * R)
    df = result.to_frame()
    assert result.extras["bracket_from_pruner"]
    assert set(df["resource"]) <= {1.0, 3.0, 9.0, 27.0}
    assert set(df["bracket"]) == {0, 1, 2, 3}  # Optuna's 4 brackets, numbered as hbjax's s
    for _cid, rows in df.groupby("config_id"):
        s = rows["bracket"].iloc[0]
        expected = [3.0 ** (3 - s + k) for k in range(len(rows))]  # bracket s starts at R / eta^s
        assert rows["resource"].tolist() == expected
        assert rows["rung"].tolist() == list(range(len(rows)))
        assert rows["promoted"].tolist()[:-1] == [True] * (len(rows) - 1)
        last = rows["outcome"].iloc[-1]
        stopped = last == "continued" and result.extras["stopped_by_budget"] > 0  # its next rung did not fit
        assert last in {"complete", "pruned", "diverged"} or stopped
        assert (last == "complete") == (rows["resource"].iloc[-1] == R)
    counts = df.groupby("config_id")["outcome"].last().value_counts()
    assert counts.get("complete", 0) == result.extras["complete"] > 0
    assert counts.get("pruned", 0) == result.extras["pruned"] > 0
    assert result.extras["trials_asked"] >= df["config_id"].nunique()
    assert (df.groupby("config_id")["optuna_trial"].nunique() == 1).all()
    # all trials due at one resource train together: one job per (batch, resource)
    assert len(jobs) == df.groupby(["iteration", "resource"]).ngroups


def test_dehb_batches_a_bracket_rung_and_sequential_mode():
    pytest.importorskip("dehb")
    backend = FunctionBackend("hartmann3", max_resource=R, seed=0)
    result, jobs = run("dehb", backend, budget=30 * R)
    df = result.to_frame()
    assert set(df["resource"]) <= {1.0, 3.0, 9.0, 27.0}
    first = [(len(j.config_ids), j.resource, j.bracket, j.rung) for j in jobs[:4]]
    assert first == [(27, 1.0, 3, 0), (9, 3.0, 3, 1), (3, 9.0, 3, 2), (1, 27.0, 3, 3)]  # DEHB's first bracket
    assert all(j.resource == 3.0 ** (3 - j.bracket + j.rung) for j in jobs)
    assert df["dehb_config_id"].duplicated().any()  # promotions of the first brackets, retrained
    assert result.extras["retrained_promotions"] == int(df["dehb_config_id"].duplicated().sum())
    one, jobs1 = run("dehb", FunctionBackend("hartmann3", max_resource=R, seed=0), budget=30 * R, batch_size=1)
    assert {len(j.config_ids) for j in jobs1} == {1}
    assert one.resource_spent == result.resource_spent


def test_peers_survive_divergence():
    class Diverging(FunctionBackend):
        def train_rung(self, job):
            losses = super().train_rung(job)
            return np.where([c["x1"] > 2.0 for c in job.configs], np.nan, losses)

    for name in INSTALLED:
        result, _ = run(name, Diverging("branin", max_resource=R, seed=0), budget=10 * R)
        df = result.to_frame()
        assert df["diverged"].any() and not df["diverged"].all()
        assert result.best_config["x1"] <= 2.0 and math.isfinite(result.best_loss)
    if "optuna-tpe-hb" in INSTALLED:
        tpe, _ = run("optuna-tpe-hb", Diverging("branin", max_resource=R, seed=0), budget=10 * R)
        assert tpe.extras["diverged"] == int(tpe.to_frame()["diverged"].sum())


def test_peers_in_compare_with_curves():
    curves = []
    methods = ["hyperband", *INSTALLED]
    options = {"optuna-random": {"batch_size": 4}} if "optuna-random" in INSTALLED else {}
    df = compare(
        methods,
        lambda s: FunctionBackend("branin", max_resource=9, seed=s),
        FunctionBackend("branin", max_resource=9).space(),
        budget=60,
        seeds=[0, 1],
        max_resource=9,
        eta=3,
        curves=curves,
        options=options,
    )
    assert df["method"].tolist() == [m for m in methods for _ in range(2)]
    assert (df["resource_spent"] <= 60).all() and (df["resource_spent"] > 60 - 9).all()
    last = pd.DataFrame(curves).groupby(["method", "seed"], sort=False)["resource_spent"].last()
    np.testing.assert_allclose(last.to_numpy(), df["resource_spent"].to_numpy())


def test_peers_print_nothing(capfd):
    for name in INSTALLED:
        run(name, FunctionBackend("branin", max_resource=R, seed=0), budget=5 * R)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# ------------------------------------------------------------------------------------- spaces
MIXED = Space(
    lr=LogUniform(1e-5, 1e-1),
    dropout=Uniform(0.0, 0.5),
    layers=IntUniform(1, 4),
    act=Choice(["relu", "tanh", "gelu"]),
    batch=IntChoice([16, 32, 64]),
)


def test_space_configspace_round_trip():
    CS = pytest.importorskip("ConfigSpace")

    cs = to_configspace(MIXED, seed=0)
    kinds = {name: type(hp).__name__ for name, hp in cs.items()}
    assert kinds == {
        "lr": "UniformFloatHyperparameter",
        "dropout": "UniformFloatHyperparameter",
        "layers": "UniformIntegerHyperparameter",
        "act": "CategoricalHyperparameter",
        "batch": "OrdinalHyperparameter",
    }
    assert cs["lr"].log and not cs["dropout"].log
    back = from_configspace(cs)
    assert back == MIXED and type(back.dims["batch"]) is IntChoice and type(back.dims["act"]) is Choice
    for configuration in cs.sample_configuration(50):
        config = config_from_configspace(MIXED, configuration)
        assert MIXED.contains(config) and list(config) == list(MIXED.names)
        assert all(type(v) in (int, float, str) for v in config.values())
    odd = CS.ConfigurationSpace()
    odd.add(CS.UniformIntegerHyperparameter("n", 1, 100, log=True))
    with pytest.raises(ValueError, match="'n'"):
        from_configspace(odd)


def test_optuna_distributions_and_unstorable_choices():
    pytest.importorskip("optuna")
    d = optuna_distributions(MIXED)
    assert d["lr"].log and not d["dropout"].log and (d["layers"].low, d["layers"].high) == (1, 4)
    assert d["act"].choices == ("relu", "tanh", "gelu") and d["batch"].choices == (16, 32, 64)
    space = Space(shape=Choice([(1, 2), (3, 4)]), x=Uniform(0, 1))
    assert optuna_distributions(space)["shape"].choices == (0, 1)  # indices: Optuna stores only scalars

    class Echo:
        continues = False

        def train_rung(self, job):
            return np.array([c["x"] + c["shape"][0] for c in job.configs])

    result = make_strategy("optuna-random", space, max_resource=1, seed=0).run(Echo(), budget=12)
    assert {c["shape"] for c in result.state.configs} == {(1, 2), (3, 4)}
    assert all(space.contains(c) for c in result.state.configs)


# ------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name, module", [("optuna-tpe-hb", "optuna"), ("optuna-random", "optuna"), ("dehb", "dehb")])
def test_missing_library_is_one_clear_import_error(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # import now fails
    with pytest.raises(ImportError, match=rf"strategy '{name}' needs {module}.*pip install 'hbjax\[peers\]'"):
        make_strategy(name, MIXED, max_resource=9, eta=3, seed=0)
    with pytest.raises(ImportError, match="hbjax\\[peers\\]"):
        compare([name], lambda s: None, MIXED, budget=9, seeds=[0], max_resource=9)


def test_peer_options_are_checked_up_front():
    pytest.importorskip("optuna")
    pytest.importorskip("dehb")
    with pytest.raises(ValueError, match="integer max_resource"):
        OptunaTPEHyperband(MIXED, max_resource=9.5)
    with pytest.raises(ValueError, match="min_resource < max_resource"):
        DEHBStrategy(MIXED, max_resource=1)
    with pytest.raises(ValueError, match="batch_size"):
        make_strategy("dehb", MIXED, max_resource=9, batch_size=0)
    with pytest.raises(ValueError, match="no option"):
        make_strategy("optuna-random", MIXED, max_resource=9, population=3)
    assert set(PEERS) <= set(STRATEGIES)


def test_importing_strategies_imports_neither_library():
    code = (
        "import sys, hbjax.strategies; bad = {'optuna', 'dehb', 'ConfigSpace'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
