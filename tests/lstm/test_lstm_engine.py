"""The engine: exact plans are bit-identical across widths and devices, padding is exact,
continuation equals training in one go, compiles are shared, divergence stays contained."""

import jax
import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_ohlcv

import hbjax as hb
from hbjax.engine.plan import Call, split_pow2
from hbjax.lstm import network
from hbjax.lstm.engine import FoldArrays, LSTMEngine, steps_for
from hbjax.lstm.program import lstm_program, lstm_shape

K, N_TRAIN, N_VAL, F = 2, 96, 16, 3


def _arrays(window: int) -> FoldArrays:
    rng = np.random.default_rng(window)
    x = rng.normal(size=(K, N_TRAIN, window, F)).astype(np.float32)
    xv = rng.normal(size=(K, N_VAL, window, F)).astype(np.float32)
    # a learnable target: the mean of the last step's features
    return FoldArrays(x, x[:, :, -1, :].mean(-1), xv, xv[:, :, -1, :].mean(-1))


_DATA = {w: _arrays(w) for w in (3, 5)}


def engine(width=None, seed=0, plan="exact", max_layers=2, **kw):
    return LSTMEngine(
        lambda w: _DATA[w], seed=seed, configs_per_program=width, plan=plan, window=5, max_layers=max_layers, **kw
    )


def cfg(lr=1e-2, hidden=8, layers=1, batch_size=16, dropout=0.2, activation="tanh", optimizer="adam", **extra):
    return dict(
        lr=lr,
        hidden=hidden,
        layers=layers,
        batch_size=batch_size,
        dropout=dropout,
        activation=activation,
        optimizer=optimizer,
        **extra,
    )


MIXED = [
    cfg(),
    cfg(lr=3e-2, activation="relu", optimizer="rmsprop", dropout=0.5),
    cfg(hidden=16, layers=2, batch_size=32, optimizer="sgd", lr=5e-2, activation="sigmoid"),
    cfg(lr=1e-3, dropout=0.1),
    cfg(window=3, optimizer="rmsprop", lr=1e-2),
    cfg(hidden=16, layers=2, batch_size=32, lr=1e-2, dropout=0.3),
    cfg(lr=2e-2, activation="sigmoid", optimizer="sgd"),
]
IDS = [0, 1, 2, 3, 4, 5, 6]
#: a chaotic config (rmsprop, relu, high lr): float drift would grow, not fade
CHAOTIC = cfg(lr=5e-2, activation="relu", optimizer="rmsprop", dropout=0.1, hidden=16)


def _leaves(eng, cid):
    return [np.asarray(a) for a in jax.tree.leaves(eng.states[cid])]


def _two_rungs(eng, ids=IDS, configs=MIXED):
    val, tr = eng.train(ids, configs, 1.5, [0.0] * len(ids))
    val2, _ = eng.train(ids[:3], configs[:3], 3.0, [1.5] * 3)
    return np.concatenate([val, tr, val2])


def test_the_seed_matters():
    """(The same command twice is bit-identical: test_a_whole_run_is_bit_identical_for_any_width_and_twice.)"""
    a, _ = engine(width=2, seed=3).train(IDS[:2], MIXED[:2], 1.0, [0.0] * 2)
    c, _ = engine(width=2, seed=4).train(IDS[:2], MIXED[:2], 1.0, [0.0] * 2)
    assert np.all(np.isfinite(a)) and not np.allclose(a, c)


def test_chaotic_config_alone_equals_batched_over_600_steps():
    """600 optimizer steps of a chaotic config alone vs beside six others: not one bit differs."""
    steps_per_epoch = N_TRAIN // CHAOTIC["batch_size"]
    epochs = 600 / steps_per_epoch
    batched = engine(width=8)
    val_b, _ = batched.train([9] + IDS[:6], [CHAOTIC] + MIXED[:6], epochs, [0.0] * 7)
    alone = engine(width=1)
    val_a, _ = alone.train([9], [CHAOTIC], epochs, [0.0])
    assert steps_for(epochs, steps_per_epoch) == 600
    assert val_b[0] == val_a[0]
    for a, b in zip(_leaves(batched, 9), _leaves(alone, 9)):
        np.testing.assert_array_equal(a, b)


def test_padding_is_exact_and_padded_weights_stay_zero():
    """A config trained inside a wider, deeper program (hidden 8 -> 16, depth 1 -> 2): its losses
    match the unpadded run to float rounding and its padded weights are still exactly 0."""
    eng = engine(plan="exact")
    config = cfg(activation="sigmoid", optimizer="rmsprop", dropout=0.3)
    val_exact, _ = eng.train([0], [config], 4.0, [0.0])
    program = lstm_program(16, 2, 16, 5, "map", 1)
    padded = engine(plan="exact")
    from hbjax.lstm.engine import encode_hparams

    out = padded.launch(
        Call(program, ((0,),), 0, (0.0,)),
        padded.compile_program(program),
        [0],
        [config],
        [encode_hparams(config)],
        padded.step_ranges([config], 4.0, [0.0]),
    )
    params, (m, v), val_mse, _ = jax.tree.map(np.asarray, out)
    np.testing.assert_allclose(val_mse[0].mean(), val_exact[0], rtol=1e-5)
    for tree in (params, m, v):
        one = {k: a[0] for k, a in tree.items()}
        inside = network.resize_params(network.resize_params(one, 8, 1), 16, 2)
        for name in one:
            assert np.all(one[name] == inside[name]), name  # outside the real block: exactly 0
    real = network.resize_params({k: a[0] for k, a in params.items()}, 8, 1)
    for name, a in real.items():
        np.testing.assert_allclose(a, eng.states[0][0][name], rtol=1e-4, atol=1e-6)


def test_plans_and_widths_never_change_a_bit():
    """Two rungs of seven mixed configs (depths 1 and 2, windows 3 and 5, every activation and
    optimizer): configs one after another alone and four per program padded in depth (auto),
    and the accelerator plan at widths 1, 2, 8 (a lone config, empty slots, deeper rung-mates):
    every loss and weight identical within each batching; vmapped and one after another agree
    to float rounding. (Widths 1 and 8 one after another over a whole run:
    test_a_whole_run_is_bit_identical_for_any_width_and_twice.) (Configs and folds are one vmapped axis, so width 1 is a
    batch of K folds, not a size-1 axis.) A lone config runs at width 1, never beside a copy."""
    engines = {
        ("exact", 1): engine(width=1),
        ("auto", 4): engine(plan="auto", width=4),
        **{("wide", w): engine(plan="wide", width=w) for w in (1, 2, 8)},
    }
    results = {key: _two_rungs(e) for key, e in engines.items()}
    assert np.all(np.isfinite(results["exact", 1]))
    for key in engines:
        reference = ("wide", 1) if key[0] == "wide" else ("exact", 1)
        np.testing.assert_array_equal(results[key], results[reference], err_msg=str(key))
        for cid in IDS[:3]:
            for a, b in zip(_leaves(engines[key], cid), _leaves(engines[reference], cid)):
                np.testing.assert_array_equal(a, b, err_msg=str(key))
    np.testing.assert_allclose(results["wide", 1], results["exact", 1], rtol=1e-4, atol=1e-6)
    assert max(p.width for p in engines["wide", 8]._planned) > 2  # wider calls were exercised
    plan = engine(plan="wide", width=2).plan_rung(MIXED[:1], 1.0, [0.0])  # fresh: no width compiled yet
    assert [p.width for p in plan.programs] == [1] and plan.calls[0].empty_slots == 0


@pytest.mark.parametrize("plan", ["exact", "wide"])
def test_continuation_equals_training_in_one_go(plan):
    configs, ids = MIXED[:3], IDS[:3]
    stepwise = engine(width=4, plan=plan)
    stepwise.train(ids, configs, 0.4, [0.0] * 3)
    stepwise.train(ids, configs, 1.2, [0.4] * 3)
    val_s, _ = stepwise.train(ids, configs, 3.0, [1.2] * 3)
    once = engine(width=4, plan=plan)
    val_o, _ = once.train(ids, configs, 3.0, [0.0] * 3)
    np.testing.assert_array_equal(val_s, val_o)
    for cid in ids:
        for a, b in zip(_leaves(stepwise, cid), _leaves(once, cid)):
            np.testing.assert_array_equal(a, b)


def test_one_compile_per_program_reused_across_rungs():
    eng = engine(width=4)
    same_shape = [cfg(lr=10.0 ** -(1 + i / 4)) for i in range(8)]
    eng.train(list(range(8)), same_shape, 1.0, [0.0] * 8)  # two calls of 4: one compile
    assert eng.compiles == 1
    eng.train([0, 1, 2, 3], same_shape[:4], 2.0, [1.0] * 4)  # continuing survivors: no compile
    eng.train([8, 9, 10, 11], same_shape[:4], 0.5, [0.0] * 4)  # another bracket: no compile
    assert eng.compiles == 1
    eng.train([0, 1], same_shape[:2], 3.0, [2.0] * 2)  # width 2: one more compile
    assert eng.compiles == 2
    stats = eng.rung_stats[-1]
    assert stats["programs"] == 1 and stats["compiles"] == 1 and stats["compile_s"] > 0


@pytest.mark.parametrize("plan", ["exact", "wide"])
def test_a_diverging_config_loses_and_does_not_disturb_its_batch(plan):
    """One after another and side by side (vmapped, forced on CPU): a config whose loss goes to
    NaN gets NaN, its rung-mates exactly what they get alone."""
    bad = cfg(lr=1e4, optimizer="sgd", activation="relu", dropout=0.1)
    val, _ = engine(plan=plan, width=4).train([0, 1, 3], [MIXED[0], bad, MIXED[3]], 2.0, [0.0] * 3)
    assert not np.isfinite(val[1])
    alone0, _ = engine(plan=plan, width=1).train([0], [MIXED[0]], 2.0, [0.0])
    alone3, _ = engine(plan=plan, width=1).train([3], [MIXED[3]], 2.0, [0.0])
    np.testing.assert_array_equal([val[0], val[2]], [alone0[0], alone3[0]])


def test_fresh_state_is_per_config_and_quick():
    eng = engine()
    states = [eng._fresh_state(lstm_shape(16, 2, 32, 5), cid) for cid in range(81)]
    params = states[0][0]
    assert params["rec0"].shape == (K, 16, 4, 16) and params["in"].shape == (K, 1, 16, 4, 16)
    assert not np.allclose(states[0][0]["rec0"], states[1][0]["rec0"])


def test_split_and_steps():
    assert split_pow2(list(range(7)), 8) == [[0, 1, 2, 3], [4, 5], [6]]
    assert split_pow2(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="configs per program"):
        split_pow2([1], 0)
    assert steps_for(100 / 81, 46) == 57 and steps_for(0.0, 46) == 0 and steps_for(3.0, 46) == 138


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        engine(width=1).train([0], [cfg(optimizer="adagrad")], 1.0, [0.0])
    with pytest.raises(ValueError, match="dropout"):
        engine(width=1).train([0], [cfg(dropout=1.5)], 1.0, [0.0])
    with pytest.raises(ValueError, match="not among"):
        engine(width=1, activations=("tanh",)).train([0], [cfg(activation="relu")], 1.0, [0.0])
    with pytest.raises(ValueError, match="batch_size 128 exceeds"):
        engine(width=1).train([0], [cfg(batch_size=128)], 1.0, [0.0])


def test_lstm_backend_runs_hyperband_end_to_end():
    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(synthetic_ohlcv()), train_size=150, val_size=40, test_size=40, ma_window=5)
    space = hb.Space(
        lr=hb.LogUniform(1e-3, 1e-1),
        hidden=hb.IntChoice([8]),
        layers=hb.IntChoice([1]),
        batch_size=hb.IntChoice([16]),
        dropout=hb.Uniform(0.1, 0.3),
        optimizer=hb.Choice(["adam", "rmsprop"]),
    )
    backend = LSTMBackend(task, seed=0, window=5, configs_per_program=4)
    backend.validate_space(space)
    assert backend.engine.max_layers == 1 and backend.engine.activations == ("tanh",)
    result = hb.Hyperband(space, max_resource=3, eta=3, seed=0).run(backend)
    frame = result.to_frame()
    assert len(frame) == 3 + 1 + 2  # s=1: 3 configs then 1 survivor; s=0: 2 configs (n=ceil(2/1*1))
    assert np.isfinite(result.best_loss) and backend.compiles <= 3
    assert backend.engine.states.keys() <= set(frame.config_id)  # pruned configs were released
    report = backend.evaluate_on_test(result.best_config, result.best_resource)
    assert np.isfinite(report["test_mse"]) and report["persistence_test_mse"] > 0


def test_held_out_prediction_compiled_ahead_equals_predict_on_the_trained_params():
    """The held-out test compiles its prediction from a fresh state's shapes while the retrain
    compiles: called with the trained params it gives network.predict's floats, bit for bit."""
    import jax.numpy as jnp

    from hbjax.lstm.backend import _prediction_program
    from hbjax.lstm.engine import encode_hparams
    from hbjax.lstm.network import ACTIVATIONS, Traced

    for config in (cfg(hidden=5, layers=2, activation="sigmoid"), cfg(hidden=8, layers=1, optimizer="rmsprop")):
        eng = engine(activations=("tanh", "sigmoid"))
        x = np.asarray(np.random.default_rng(3).normal(size=(13, 5, F)), dtype=np.float32)
        predict = _prediction_program(eng, config, 7, x)
        eng.train([7], [config], 2.0, [0.0])
        params = {name: jnp.asarray(a[0]) for name, a in eng.states[7][0].items()}
        hp = Traced(*(jnp.asarray(v) for v in encode_hparams(config)))
        allowed = tuple(sorted(ACTIVATIONS.index(a) for a in ("tanh", "sigmoid")))
        expected = np.asarray(jax.jit(network.predict, static_argnums=3)(params, jnp.asarray(x), hp, allowed))
        np.testing.assert_array_equal(predict(eng.states[7][0]), expected.astype(np.float64))


def test_lstm_space_validation():
    from hbjax.lstm.backend import check_space

    with pytest.raises(ValueError, match="lacks"):
        check_space(hb.Space(lr=hb.LogUniform(1e-3, 1e-1)))
    with pytest.raises(ValueError, match="momentum"):
        check_space(
            hb.Space(
                lr=hb.LogUniform(1e-3, 1e-1),
                hidden=hb.IntChoice([8]),
                layers=hb.IntChoice([1]),
                batch_size=hb.IntChoice([8]),
                momentum=hb.Uniform(0, 1),
            )
        )


def _small_run(waves=None, **backend_kw):
    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(synthetic_ohlcv(seed=1)), train_size=150, val_size=40, test_size=40, ma_window=5)
    space = hb.Space(
        lr=hb.LogUniform(1e-3, 2e-1),
        hidden=hb.IntChoice([4, 8]),
        layers=hb.IntChoice([1, 2]),
        batch_size=hb.IntChoice([16]),
        dropout=hb.Uniform(0.0, 0.5),
        activation=hb.Choice(["tanh", "relu", "sigmoid"]),
        optimizer=hb.Choice(["adam", "rmsprop", "sgd"]),
    )
    backend = LSTMBackend(task, seed=3, window=5, **backend_kw)
    frame = hb.Hyperband(space, max_resource=9, eta=3, seed=3, waves=waves).run(backend).to_frame()
    return frame.drop(columns=[c for c in frame.columns if "second" in c])


def test_a_whole_run_is_bit_identical_for_any_width_and_twice():
    """The issue's check at test scale: a whole Hyperband run (17 configs, 3 activations, 3
    optimizers, R=9) gives the same trials, bit for bit, for configs per program 1 and 8 and twice."""
    one = _small_run(configs_per_program=1)
    eight = _small_run(configs_per_program=8)
    again = _small_run(configs_per_program=1)
    assert len(one) == 9 + 3 + 1 + 5 + 1 + 3  # every rung's rows
    pd.testing.assert_frame_equal(one, eight, check_exact=True)
    pd.testing.assert_frame_equal(one, again, check_exact=True)
