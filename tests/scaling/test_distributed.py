"""Brackets run apart (in-process or as Ray tasks) merge into the in-process Hyperband result."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_ohlcv

import hbjax as hb
from hbjax.scaling.distributed import bracket_tasks, merge_brackets, run_bracket, run_brackets_locally

COMPARED = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted", "diverged"]


class FakeBackend:
    """Loss a pure function of (config id, config, resource); config 7 diverges."""

    continues = True

    def __init__(self):
        self.released = set()

    def train_rung(self, job):
        out = []
        for cid, c in zip(job.config_ids, job.configs):
            if cid == 7:
                out.append(float("nan"))
            else:
                out.append((c["x"] - 0.3) ** 2 + 1.0 / (1.0 + job.resource) + 1e-3 * ((cid * 7919) % 13))
        return np.array(out)

    def release(self, ids):
        self.released.update(ids)


def _frame(result):
    frame = result.to_frame()
    return frame[COMPARED + [c for c in frame.columns if c not in COMPARED and c not in ("seconds", "rung_seconds")]]


def _assert_same(a, b):
    pd.testing.assert_frame_equal(_frame(a), _frame(b))
    assert a.best_config_id == b.best_config_id and a.best_config == b.best_config
    assert a.best_loss == b.best_loss and a.best_resource == b.best_resource
    assert math.isclose(a.resource_spent, b.resource_spent)
    sa, sb = a.state, b.state
    assert (
        sa.configs == sb.configs and sa.resources == sb.resources and repr(sa.history) == repr(sb.history)
    )  # NaN-safe
    assert sa.finished and sb.finished and sa.iteration == sb.iteration


CONT = hb.Space(x=hb.Uniform(0.0, 1.0), k=hb.IntUniform(1, 4))


@pytest.mark.parametrize("iterations", [1, 2])
def test_local_merge_equals_in_process_run(iterations):
    search = hb.Hyperband(CONT, max_resource=27, eta=3, seed=5, hyperband_iterations=iterations)
    expected = search.run(FakeBackend())
    got = run_brackets_locally(search, FakeBackend)
    _assert_same(got, expected)
    assert got.to_frame().diverged.sum() == 1  # config 7 kept, as NaN


def test_merge_with_a_finite_space_smaller_than_n():
    space = hb.Space(x=hb.Choice([0.0, 0.25, 0.5, 0.75]), k=hb.IntChoice([1, 2, 3]))  # 12 configs < n = 27
    search = hb.Hyperband(space, max_resource=27, eta=3, seed=1, hyperband_iterations=2)
    tasks = bracket_tasks(search)
    assert [t.n_configs for t in tasks[:4]] == [12, 12, 6, 4]  # n = 27, 12, 6, 4
    assert [t.first_id for t in tasks[:5]] == [0, 12, 24, 30, 34]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = search.run(FakeBackend())
        got = run_brackets_locally(search, FakeBackend)
    _assert_same(got, expected)


def test_outcomes_merge_in_any_order_and_must_cover_the_plan():
    search = hb.Hyperband(CONT, max_resource=9, eta=3, seed=2)
    outcomes = [run_bracket(search, FakeBackend(), t) for t in bracket_tasks(search)]
    _assert_same(merge_brackets(search, outcomes[::-1], 0.0), search.run(FakeBackend()))
    with pytest.raises(ValueError, match="exactly once"):
        merge_brackets(search, outcomes[1:], 0.0)


def test_successive_halving_search_is_one_task():
    search = hb.SuccessiveHalving(CONT, n_configs=10, max_resource=9, eta=3, seed=3)
    assert len(bracket_tasks(search)) == 1
    _assert_same(run_brackets_locally(search, FakeBackend), search.run(FakeBackend()))


def test_run_on_ray_says_how_to_install_ray(monkeypatch):
    import builtins

    import hbjax.scaling.distributed as dist

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install hbjax\[ray\]"):
        dist.run_on_ray(hb.Hyperband(CONT, max_resource=3), FakeBackend)


# --------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    import sys

    # tests/ is not a package the workers can import: ship this module's classes by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_equals_in_process_run(local_ray):
    from hbjax.scaling.distributed import run_on_ray

    search = hb.Hyperband(CONT, max_resource=27, eta=3, seed=5, hyperband_iterations=2)
    got = run_on_ray(search, FakeBackend)
    _assert_same(got, search.run(FakeBackend()))


class CrashOnceBackend(FakeBackend):
    """Kills its Ray worker process in the middle of a bracket (at its second rung), once per
    marker file: the retried task must redo the bracket and the merged result must not change."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def train_rung(self, job):
        import os

        if job.rung == 1 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # the worker dies as if killed
        return super().train_rung(job)


def test_a_worker_killed_mid_bracket_is_retried_without_losing_it(local_ray, tmp_path):
    from hbjax.scaling.distributed import run_on_ray

    marker = str(tmp_path / "crashed")
    search = hb.Hyperband(CONT, max_resource=27, eta=3, seed=5)
    got = run_on_ray(search, lambda: CrashOnceBackend(marker))
    assert (tmp_path / "crashed").exists()  # a worker did die
    _assert_same(got, search.run(FakeBackend()))


def _tiny_lstm(frame=synthetic_ohlcv()):
    """The frame is a default argument: Ray's workers receive it with the function (they cannot
    import the tests' conftest)."""
    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(frame), train_size=150, val_size=40, test_size=40, ma_window=5)
    return LSTMBackend(task, seed=0, window=5, configs_per_program=4)


def test_ray_lstm_equals_in_process_run(local_ray):
    pytest.importorskip("jax")
    from hbjax.scaling.distributed import run_on_ray

    space = hb.Space(
        lr=hb.LogUniform(1e-3, 1e-1),
        hidden=hb.IntChoice([8]),
        layers=hb.IntChoice([1]),
        batch_size=hb.IntChoice([16]),
        dropout=hb.Uniform(0.1, 0.3),
        optimizer=hb.Choice(["adam", "rmsprop"]),
    )
    search = hb.Hyperband(space, max_resource=3, eta=3, seed=0)
    expected = search.run(_tiny_lstm())
    got = run_on_ray(search, _tiny_lstm)
    a, b = _frame(got), _frame(expected)
    pd.testing.assert_frame_equal(a.drop(columns="loss"), b.drop(columns="loss"))
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5, atol=1e-6)  # another process, same program
    assert got.best_config_id == expected.best_config_id


def _tiny_flax():
    import flax.linen as nn
    import optax

    from hbjax.usermodel.backend import FlaxBackend

    class Net(nn.Module):
        width: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(nn.tanh(nn.Dense(self.width)(x)))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return FlaxBackend(
        model=lambda c: Net(c["width"]),
        optimizer=lambda c: optax.inject_hyperparams(optax.adam)(learning_rate=c["lr"]),
        loss=lambda p, y: optax.softmax_cross_entropy_with_integer_labels(p, y).mean(),
        data=(x[:64], y[:64], x[64:], y[64:]),
        batch_size=16,
        compilation_cache=False,
    )


def test_ray_flax_model_equals_in_process_run(local_ray):
    """A user's flax model on Ray workers: the same trials as in process."""
    pytest.importorskip("flax")
    from hbjax.scaling.distributed import run_on_ray

    space = hb.Space(width=hb.IntChoice([4, 8]), lr=hb.LogUniform(1e-3, 1e-1))
    search = hb.Hyperband(space, max_resource=3, eta=3, seed=0)
    expected = search.run(_tiny_flax())
    got = run_on_ray(search, _tiny_flax)
    a, b = _frame(got), _frame(expected)
    pd.testing.assert_frame_equal(a.drop(columns="loss"), b.drop(columns="loss"))
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5, atol=1e-6)
