"""The vectorised engine: batched == alone, continuation == uninterrupted, compiles, divergence."""
import time

import jax
import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax.lstm.engine import FoldArrays, LSTMEngine, steps_for
from hbjax.lstm.grouping import ShapeKey, chunk, group_by_shape

K, N_TRAIN, N_VAL, F = 2, 96, 16, 3


def _arrays(window: int) -> FoldArrays:
    rng = np.random.default_rng(window)
    x = rng.normal(size=(K, N_TRAIN, window, F)).astype(np.float32)
    xv = rng.normal(size=(K, N_VAL, window, F)).astype(np.float32)
    # a learnable target: the mean of the last step's features
    return FoldArrays(x, x[:, :, -1, :].mean(-1), xv, xv[:, :, -1, :].mean(-1))


_DATA = {w: _arrays(w) for w in (3, 5)}


def engine(width, seed=0, **kw):
    return LSTMEngine(lambda w: _DATA[w], seed=seed, configs_per_program=width, default_window=5, **kw)


def cfg(lr=1e-2, hidden=8, layers=1, batch_size=16, dropout=0.2, activation="tanh", optimizer="adam", **extra):
    return dict(lr=lr, hidden=hidden, layers=layers, batch_size=batch_size, dropout=dropout,
                activation=activation, optimizer=optimizer, **extra)


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


def _params_of(eng, cid):
    return jax.tree.leaves(eng.states[cid][0])


def test_batched_equals_alone_on_a_mixed_shape_rung():
    batched = engine(width=8)
    val_b, tr_b = batched.train(IDS, MIXED, 1.5, [0.0] * len(IDS))
    assert len(group_by_shape(MIXED, 5)) == 3
    for cid, config in zip(IDS, MIXED):
        alone = engine(width=1)
        val_a, tr_a = alone.train([cid], [config], 1.5, [0.0])
        np.testing.assert_allclose(val_b[cid], val_a[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tr_b[cid], tr_a[0], rtol=1e-5, atol=1e-6)
        for a, b in zip(_params_of(batched, cid), _params_of(alone, cid)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(val_b))


def test_width_choice_never_changes_results():
    results = []
    for width in (1, 2, 3, 8, lambda key, n: 1 if key.hidden > 8 else 4):
        val, _ = engine(width=width).train(IDS, MIXED, 1.0, [0.0] * len(IDS))
        results.append(val)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-5, atol=1e-6)


def test_continuation_equals_training_in_one_go():
    configs, ids = MIXED[:3], IDS[:3]
    stepwise = engine(width=4)
    stepwise.train(ids, configs, 0.4, [0.0] * 3)
    stepwise.train(ids, configs, 1.2, [0.4] * 3)
    val_s, _ = stepwise.train(ids, configs, 3.0, [1.2] * 3)
    once = engine(width=4)
    val_o, _ = once.train(ids, configs, 3.0, [0.0] * 3)
    np.testing.assert_allclose(val_s, val_o, rtol=1e-5, atol=1e-6)
    for cid in ids:
        for a, b in zip(_params_of(stepwise, cid), _params_of(once, cid)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_one_compile_per_shape_and_width_reused_across_rungs():
    eng = engine(width=4)
    same_shape = [cfg(lr=10.0 ** -(1 + i / 4)) for i in range(8)]
    eng.train(list(range(8)), same_shape, 1.0, [0.0] * 8)  # two chunks of 4: one compile
    assert eng.traces == 1
    eng.train([0, 1, 2, 3], same_shape[:4], 2.0, [1.0] * 4)  # continuing survivors: no compile
    eng.train([8, 9, 10, 11], same_shape[:4], 0.5, [0.0] * 4)  # another bracket: no compile
    assert eng.traces == 1
    eng.train([0, 1], same_shape[:2], 3.0, [2.0] * 2)  # width 2: one more compile
    assert eng.traces == 2
    eng.train([12, 13, 14, 15], same_shape[:4], 1.0, [0.0] * 4)  # width 4: compiled already
    assert eng.traces == 2
    eng.train([16, 17, 18], same_shape[:3], 1.0, [0.0] * 3)  # 3 = 2 + 1 on CPU (no idle slot): +1 compile
    assert eng.traces == 3


def test_a_diverging_config_loses_and_does_not_disturb_its_batch():
    bad = cfg(lr=1e4, optimizer="sgd", activation="relu", dropout=0.1)
    configs = [MIXED[0], bad, MIXED[3]]
    val, _ = engine(width=4).train([0, 1, 3], configs, 2.0, [0.0] * 3)
    assert not np.isfinite(val[1])
    alone0, _ = engine(width=1).train([0], [MIXED[0]], 2.0, [0.0])
    alone3, _ = engine(width=1).train([3], [MIXED[3]], 2.0, [0.0])
    np.testing.assert_allclose([val[0], val[2]], [alone0[0], alone3[0]], rtol=1e-5, atol=1e-6)


def test_seed_determines_results():
    a, _ = engine(width=2, seed=3).train(IDS[:2], MIXED[:2], 1.0, [0.0, 0.0])
    b, _ = engine(width=2, seed=3).train(IDS[:2], MIXED[:2], 1.0, [0.0, 0.0])
    c, _ = engine(width=2, seed=4).train(IDS[:2], MIXED[:2], 1.0, [0.0, 0.0])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_wide_init_finishes_quickly():
    eng = engine(width=81)
    t0 = time.perf_counter()
    states = [eng._fresh_state(ShapeKey(16, 2, 32, 5), cid) for cid in range(81)]
    assert len(states) == 81 and time.perf_counter() - t0 < 30
    first = jax.tree.leaves(states[0][0])
    assert all(a.shape[0] == K for a in first)


def test_memory_limit_splits_a_rung():
    eng = engine(width=64, memory_limit_bytes=1)
    assert eng.width_for(ShapeKey(8, 1, 16, 5), 243) == 1
    assert engine(width=64).width_for(ShapeKey(8, 1, 16, 5), 243) == 64


def test_chunking_and_steps():
    assert chunk(list(range(5)), 2) == [([0, 1], 2), ([2, 3], 2), ([4], 1)]
    assert chunk(list(range(5)), 8) == [([0, 1, 2, 3, 4], 8)]
    assert chunk(list(range(7)), 8, pad=False) == [([0, 1, 2, 3], 4), ([4, 5], 2), ([6], 1)]
    assert chunk(list(range(11)), 8, pad=False) == [(list(range(8)), 8), ([8, 9], 2), ([10], 1)]
    with pytest.raises(ValueError, match="configs per program"):
        chunk([1], 0)
    assert steps_for(100 / 81, 46) == 57 and steps_for(0.0, 46) == 0 and steps_for(3.0, 46) == 138


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        engine(width=1).train([0], [cfg(optimizer="adagrad")], 1.0, [0.0])
    with pytest.raises(ValueError, match="dropout"):
        engine(width=1).train([0], [cfg(dropout=1.5)], 1.0, [0.0])


def _synthetic_ohlcv(n=400, seed=0):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({
        "Date": pd.bdate_range("2010-01-01", periods=n).strftime("%Y-%m-%d"),
        "Open": close * (1 + rng.normal(0, 0.002, n)), "High": close * 1.01, "Low": close * 0.99,
        "Close": close, "Volume": rng.integers(1_000, 10_000, n),
    })


def test_lstm_backend_runs_hyperband_end_to_end():
    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(_synthetic_ohlcv()), train_size=150, val_size=40, test_size=40, ma_window=5)
    space = hb.Space(lr=hb.LogUniform(1e-3, 1e-1), hidden=hb.IntChoice([8]), layers=hb.IntChoice([1]),
                     batch_size=hb.IntChoice([16]), dropout=hb.Uniform(0.1, 0.3),
                     optimizer=hb.Choice(["adam", "rmsprop"]))
    backend = LSTMBackend(task, seed=0, window=5, configs_per_program=4)
    backend.validate_space(space)
    result = hb.Hyperband(space, max_resource=3, eta=3, seed=0).run(backend)
    frame = result.to_frame()
    assert len(frame) == 3 + 1 + 2  # s=1: 3 configs then 1 survivor; s=0: 2 configs (n=ceil(2/1*1))
    assert np.isfinite(result.best_loss) and backend.compiles <= 3
    assert backend.engine.states.keys() <= set(frame.config_id)  # pruned configs were released
    report = backend.evaluate_on_test(result.best_config, result.best_resource)
    assert np.isfinite(report["test_mse"]) and report["persistence_test_mse"] > 0


def test_lstm_space_validation():
    from hbjax.lstm.backend import check_space

    with pytest.raises(ValueError, match="lacks"):
        check_space(hb.Space(lr=hb.LogUniform(1e-3, 1e-1)))
    with pytest.raises(ValueError, match="momentum"):
        check_space(hb.Space(lr=hb.LogUniform(1e-3, 1e-1), hidden=hb.IntChoice([8]), layers=hb.IntChoice([1]),
                             batch_size=hb.IntChoice([8]), momentum=hb.Uniform(0, 1)))
