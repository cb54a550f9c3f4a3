"""The rung plan is pure: buckets, cost model, devices, widths (no training, no compiles)."""

import numpy as np
import pytest

import hbjax as hb
from hbjax import scheduler as sched
from hbjax.brackets import continued_budget
from hbjax.engine.client import Sizes
from hbjax.engine.cost import COST_MODELS, CostModel
from hbjax.lstm.backend import _choices, default_space
from hbjax.lstm.padding import hidden_buckets, padded_hidden_map
from hbjax.lstm.program import LSTMModel, layers_of, lstm_shape, plan_shapes, units_of

SIZES = Sizes(folds=5, train=2980, val=500, features=6)


def plan(shapes, *, steps=93, kind="cpu", devices=2, mode="auto", memory=2 << 30, **kw):
    return plan_shapes(
        shapes,
        [0] * len(shapes),
        [steps] * len(shapes),
        sizes=SIZES,
        device_kind=kind,
        n_devices=devices,
        mode=mode,
        memory_bytes=memory,
        **kw,
    )


def first_rung(max_resource=81, seed=0):
    search = hb.Hyperband(default_space(), max_resource=max_resource, eta=3, seed=seed)
    job, _ = sched.ask(search.initial_state())
    return [LSTMModel(None).shape(c) for c in job.configs], search


def space_map(mode, kind, search):
    space = search.space
    return padded_hidden_map(
        mode,
        kind,
        hiddens=_choices(space.dims["hidden"]),
        batch_sizes=_choices(space.dims["batch_size"]),
        layers=_choices(space.dims["layers"]),
        config_epochs=continued_budget(search.plan),
        sizes={20: (5, 2980, 6)},
        first_rung_configs=max(b.n for b in search.plan),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accelerator_plan_runs_a_first_rung_of_81_as_few_programs_without_duplicates(seed):
    shapes, search = first_rung(seed=seed)
    assert len(shapes) == 81 and len(set(shapes)) > 40  # nearly every config its own shape
    wide = plan(
        shapes,
        kind="gpu",
        devices=1,
        mode="auto",
        max_layers=5,
        memory=56 << 30,
        padded_hidden=space_map("wide", "gpu", search),
    )
    exact = plan(shapes, mode="exact")
    assert len(exact.programs) == len(set(shapes))
    assert len(wide.programs) <= 12 < len(exact.programs)  # counted with their widths
    assert {p.batching for p in wide.programs} == {"vmap"}
    positions = [p for c in wide.calls for p in c.positions]
    assert sorted(positions) == list(range(81))  # every config once: none computed twice
    assert wide.real_flops == pytest.approx(exact.real_flops)
    assert wide.computed_flops >= wide.real_flops


def test_cpu_auto_plan_pads_depth_and_buckets_hidden_by_the_cost_model():
    shapes, search = first_rung()
    padded = space_map("auto", "cpu", search)
    auto = plan(shapes, max_layers=5, padded_hidden=padded)
    assert {p.batching for p in auto.programs} == {"map"}
    assert {layers_of(p) for p in auto.programs} == {5}  # depth is free on CPU: every program pads to 5
    assert len(auto.programs) < len(plan(shapes, mode="exact").programs) / 2
    assert all(padded[(units_of(s), s.batch_size, 20)] >= units_of(s) for s in shapes)


def test_hidden_buckets_trade_compiles_against_flops():
    kw = dict(batch=32, window=20, layers=2, n_features=6, n_folds=1, n_train=2980)
    cpu = COST_MODELS["cpu"]
    little = hidden_buckets([16, 32, 64, 128, 256], epochs_per_config=0.01, cost=cpu, **kw)
    assert set(little.values()) == {256}  # almost no training: one compile for all
    lots = hidden_buckets([16, 32, 64, 128, 256], epochs_per_config=1000, cost=cpu, **kw)
    assert lots == {h: h for h in (16, 32, 64, 128, 256)}  # lots of training: pad nothing
    free = hidden_buckets([16, 32, 64], epochs_per_config=1, cost=CostModel(1e10, 1e-3, 0.0, False), **kw)
    assert free == {16: 16, 32: 32, 64: 64}  # compiles cost nothing: never pad
    mid = hidden_buckets([16, 32, 64, 128, 256], epochs_per_config=5, cost=cpu, **kw)
    assert all(mid[h] >= h for h in mid) and mid[256] == 256 and mid[16] > 16


def test_configs_spread_over_devices_longest_first_without_padding():
    shapes = [lstm_shape(256, 3, 32, 20)] + [lstm_shape(16, 1, 32, 20)] * 4
    p = plan(shapes, mode="exact", devices=2)
    big_device = next(d for c in p.calls for d, slots in enumerate(c.slots) if 0 in slots)
    others = [d for c in p.calls for d, slots in enumerate(c.slots) for pos in slots if pos != 0]
    assert big_device not in others  # the long config has a device to itself
    assert all(c.program.width == 1 for c in p.calls)
    lone = plan([lstm_shape(64, 1, 32, 20)], mode="exact", devices=4)
    assert len(lone.calls) == 1 and sum(len(s) for s in lone.calls[0].slots) == 1  # no copies on idle devices


def test_memory_caps_the_width_of_a_vmapped_call():
    shapes = [lstm_shape(256, 5, 256, 20)] * 64
    roomy = plan(shapes, kind="gpu", devices=1, mode="wide", memory=64 << 30)
    tight = plan(shapes, kind="gpu", devices=1, mode="wide", memory=4 << 30)
    assert len(roomy.calls) < len(tight.calls)
    assert max(c.program.width for c in tight.calls) < max(c.program.width for c in roomy.calls)


def test_plan_is_a_pure_function():
    shapes, search = first_rung(seed=4)
    padded = space_map("auto", "cpu", search)
    a = plan(shapes, max_layers=5, padded_hidden=padded)
    b = plan(list(shapes), max_layers=5, padded_hidden=dict(padded))
    assert a == b
    assert np.isclose(sum(a.device_seconds()), sum(c for call in a.calls for c in call.seconds))


def test_bad_plan_name():
    with pytest.raises(ValueError, match="plan must be one of"):
        plan([lstm_shape(8, 1, 16, 5)], mode="fast")
