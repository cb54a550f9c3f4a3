"""The accelerator plan (``wide``: configs vmapped side by side) proven on the CPU: no config is
computed twice, empty slots and padding stay exact, memory is measured and bounded, whole runs
agree bit for bit at every width (``-m slow``). (Widths of two rungs bit for bit, divergence and
continuation under ``wide``: tests/lstm/test_lstm_engine.py; kill + resume under ``wide``:
tests/runs/test_checkpoint.py.)"""

import jax
import numpy as np
import pandas as pd
import pytest
from test_lstm_engine import _small_run, cfg, engine

from hbjax.engine.client import Sizes
from hbjax.engine.cost import COST_MODELS, CostModel, step_seconds
from hbjax.engine.plan import Call
from hbjax.lstm import network
from hbjax.lstm.engine import encode_hparams
from hbjax.lstm.padding import bytes_per_config
from hbjax.lstm.program import layers_of, lstm_program, lstm_shape, plan_shapes

SIZES = Sizes(folds=5, train=2980, val=500, features=6)


@pytest.mark.slow  # widths of the wide plan stay bit-identical in the fast test_plans_and_widths_never_change_a_bit
def test_a_whole_wide_run_is_bit_identical_for_any_width():
    """A whole Hyperband run (17 configs, hidden 4/8, depth 1/2, 3 activations and optimizers)
    under the accelerator plan at most 1, 2 or 8 configs per call (lone configs at width 1, empty
    slots, mixed depths): the same trials, bit for bit."""
    runs = {w: _small_run(configs_per_program=w, plan="wide", waves=False) for w in (1, 2, 8)}
    assert len(runs[1]) == 9 + 3 + 1 + 5 + 1 + 3
    for w in (2, 8):
        pd.testing.assert_frame_equal(runs[w], runs[1], check_exact=True)
    # and it agrees with the one-after-another plan to float rounding
    auto = _small_run(configs_per_program=None, plan="auto")
    np.testing.assert_allclose(runs[1]["loss"], auto["loss"], rtol=2e-4, atol=1e-6)
    # in waves, where calls hold configs of several rungs, each over its own steps: the same bits
    waved = _small_run(configs_per_program=8, plan="wide", waves=True)
    pd.testing.assert_frame_equal(waved, runs[1], check_exact=True)


def test_padded_weights_and_moments_stay_zero_side_by_side():
    """Two configs (hidden 8 depth 1, hidden 16 depth 2) and an empty slot in one vmapped call of
    a program padded to 16 units and depth 2: outside each config's real block every weight and
    both moments are exactly 0 after training; the empty slot stays all zeros."""
    eng = engine(plan="wide")
    configs = [cfg(activation="sigmoid", optimizer="rmsprop", dropout=0.3), cfg(hidden=16, layers=2)]
    program = lstm_program(16, 2, 16, 5, "vmap", 4)
    out = eng.launch(
        Call(program, ((0, 1),), 0, (0.0,), bound=2),
        eng.compile_program(program),
        [0, 1],
        configs,
        [encode_hparams(c) for c in configs],
        eng.step_ranges(configs, 4.0, [0.0, 0.0]),
    )
    params, (m, v), val_mse, _ = jax.tree.map(np.asarray, out)
    assert np.all(np.isfinite(val_mse[:2]))
    for tree in (params, m, v):
        for slot, c in enumerate(configs):
            one = {k: a[slot] for k, a in tree.items()}
            inside = network.resize_params(network.resize_params(one, c["hidden"], c["layers"]), 16, 2)
            for name in one:
                assert np.all(one[name] == inside[name]), (slot, name)
    for slot in (2, 3):  # empty slots: zero weights that never move (their outputs are discarded)
        assert all(np.all(a[slot] == 0) for a in params.values())
        assert all(np.all(np.isfinite(a[slot])) for tree in (m, v) for a in tree.values())
    assert np.abs(params["rec0"][0]).sum() > 0 and np.abs(m["in"][1]).sum() > 0  # real blocks trained


def test_no_config_is_computed_twice_and_a_lone_config_runs_alone():
    shapes = [lstm_shape(64, 2, 32, 20)] * 5 + [lstm_shape(256, 3, 32, 20)]
    plan = plan_shapes(
        shapes,
        [0] * 6,
        [93] * 6,
        device_kind="gpu",
        n_devices=1,
        mode="wide",
        max_layers=5,
        memory_bytes=56 << 30,
        sizes=SIZES,
    )
    positions = [p for c in plan.calls for p in c.positions]
    assert sorted(positions) == list(range(6))
    lone = plan_shapes(
        [lstm_shape(256, 5, 256, 20)],
        [0],
        [11],
        device_kind="gpu",
        n_devices=1,
        mode="wide",
        memory_bytes=56 << 30,
        sizes=SIZES,
    )
    assert [c.program.width for c in lone.calls] == [1] and lone.calls[0].empty_slots == 0


def test_a_vmapped_call_runs_to_its_deepest_config_and_is_charged_for_it():
    shapes = [lstm_shape(64, 1, 32, 20)] * 4 + [lstm_shape(64, 4, 32, 20)] * 4
    plan = plan_shapes(
        shapes,
        [0] * 8,
        [93] * 8,
        device_kind="gpu",
        n_devices=1,
        mode="wide",
        max_layers=5,
        memory_bytes=56 << 30,
        width=4,
        sizes=SIZES,
    )
    assert sorted(c.bound for c in plan.calls) == [1, 4]  # deepest first: depths are not mixed
    assert {layers_of(c.program) for c in plan.calls} == {5}  # one program: depth is traced
    shallow = next(c for c in plan.calls if c.bound == 1)
    assert shallow.computed_flops == pytest.approx(shallow.real_flops)


def test_cost_model_charges_filler_and_padding():
    gpu = COST_MODELS["gpu"]
    tiny = dict(batching="vmap", serial_steps=20)
    # latency-bound: more slots cost nothing until their FLOPs pass the floor
    assert step_seconds(gpu, width=8, slot_flops=1e3, **tiny) == step_seconds(gpu, width=1, slot_flops=1e3, **tiny)
    big = 1e11
    assert step_seconds(gpu, width=8, slot_flops=big, **tiny) == pytest.approx(
        8 * step_seconds(gpu, width=1, slot_flops=big, **tiny)
    )
    cpu = COST_MODELS["cpu"]
    assert step_seconds(cpu, width=4, slot_flops=1e3, **tiny) == pytest.approx(
        4 * step_seconds(cpu, width=1, slot_flops=1e3, **tiny)
    )
    # a FLOP-bound device splits 3 big configs into 2 + 1 rather than computing an empty 4th slot
    flop_bound = CostModel(flops_per_s=1e12, seconds_per_step=1e-5, compile_s=0.1, vmap_parallel=True)
    shapes = [lstm_shape(256, 5, 256, 20)] * 3
    split = plan_shapes(
        shapes,
        [0] * 3,
        [11] * 3,
        device_kind="gpu",
        n_devices=1,
        mode="wide",
        memory_bytes=56 << 30,
        cost=flop_bound,
        sizes=SIZES,
    )
    assert sorted(c.program.width for c in split.calls) == [1, 2]
    # a latency-bound one runs them as one call of 4 with an empty slot
    latency_bound = CostModel(flops_per_s=1e16, seconds_per_step=1e-3, compile_s=0.1, vmap_parallel=True)
    filled = plan_shapes(
        shapes,
        [0] * 3,
        [11] * 3,
        device_kind="gpu",
        n_devices=1,
        mode="wide",
        memory_bytes=56 << 30,
        cost=latency_bound,
        sizes=SIZES,
    )
    assert [c.program.width for c in filled.calls] == [4] and filled.calls[0].empty_slots == 1


def test_memory_estimate_is_within_1_5x_of_xla_analysis():
    """bytes_per_config against compiled.memory_analysis() on a grid of shapes and both batchings."""
    eng = engine(plan="wide")
    k, n_train, n_val, f = 2, 96, 16, 3
    for program in (
        lstm_program(8, 1, 16, 5, "vmap", 1),
        lstm_program(32, 2, 16, 3, "map", 2),
        lstm_program(64, 1, 32, 5, "vmap", 2),
    ):
        eng.compile_program(program)
        memory = eng.program_memory[program]
        assert memory["analysed"] > 0
        ratio = memory["estimated"] / memory["analysed"]
        assert 1 / 1.5 <= ratio <= 1.5, (program.describe(), memory)
    assert bytes_per_config(64, 2, 32, 5, f, k, n_train, n_val) > bytes_per_config(64, 1, 32, 5, f, k, n_train, n_val)


def test_a_rung_over_a_small_memory_budget_completes_within_it(monkeypatch):
    """A budget that one call of 8 exceeds: planned within it by the estimate, calls in flight
    never exceed it, and the losses equal those of a roomy engine. Then with the estimate made
    useless (1 byte a config), XLA's own figures split the calls and cap the bucket."""
    from hbjax.lstm.program import LSTMModel

    configs = [cfg(hidden=16, layers=2, lr=10.0 ** -(1 + i / 4)) for i in range(8)]
    roomy = engine(plan="wide", width=8)
    val_roomy, _ = roomy.train(list(range(8)), configs, 1.0, [0.0] * 8)
    program = lstm_program(16, 2, 16, 5, "vmap", 8)
    assert [c.program for c in roomy.plan_rung(configs, 1.0, [0.0] * 8).calls] == [program]
    budget = int(2.5 * roomy.program_memory[program]["analysed"] / 8)
    for estimate in ("honest", "useless"):
        if estimate == "useless":
            monkeypatch.setattr(LSTMModel, "bytes_per_config", lambda *a, **k: 1)
        tight = engine(plan="wide", width=8, memory_limit_bytes=budget)
        val_tight, _ = tight.train(list(range(8)), configs, 1.0, [0.0] * 8)
        np.testing.assert_array_equal(val_tight, val_roomy)
        stats = tight.rung_stats[0]
        assert 0 < stats["peak_in_flight_bytes"] <= budget, estimate
        if estimate == "useless":
            assert stats["memory_splits"] >= 2 and max(tight.width_caps.values()) <= 2


def test_the_engine_refuses_a_prng_it_cannot_pad_and_names_bad_precisions():
    jax.config.update("jax_threefry_partitionable", False)
    try:
        with pytest.raises(RuntimeError, match="jax_threefry_partitionable"):
            engine(plan="wide")
    finally:
        jax.config.update("jax_threefry_partitionable", True)
    with pytest.raises(ValueError, match="precision must be one of"):
        engine(plan="wide", precision="tf32")
    assert engine(plan="wide", precision="default").precision == "default"
