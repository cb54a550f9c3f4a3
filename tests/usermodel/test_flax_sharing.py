"""Sharing a program is proven, never assumed: generated model/optimizer factories, every config
of a shared program against the same config trained alone, bit for bit on CPU ``auto``.

The factories are written as research code is: conditional optimizers, chains and schedules,
modules reading a global dict or a closure the factory fills, a per-config feature map jitted
inside the module, native nnx modules, optimizers whose state only its init sets (a custom scale,
``optax.add_noise``'s typed PRNG key)."""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flax_backend import _data, _xent  # the same small classification task

import hbjax as hb
from hbjax.engine.verify import SharingError
from hbjax.usermodel.backend import FlaxBackend
from hbjax.usermodel.client import FlaxModel

SPACE = hb.Space(
    opt=hb.Choice(["a", "b"]),
    lr=hb.LogUniform(1e-3, 1e-1),
    m=hb.Uniform(0.5, 0.95),
    wd=hb.LogUniform(1e-5, 1e-1),
    clip=hb.LogUniform(1e-2, 10.0),
    scale=hb.Uniform(0.5, 2.0),
    width=hb.IntChoice([4, 8]),
    batch_size=hb.IntChoice([16]),
)


class MLP(nn.Module):
    width: int = 8
    init_scale: float = 1.0  # read by initialisation only
    out_scale: float = 1.0  # read by the forward pass

    @nn.compact
    def __call__(self, x):
        init = nn.initializers.variance_scaling(self.init_scale, "fan_in", "normal")
        x = nn.tanh(nn.Dense(self.width, kernel_init=init)(x))
        return nn.Dense(3)(x) * self.out_scale


GLOBAL = {"scale": 1.0}  # filled by the "global" factory; read by GlobalMLP when traced


class GlobalMLP(nn.Module):
    """Equal modules (no fields) whose forward pass reads state outside them."""

    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.tanh(nn.Dense(8)(x))) * GLOBAL["scale"]


def _global_factory(c):
    GLOBAL["scale"] = c["scale"]
    return GlobalMLP()


def _closure_factory():
    """A module class closing over a dict its factory fills."""
    held = {}

    class ClosureMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(nn.tanh(nn.Dense(8)(x) + held["shift"]))

    def factory(c):
        held["shift"] = c["scale"]
        return ClosureMLP()

    return factory


class FeatureMLP(nn.Module):
    """A fixed per-config feature map, jitted: its matrix is a constant of a nested jaxpr."""

    features: Any

    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.tanh(nn.Dense(8)(self.features(x))))


def _nested_jit_factory(c):
    w = jnp.asarray(np.random.default_rng(0).normal(size=(5, 5)) * c["scale"], jnp.float32)
    return FeatureMLP(features=jax.jit(lambda x: jnp.tanh(x @ w)))


def _nnx_factory(c):
    from flax import nnx

    class NnxMLP(nnx.Module):
        def __init__(self, width, scale, rngs):
            self.hidden, self.out, self.scale = nnx.Linear(5, width, rngs=rngs), nnx.Linear(width, 3, rngs=rngs), scale

        def __call__(self, x):
            return self.out(nnx.tanh(self.hidden(x))) * self.scale

    return NnxMLP(c["width"], c["scale"] if c["opt"] == "b" else 1.0, nnx.Rngs(int(c["width"])))


class ScaleState(NamedTuple):
    s: jax.Array


def scale_from_init(value):
    """A transformation whose coefficient only its init sets (not injected by optax)."""
    return optax.GradientTransformation(
        lambda params: ScaleState(jnp.asarray(value, jnp.float32)),
        lambda g, state, params=None: (jax.tree.map(lambda u: u * state.s, g), state),
    )


BASES = {  # name -> (optax factory, the keyword the config's "m" goes to)
    "adam": (optax.adam, "b1"),
    "sgd": (optax.sgd, "momentum"),
    "rmsprop": (optax.rmsprop, "momentum"),
    "adamw": (optax.adamw, "b1"),
}


def make_optimizer(recipe):
    """An optimizer factory as users write them: a base optimizer, injected for all configs, none,
    or only on one branch of a conditional; optionally a schedule built from lr, a gradient clip
    and decoupled weight decay chained in front (their thresholds baked in)."""

    def optimizer(c):
        branch_a = c["opt"] == "a"
        name = recipe["base"] if branch_a or recipe["inject"] != "branch" else "sgd"
        make, m_key = BASES[name]
        lr = optax.linear_schedule(c["lr"], c["lr"] / 10, 5) if recipe["schedule"] else c["lr"]
        inject = recipe["inject"] == "all" or (recipe["inject"] == "branch" and branch_a)
        core = (optax.inject_hyperparams(make) if inject else make)(learning_rate=lr, **{m_key: c["m"]})
        parts = (
            ([optax.clip_by_global_norm(c["clip"])] if recipe["clip"] else [])
            + ([optax.add_decayed_weights(c["wd"])] if recipe["decay"] else [])
            + ([scale_from_init(c["scale"])] if recipe.get("init_only") else [])
            + ([optax.add_noise(0.01, 0.55, key=int(c["width"]))] if recipe.get("noise") else [])
            + [core]
        )
        return optax.chain(*parts) if len(parts) > 1 else core

    return optimizer


def make_model(kind):
    """A module factory: fixed, shaped by the config, or reading a float only on one branch (in
    the initialisation, or in the forward pass)."""
    return {
        "fixed": lambda c: MLP(),
        "width": lambda c: MLP(c["width"]),
        "init_branch": lambda c: MLP(init_scale=c["scale"] if c["opt"] == "a" else 1.0),
        "forward_branch": lambda c: MLP(out_scale=c["scale"] if c["opt"] == "b" else 1.0),
        "global": _global_factory,
        "closure": _closure_factory(),
        "nested_jit": _nested_jit_factory,
        "nnx": _nnx_factory,
    }[kind]


MODELS = ["fixed", "width", "init_branch", "forward_branch", "global", "closure", "nested_jit", "nnx"]
recipes = st.fixed_dictionaries(
    {
        "base": st.sampled_from(sorted(BASES)),
        "inject": st.sampled_from(["all", "none", "branch"]),
        "schedule": st.booleans(),
        "clip": st.booleans(),
        "decay": st.booleans(),
        "init_only": st.booleans(),
        "noise": st.booleans(),
        "model": st.sampled_from(MODELS),
    }
)


def backend(recipe, **kw):
    return FlaxBackend(
        model=make_model(recipe["model"]),
        optimizer=make_optimizer(recipe),
        loss=_xent,
        data=_data(64, 32),
        compilation_cache=False,
        **kw,
    )


def _configs(seed, n=4):
    """Configs that share what a space draws and differ in a few hyperparameters (so that some of
    them may share programs and some must not)."""
    rng = np.random.default_rng(seed)
    base = SPACE.sample_configs(rng, 1)[0]
    out = []
    for other in SPACE.sample_configs(rng, n):
        keys = rng.choice(sorted(SPACE.dims), size=int(rng.integers(1, 4)), replace=False)
        out.append({**base, **{k: other[k] for k in keys}})
    return out


def _train_and_verify(b, configs):
    """Two rungs (0 -> 2 -> 4 epochs) with every config of a shared program trained again alone."""
    ids = list(range(len(configs)))
    check = b.sharing_check
    for prev, res in ((0.0, 2.0), (2.0, 4.0)):
        check.pick(ids, configs, [res] * len(ids), [prev] * len(ids))
        val, _ = b.engine.train(ids, configs, res, [prev] * len(ids))
        check.check(ids, val)
    return check.checked


def _check_generated(recipe, seed):
    configs = _configs(seed)
    b = backend(recipe, verify=len(configs))
    b.prepare(SPACE)
    checked = _train_and_verify(b, configs)  # raises SharingError on any difference
    groups = {}
    for cid, c in enumerate(configs):
        groups.setdefault(b.engine.shape(c), set()).add(cid)
    shared = {
        cid
        for members in groups.values()
        if len({repr(sorted(configs[i].items())) for i in members}) > 1
        for cid in members
    }
    assert {row["config_id"] for row in checked} == shared  # every config of a shared program was checked
    assert all(row["max_relative_difference"] == 0.0 for row in checked)


@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(recipe=recipes, seed=st.integers(0, 2**16))
def test_generated_factories_every_shared_config_equals_it_alone(recipe, seed):
    _check_generated(recipe, seed)


@pytest.mark.parametrize("kind", ["global", "closure", "nested_jit", "nnx"])
def test_state_outside_the_module_is_what_the_program_runs(kind):
    """Configs differing only in a value the module reads from outside its fields (a global, a
    closure, a nested jit's constant; an nnx attribute) train apart, each equal to itself alone;
    configs differing in an injected lr and an init-only state (a custom scale, add_noise's key)
    share, each equal to itself alone too."""
    recipe = dict(
        base="adam",
        inject="all",
        schedule=False,
        clip=False,
        decay=False,
        init_only=kind != "nnx",
        noise=True,
        model=kind,
    )
    base = dict(SPACE.sample_configs(np.random.default_rng(4), 1)[0], opt="b", width=8)
    configs = [dict(base, scale=s, lr=lr) for s in (0.7, 1.3) for lr in (0.01, 0.02)]
    b = backend(recipe, verify=len(configs))
    b.prepare(SPACE)
    checked = _train_and_verify(b, configs)
    assert len({b.engine.shape(c) for c in configs}) == 2  # one program per scale, lr injected
    assert len(checked) == 2 * len(configs) and all(r["max_relative_difference"] == 0.0 for r in checked)
    losses = {round(r["shared_val"], 7) for r in checked if r["resource"] == 4.0}
    assert len(losses) == len(configs)  # every config trained with its own values


def test_the_fingerprint_sees_a_nested_jits_constants():
    from hbjax.usermodel.sharing import fingerprint, trace

    x = jax.ShapeDtypeStruct((3, 5), np.float32)
    fns = [_nested_jit_factory({"scale": s}).features for s in (1.0, 2.0, 1.0)]
    ids = [fingerprint(trace(f, x)) for f in fns]
    assert ids[0] != ids[1] and ids[0] == ids[2]


def test_a_callback_is_never_shared():
    from hbjax.usermodel.sharing import fingerprint, trace

    def f(x):
        return jax.pure_callback(lambda a: np.asarray(a) * 2, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

    x = jax.ShapeDtypeStruct((3,), np.float32)
    assert fingerprint(trace(f, x)) != fingerprint(trace(f, x))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe=recipes, seed=st.integers(0, 2**16))
def test_generated_factories_many(recipe, seed):
    _check_generated(recipe, seed)


def test_what_the_proof_shares_and_keeps_apart():
    """The issue's case: adam configs inject lr (shared), sgd configs bake lr and momentum in
    (one program each), whichever config is seen first."""
    recipe = dict(base="adam", inject="branch", schedule=False, clip=False, decay=False, model="fixed")
    for first in ("a", "b"):
        b = backend(recipe)
        b.prepare(SPACE)
        base = dict(SPACE.sample_configs(np.random.default_rng(0), 1)[0], opt=first)
        other = "b" if first == "a" else "a"
        shapes = {
            (opt, lr): b.engine.shape(dict(base, opt=opt, lr=lr, m=0.9))
            for opt in (first, other)
            for lr in (0.01, 0.02)
        }
        assert shapes[("a", 0.01)] == shapes[("a", 0.02)]  # injected: each config's lr in its own state
        assert shapes[("b", 0.01)] != shapes[("b", 0.02)]  # optax.sgd(0.01) is another function than sgd(0.02)
        assert b.engine.shape(dict(base, opt="a", lr=0.01, m=0.5)) == shapes[("a", 0.01)]  # m injected as b1
        assert b.engine.shape(dict(base, opt="b", lr=0.01, m=0.5)) != shapes[("b", 0.01)]
    # a clip threshold, a module field read only in init or only on one branch: static
    for recipe_change, key, values in (
        (dict(clip=True), "clip", (0.5, 5.0)),
        (dict(model="init_branch"), "scale", (0.7, 1.3)),
        (dict(model="forward_branch", inject="all"), "scale", (0.7, 1.3)),
    ):
        b = backend({**recipe, "inject": "all", **recipe_change})
        b.prepare(SPACE)
        branch = "a" if recipe_change.get("model") == "init_branch" else "b"
        base = dict(SPACE.sample_configs(np.random.default_rng(1), 1)[0], opt=branch)
        a, c = (b.engine.shape(dict(base, **{key: v})) for v in values)
        assert a != c, recipe_change
        if "model" in recipe_change:  # on the other branch the module ignores it: shared
            other = "b" if branch == "a" else "a"
            assert len({b.engine.shape(dict(base, opt=other, **{key: v})) for v in values}) == 1


def test_verify_catches_a_program_shared_on_a_wrong_assumption(monkeypatch):
    """The check itself fails loudly: with sharing decided the old way (one probe config's
    optimizer stands for all), sgd configs of different momentum in one program are caught."""
    recipe = dict(base="adam", inject="branch", schedule=False, clip=False, decay=False, model="fixed")
    proven = FlaxModel.program_id
    monkeypatch.setattr(FlaxModel, "program_id", lambda self, c: "one-program" if self.share else proven(self, c))
    b = backend(recipe, verify=2)
    b.prepare(SPACE)
    base = dict(SPACE.sample_configs(np.random.default_rng(0), 1)[0], opt="b")
    configs = [dict(base, m=0.5), dict(base, m=0.95)]
    with pytest.raises(SharingError, match="not what it gives alone"):
        _train_and_verify(b, configs)


def test_verify_runs_inside_hyperband_and_reports():
    recipe = dict(base="adam", inject="all", schedule=False, clip=False, decay=False, model="width")
    b = backend(recipe, verify=2)
    result = hb.Hyperband(SPACE, max_resource=3, eta=3, seed=0).run(b)
    report = b.sharing()
    assert report["verified"] and all(r["max_relative_difference"] == 0.0 for r in report["verified"])
    assert report["configs"] == result.to_frame().config_id.nunique()
    hp = report["hyperparameters"]
    assert hp["lr"]["traced_in"] >= 1 and "inject_hyperparams" in hp["lr"]["how"]
    assert hp["wd"]["traced_in"] >= 1 and hp["wd"]["how"].startswith("not read")
    assert hp["width"]["traced_in"] == 0
    assert report["compiles"] == b.compiles


def test_shared_program_states_are_each_configs_own():
    """Whichever config a shared program was built from, each config's optimizer state holds its
    own injected values after training."""
    recipe = dict(base="adam", inject="all", schedule=False, clip=False, decay=False, model="fixed")
    b = backend(recipe)
    b.prepare(SPACE)
    base = SPACE.sample_configs(np.random.default_rng(2), 1)[0]
    configs = [dict(base, lr=lr) for lr in (0.003, 0.03, 0.09)]
    b.engine.train([0, 1, 2], configs, 1.0, [0.0] * 3)
    assert len({b.engine.shape(c) for c in configs}) == 1
    for cid, c in enumerate(configs):
        lrs = [
            v
            for p, v in jax.tree_util.tree_flatten_with_path(b.engine.states[cid][1])[0]
            if "learning_rate" in jax.tree_util.keystr(p)
        ]
        assert lrs and all(np.all(np.float32(c["lr"]) == v) for v in lrs)
