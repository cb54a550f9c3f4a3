"""FlaxBackend: a user's flax module and optax optimizer trained by the engine."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

import hbjax as hb
from hbjax.usermodel.backend import FlaxBackend

COLS = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]


class MLP(nn.Module):
    width: int
    depth: int = 1

    @nn.compact
    def __call__(self, x, train: bool = False):
        for _ in range(self.depth):
            x = nn.tanh(nn.Dense(self.width)(x))
        return nn.Dense(3)(x)


class DropMLP(nn.Module):
    """Dropout at a traced rate (``hparams``): configs of different rates share a program."""

    width: int

    @nn.compact
    def __call__(self, x, train: bool = False, hparams=None):
        x = nn.relu(nn.Dense(self.width)(x))
        if train:
            rate = hparams["dropout"]
            keep = jax.random.uniform(self.make_rng("dropout"), x.shape) >= rate
            x = jnp.where(keep, x / (1.0 - rate), 0.0)
        return nn.Dense(3)(x)


def _data(n_train=96, n_val=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_train + n_val, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _accuracy(logits, y):
    return (logits.argmax(-1) == y).mean()


SPACE = hb.Space(
    width=hb.IntChoice([4, 8]),
    lr=hb.LogUniform(1e-3, 1e-1),
    wd=hb.LogUniform(1e-5, 1e-2),
    batch_size=hb.IntChoice([16, 32]),
)


def _adamw(c):
    return optax.inject_hyperparams(optax.adamw)(learning_rate=c["lr"], weight_decay=c["wd"])


def backend(model=lambda c: MLP(c["width"]), optimizer=_adamw, **kw):
    kw = {"data": _data(), "direction": "max", **kw}
    return FlaxBackend(model=model, optimizer=optimizer, loss=_xent, metric=_accuracy, compilation_cache=False, **kw)


def engine(space=SPACE, **kw):
    """A prepared backend's engine (``prepare`` finds the injected hyperparameters)."""
    b = backend(**kw)
    b.prepare(space)
    return b.engine


DROP_SPACE = hb.Space(
    width=hb.IntChoice([8]),
    lr=hb.LogUniform(1e-3, 1e-1),
    wd=hb.LogUniform(1e-5, 1e-2),
    batch_size=hb.IntChoice([16]),
    dropout=hb.Uniform(0.1, 0.5),
)


def _configs(n, **fixed):
    rng = np.random.default_rng(1)
    return [
        dict(width=8, lr=float(10 ** rng.uniform(-3, -1)), wd=float(10 ** rng.uniform(-5, -2)), batch_size=16, **fixed)
        for _ in range(n)
    ]


def test_injected_hyperparameters_share_a_program_the_rest_do_not():
    b = backend()
    b.prepare(SPACE)
    a, c = (b.engine.shape(dict(width=8, lr=lr, wd=1e-3, batch_size=16)) for lr in (0.01, 0.02))
    assert a == c  # one program for both learning rates: each config's lr sits in its own optimizer state
    assert b.engine.shape(dict(width=4, lr=0.01, wd=1e-3, batch_size=16)) != a
    report = b.sharing()["hyperparameters"]
    assert report["lr"]["traced_in"] == 1 and "inject_hyperparams" in report["lr"]["how"]
    assert report["width"]["traced_in"] == 0 and report["width"]["static_in"] == 1  # the width-8 program
    # a learning rate baked into the optimizer (no inject_hyperparams) is static: its own program
    plain = backend(optimizer=lambda c: optax.adamw(c["lr"], weight_decay=c["wd"]))
    plain.prepare(SPACE)
    a, c = (plain.engine.shape(dict(width=8, lr=lr, wd=1e-3, batch_size=16)) for lr in (0.01, 0.02))
    assert a != c
    # a schedule built from lr is static too (its closure holds lr), even though lr is in the state
    sched = backend(
        optimizer=lambda c: optax.inject_hyperparams(optax.adam)(learning_rate=optax.linear_schedule(c["lr"], 0.0, 100))
    )
    sched.prepare(hb.Space(width=hb.IntChoice([4]), lr=hb.LogUniform(1e-3, 1e-1), batch_size=hb.IntChoice([16])))
    a, c = (sched.engine.shape(dict(width=4, lr=lr, batch_size=16)) for lr in (0.01, 0.02))
    assert a != c


def test_hyperband_run_losses_are_minus_accuracy_and_continue():
    b = backend()
    result = hb.Hyperband(SPACE, max_resource=9, eta=3, seed=0).run(b)
    frame = result.to_frame()
    assert ((frame.loss >= -1) & (frame.loss <= 0)).all() and frame.loss.min() < -0.6
    assert b.compiles <= 4  # width x batch: the traced lr and wd never add a program
    # a survivor continued: its state has the steps of every rung it trained
    best = frame.sort_values("resource").groupby("config_id").resource.max()
    assert (best == 9).any()


def test_continuing_equals_training_in_one_go_bit_for_bit():
    configs = _configs(3)
    once = engine()
    val_once, _ = once.train([0, 1, 2], configs, 3.0, [0.0] * 3)
    twice = engine()
    twice.train([0, 1, 2], configs, 1.0, [0.0] * 3)
    val_twice, _ = twice.train([0, 1, 2], configs, 3.0, [1.0] * 3)
    np.testing.assert_array_equal(val_once, val_twice)
    for a, b in zip(jax.tree.leaves(once.states[1]), jax.tree.leaves(twice.states[1])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("plan", ["auto", "wide"])
def test_configs_together_equal_each_alone_over_hundreds_of_steps(plan):
    """300 optimizer steps (50 epochs of 6): a rung of 4 configs in one program (``wide``
    forced on CPU: side by side under vmap) equals each config trained alone."""
    configs = _configs(4, dropout=0.2) + _configs(1, dropout=0.5)
    kw = dict(model=lambda c: DropMLP(c["width"]), traced=("dropout",), plan=plan)
    together = engine(DROP_SPACE, **kw, configs_per_program=8)
    val, _ = together.train(list(range(5)), configs, 50.0, [0.0] * 5)
    assert len(together.plan_rung(configs, 50.0, [0.0] * 5).programs) == 1
    for cid in (0, 4):
        alone = engine(DROP_SPACE, **kw, configs_per_program=1)
        ref, _ = alone.train([cid], [configs[cid]], 50.0, [0.0])
        if plan == "auto":
            assert val[cid] == ref[0]
            for a, b in zip(jax.tree.leaves(together.states[cid]), jax.tree.leaves(alone.states[cid])):
                np.testing.assert_array_equal(a, b)
        else:  # vmapped matmuls may round differently from unbatched ones
            for a, b in zip(jax.tree.leaves(together.states[cid][0]), jax.tree.leaves(alone.states[cid][0])):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("plan", ["auto", "wide"])
def test_a_diverging_config_leaves_the_others_alone(plan):
    """A config whose weights blow up (lr 1e6) in the same program as two others: it diverged
    (non-finite weights, NaN loss: never promoted) and the others' losses and every float of their
    states are what they are without it."""
    configs = _configs(3)
    bad = dict(configs[1], lr=1e6)
    mixed = engine(plan=plan, configs_per_program=4)
    val, _ = mixed.train([0, 1, 2], [configs[0], bad, configs[2]], 2.0, [0.0] * 3)
    assert len(mixed.plan_rung([configs[0], bad, configs[2]], 2.0, [0.0] * 3).calls) == 1  # one shared call
    assert np.isnan(val[1]) or not all(np.all(np.isfinite(a)) for a in jax.tree.leaves(mixed.states[1]))
    clean = engine(plan=plan, configs_per_program=4)
    ref, _ = clean.train([0, 2], [configs[0], configs[2]], 2.0, [0.0] * 2)
    assert val[0] == ref[0] and val[2] == ref[1]
    for cid in (0, 2):
        for a, b in zip(jax.tree.leaves(mixed.states[cid]), jax.tree.leaves(clean.states[cid])):
            np.testing.assert_array_equal(a, b)


def test_a_survivors_continuation_equals_training_it_in_one_go():
    """In a Hyperband run, a config promoted 1 -> 3 -> 9 epochs ends where training it 9 epochs
    in one go (same config id: same initial weights and dropout keys) ends, bit for bit."""
    b = backend()
    result = hb.Hyperband(SPACE, max_resource=9, eta=3, seed=0, waves=True).run(b)
    frame = result.to_frame()
    climbed = frame[frame.resource == 9].merge(frame[frame.resource == 1], on="config_id").config_id
    assert len(climbed), "no config climbed from 1 to 9 epochs"
    cid = int(climbed.iloc[0])
    row = frame[frame.config_id == cid].iloc[0]
    config = dict(width=int(row.width), lr=float(row.lr), wd=float(row.wd), batch_size=int(row.batch_size))
    alone = engine()
    val, _ = alone.train([cid], [config], 9.0, [0.0])
    assert val[0] == frame[(frame.config_id == cid) & (frame.resource == 9)].loss.iloc[0]


@pytest.mark.parametrize("waves", [False, True])
def test_resume_equals_uninterrupted(tmp_path, waves):
    from hbjax.runs.checkpoint import run_with_checkpoints

    search = hb.Hyperband(SPACE, max_resource=9, eta=3, seed=4, waves=waves)
    plain = search.run(backend())

    class Stop(Exception):
        pass

    calls = []

    def stop_after_three(job, losses, state, seconds):
        calls.append(job)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        run_with_checkpoints(search, backend(), tmp_path / "run", meta={}, callbacks=[stop_after_three])
    resumed = run_with_checkpoints(search, backend(), tmp_path / "run", meta={}, resume=True)
    pd.testing.assert_frame_equal(resumed.to_frame()[COLS], plain.to_frame()[COLS])


def test_bad_models_and_data_are_named():
    with pytest.raises(ValueError, match="does not fit training targets|must be a scalar"):
        backend(data=_bad_targets()).prepare(SPACE)
    with pytest.raises(ValueError, match="model\\(config\\) failed"):
        backend(model=lambda c: MLP(c["no_such_key"])).prepare(SPACE)
    with pytest.raises(ValueError, match="must return a flax.linen or flax.nnx Module"):
        backend(model=lambda c: "not a module").prepare(SPACE)
    with pytest.raises(ValueError, match="one row each"):
        x, y, xv, yv = _data()
        backend(data=(x, y[:-1], xv, yv))
    with pytest.raises(ValueError, match="no 'batch_size' dimension"):
        backend().prepare(hb.Space(width=hb.IntChoice([4]), lr=hb.LogUniform(1e-3, 1e-1), wd=hb.Uniform(0, 1e-3)))
    with pytest.raises(ValueError, match="direction"):
        backend(direction="up")


def _bad_targets():
    x, _, xv, _ = _data()
    return x, np.zeros((len(x), 7), np.float32), xv, np.zeros((len(xv), 7), np.float32)


def test_every_strategy_runs_on_a_flax_model():
    """The comparison harness (random, GP-BO, GA, SH, BOHB, Hyperband; Optuna and DEHB when
    installed) at equal budget on a user's model."""
    from hbjax.strategies import STRATEGIES, compare

    methods = ["hyperband", "random", "bo", "ga", "sh", "bohb"]
    for peer, module in (("optuna-tpe-hb", "optuna"), ("dehb", "dehb")):
        if peer in STRATEGIES and __import__("importlib").util.find_spec(module) is not None:
            methods.append(peer)
    space = hb.Space(
        width=hb.IntChoice([4]),
        lr=hb.LogUniform(1e-3, 1e-1),
        wd=hb.LogUniform(1e-5, 1e-2),
        batch_size=hb.IntChoice([32]),
    )
    raw = compare(methods, lambda seed: backend(seed=seed), space, budget=12, seeds=[0], max_resource=3)
    assert sorted(raw.method) == sorted(methods)
    assert raw.best_loss.between(-1, 0).all() and (raw.resource_spent <= 12 + 3).all()


def test_a_flax_nnx_module_through_the_linen_bridge():
    """``flax.nnx`` modules plug in wrapped by ``nnx.bridge.to_linen``."""
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, width, rngs):
            self.hidden, self.out = nnx.Linear(5, width, rngs=rngs), nnx.Linear(width, 3, rngs=rngs)

        def __call__(self, x):
            return self.out(nnx.tanh(self.hidden(x)))

    b = backend(model=lambda c: nnx.bridge.to_linen(Net, c["width"]))
    result = hb.Hyperband(SPACE, max_resource=3, eta=3, seed=0).run(b)
    assert b.sharing()["hyperparameters"]["lr"]["traced_in"] >= 1 and result.best_loss < -0.5


class TinyCNN(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(self.width, (3, 3))(x))
        return nn.Dense(3)(x.reshape(x.shape[0], -1))


def _images():
    x, y, xv, yv = _data()
    rng = np.random.default_rng(3)
    project = rng.normal(size=(5, 16)).astype(np.float32)
    return (x @ project).reshape(-1, 4, 4, 1), y, (xv @ project).reshape(-1, 4, 4, 1), yv


def test_a_convolutional_model_trains_by_host_driven_steps_on_cpu(monkeypatch):
    """On CPU a model with convolutions is stepped from the host (XLA CPU runs convolution
    gradients slowly inside a loop): continuing equals one go bit for bit, a rung equals each
    config alone bit for bit, and the losses agree with the in-program loop to float rounding."""
    kw = dict(model=lambda c: TinyCNN(c["width"]), data=_images())
    configs = _configs(3)
    once = engine(**kw)
    assert once.model.has_convolution and once.host_stepped
    val, train_loss = once.train([0, 1, 2], configs, 3.0, [0.0] * 3)
    assert {c.program.width for c in once.plan_rung(configs, 3.0, [0.0] * 3).calls} == {1}
    twice = engine(**kw)
    twice.train([0, 1, 2], configs, 1.0, [0.0] * 3)
    np.testing.assert_array_equal(twice.train([0, 1, 2], configs, 3.0, [1.0] * 3)[0], val)
    alone = engine(**kw)
    assert alone.train([1], [configs[1]], 3.0, [0.0])[0][0] == val[1]
    from hbjax.usermodel.client import FlaxModel

    monkeypatch.setattr(FlaxModel, "host_steps", lambda self, kind: False)
    looped = engine(**kw)
    assert not looped.host_stepped
    # the training loss (continuous; accuracy would jump by 1/48 on one flipped prediction)
    np.testing.assert_allclose(looped.train([0, 1, 2], configs, 3.0, [0.0] * 3)[1], train_loss, rtol=1e-4)
    assert not engine().host_stepped  # an MLP keeps its loop inside the program


def test_a_jobs_states_become_the_engines_only_when_it_is_handed_back():
    """Two continuing jobs of one wave trained in ONE call: when the first is handed back (and
    about to be told to the scheduler, then checkpointed) the second's configs still hold their
    previous states, so a checkpoint never pairs a state with a scheduler that has not heard of it."""
    from hbjax.scheduler import RungJob

    b = backend(configs_per_program=8)
    b.prepare(SPACE)
    configs = _configs(4)
    b.engine.train([0, 1, 2, 3], configs, 1.0, [0.0] * 4)
    before = {cid: b.engine.states[cid] for cid in range(4)}
    jobs = [
        RungJob(0, 2, 0, 1, (0, 1), tuple(configs[:2]), 3.0, (1.0, 1.0)),
        RungJob(0, 1, 1, 0, (2, 3), tuple(configs[2:]), 3.0, (1.0, 1.0)),
    ]
    handles = b.submit_wave(jobs)
    assert handles[0].ticket.stats["calls"] == 1  # both jobs finish with the same call
    first, _ = b.wait_wave(handles)
    second = next(h for h in handles if h is not first)
    assert second.done  # its call is in too...
    for cid in (2, 3) if first.index == 0 else (0, 1):  # ...but its states are not the engine's yet
        assert b.engine.states[cid] is before[cid]
    for cid in (0, 1) if first.index == 0 else (2, 3):
        assert b.engine.states[cid] is not before[cid]
    b.wait_wave([second])
    assert all(b.engine.states[cid] is not before[cid] for cid in range(4))


def test_stopped_twice_in_later_waves_resumes_to_the_same_trials(tmp_path):
    """After job 2 the resumed run submits two continuing jobs (and a fresh one) in one call;
    stopped after the first of them, the checkpoint must not hold the second's new states (they
    were trained twice before states were committed only when a job is told)."""
    _stop_twice(tmp_path, [2])


@pytest.mark.slow
def test_stopping_after_any_job_of_a_waves_run_resumes_to_the_same_trials(tmp_path):
    _stop_twice(tmp_path, None)


def _stop_twice(tmp_path, stops):
    """Stopped right after job ``stop_at`` is told and checkpointed, then stopped AGAIN after the
    first job of the resumed run (a resume submits every ready job together, so one call can
    finish two continuing jobs), every twice-resumed waves run equals the uninterrupted one."""
    from hbjax.runs.checkpoint import run_with_checkpoints

    space = hb.Space(
        width=hb.IntChoice([8]),
        lr=hb.LogUniform(1e-3, 1e-1),
        wd=hb.LogUniform(1e-5, 1e-2),
        batch_size=hb.IntChoice([16]),
    )  # one shape: every job of a wave in the same calls
    search = hb.Hyperband(space, max_resource=9, eta=3, seed=4, waves=True)
    cols = COLS

    def xent_backend():  # validation cross-entropy: continuous (accuracy may not move when trained twice)
        return FlaxBackend(
            model=lambda c: MLP(c["width"]),
            optimizer=_adamw,
            loss=_xent,
            data=_data(),
            configs_per_program=8,
            compilation_cache=False,
        )

    plain = search.run(xent_backend()).to_frame()[cols]

    class Stop(Exception):
        pass

    def stopper(after):
        calls = []

        def stop(job, losses, state, seconds):
            calls.append(job)
            if len(calls) == after:
                raise Stop

        return stop

    for stop_at in stops or range(1, plain.groupby(["bracket", "rung"]).ngroups - 1):
        out = tmp_path / f"run{stop_at}"
        with pytest.raises(Stop):
            run_with_checkpoints(search, xent_backend(), out, meta={}, callbacks=[stopper(stop_at)])
        with pytest.raises(Stop):
            run_with_checkpoints(search, xent_backend(), out, meta={}, resume=True, callbacks=[stopper(1)])
        resumed = run_with_checkpoints(search, xent_backend(), out, meta={}, resume=True)
        pd.testing.assert_frame_equal(resumed.to_frame()[cols], plain, obj=f"stopped after job {stop_at}, then 1")
