"""What a user gives a FlaxBackend is checked once, after conversion, and every mistake is one
error naming the cause and the fix: data (NaN, object frames, targets of another shape, bool
labels), traced values that are not numbers, a train flag that never reaches the module (linen
names, nnx natively, the nnx bridge), optimizer states holding typed PRNG keys."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from flax import nnx
from test_flax_backend import _data, _xent

import hbjax as hb
from hbjax.usermodel.backend import FlaxBackend

SPACE = hb.Space(
    width=hb.IntChoice([8]), lr=hb.LogUniform(1e-3, 1e-1), dropout=hb.Uniform(0.1, 0.5), batch_size=hb.IntChoice([16])
)


def _mse(p, y):
    return jnp.mean((p - y) ** 2)


class Reg(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.tanh(nn.Dense(8)(x)))[..., 0]


def _regression(n=96, n_val=48):
    x, _, xv, _ = _data(n, n_val)
    return x, x[:, 0] - x[:, 1], xv, xv[:, 0] - xv[:, 1]


def make(data, model=lambda c: Reg(), loss=_mse, **kw):
    return FlaxBackend(
        model=model,
        optimizer=lambda c: optax.inject_hyperparams(optax.adam)(learning_rate=c["lr"]),
        loss=loss,
        data=data,
        compilation_cache=False,
        **kw,
    )


# --- data ---------------------------------------------------------------------------------------
def test_validation_targets_of_another_shape_are_refused():
    x, y, xv, yv = _regression()
    with pytest.raises(ValueError, match=r"y_val rows are shaped \[1\] but y_train rows \[\].*y.ravel\(\)"):
        make((x, y, xv, pd.DataFrame({"y": yv})[["y"]]))


def test_nan_and_overflow_are_named_by_array_and_row():
    x, y, xv, yv = _regression()
    y = y.astype(np.float64)
    y[[5, 9]] = np.nan
    with pytest.raises(ValueError, match=r"y_train \(float64\[96\]\) holds NaN in 2 row\(s\), the first at row 5"):
        make((x, y, xv, yv))
    big = xv.astype(np.float64)
    big[7, 2] = 1e300  # finite in float64, infinite once the programs' float32
    with pytest.raises(ValueError, match=r"x_val .* holds infinite values \(beyond float32's range\).* at row 7"):
        make((x, _regression()[1], big, yv))


def test_an_object_frame_is_converted_then_checked():
    x, y, xv, yv = _regression()
    frame = pd.DataFrame(x[:, :3], columns=["a", "b", "c"], index=np.arange(100, 196))
    frame["city"] = np.where(x[:, 3] > 0, "delhi", "pune")
    frame.loc[112, "a"] = np.nan
    dummies = pd.get_dummies(frame, columns=["city"])  # float and bool columns: an object array
    val = pd.get_dummies(
        pd.DataFrame(xv[:, :3], columns=["a", "b", "c"]).assign(city=np.where(xv[:, 3] > 0, "delhi", "pune")),
        columns=["city"],
    )
    with pytest.raises(
        ValueError,
        match=r"x_train \(DataFrame\(float32, bool\)\[96, 5\]\) holds NaN .* row 12 "
        r"\(index 112\)",
    ):
        make((dummies, y, val, yv))
    with pytest.raises(ValueError, match=r"x_train .* not numbers \(columns \['city'\]\)"):
        make((frame.fillna(0.0), y, val, yv))
    b = make((dummies.fillna(0.0), pd.Series(y), val, pd.Series(yv)))  # converted, then it trains
    b.prepare(SPACE)
    assert np.isfinite(b.engine.train([0], SPACE.sample_configs(np.random.default_rng(0), 1), 1.0, [0.0])[0]).all()


def test_targets_are_named_with_the_dtype_the_user_gave():
    x, y, xv, yv = _data()
    with pytest.raises(ValueError, match=r"does not fit training targets bool\[16\]"):
        FlaxBackend(
            model=lambda c: nn.Dense(3),
            optimizer=lambda c: optax.sgd(0.1),
            loss=_xent,
            data=(x, y > 0, xv, yv > 0),
            compilation_cache=False,
        ).prepare(SPACE)


def test_jax_arrays_and_lists_are_data_too():
    x, y, xv, yv = _regression()
    b = make((jnp.asarray(x), list(y), xv.tolist(), jnp.asarray(yv)))
    b.prepare(SPACE)


# --- traced values and the train flag -------------------------------------------------------------
def test_a_string_in_traced_is_refused_before_anything_trains():
    space = hb.Space(act=hb.Choice(["relu", "tanh"]), lr=hb.LogUniform(1e-3, 1e-1), batch_size=hb.IntChoice([16]))

    class Act(nn.Module):
        @nn.compact
        def __call__(self, x, hparams=None):
            return nn.Dense(1)(x)[..., 0]

    with pytest.raises(ValueError, match=r"traced hyperparameter 'act' is 'relu' \(str\).*leave 'act' out"):
        make(_regression(), model=lambda c: Act(), traced=("act",)).prepare(space)


def _dropping(flag: str, negated: bool):
    """A module whose traced dropout runs only when its flag (named ``flag``) says training."""

    def call(self, x, hparams=None, **kw):
        training = kw.get(flag, not negated) != negated
        x = nn.tanh(nn.Dense(8)(x))
        x = hb.nn.Dropout(rate=hparams["dropout"], deterministic=not training)(x)
        return nn.Dense(1)(x)[..., 0]

    ns = {"nn": nn, "hb": hb, "call": call}
    default = "True" if negated else "False"
    exec(
        f"class M(nn.Module):\n    @nn.compact\n    def __call__(self, x, {flag}: bool = {default}, hparams=None):\n"
        f"        return call(self, x, hparams, **{{'{flag}': {flag}}})\n",
        ns,
    )
    return ns["M"]


@pytest.mark.parametrize(
    "flag, negated",
    [("train", False), ("training", False), ("is_training", False), ("deterministic", True), ("inference", True)],
)
def test_a_linen_train_flag_is_found_by_name(flag, negated):
    module = _dropping(flag, negated)
    b = make(_regression(), model=lambda c: module(), traced=("dropout",))
    b.prepare(SPACE)  # the training loss reads the dropout rate: the flag reached the module
    assert b.model.proof(SPACE.sample_configs(np.random.default_rng(0), 1)[0]).reads == {"dropout"}


@pytest.mark.parametrize("flag, negated", [("use_dropout", False), ("frozen", True)])
def test_an_unknown_flag_is_an_error_until_named(flag, negated):
    module = _dropping(flag, negated)
    with pytest.raises(ValueError, match=r"\['dropout'\] are never read by the training loss.*train_flag="):
        make(_regression(), model=lambda c: module(), traced=("dropout",)).prepare(SPACE)
    named = f"not {flag}" if negated else flag
    make(_regression(), model=lambda c: module(), traced=("dropout",), train_flag=named).prepare(SPACE)
    with pytest.raises(ValueError, match="takes no 'nope'"):
        make(_regression(), model=lambda c: module(), traced=("dropout",), train_flag="nope").prepare(SPACE)


class NnxNet(nnx.Module):
    """An nnx module with nnx's own dropout, and a traced-rate dropout under its train flag."""

    def __init__(self, width, rngs):
        self.hidden, self.out = nnx.Linear(5, width, rngs=rngs), nnx.Linear(width, 1, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)

    def __call__(self, x, train: bool = False, hparams=None):
        h = self.drop(nnx.tanh(self.hidden(x)))
        if train:
            keep = jax.random.bernoulli(self.drop.rngs(), 1.0 - hparams["dropout"], h.shape)
            h = jnp.where(keep, h / (1.0 - hparams["dropout"]), 0.0)
        return self.out(h)[..., 0]


def test_an_nnx_module_trains_natively_with_its_dropout():
    b = make(_regression(), model=lambda c: NnxNet(c["width"], nnx.Rngs(0)), traced=("dropout",))
    b.prepare(SPACE)
    config = SPACE.sample_configs(np.random.default_rng(0), 1)[0]
    proof = b.model.proof(config)
    assert proof.kind == "nnx" and proof.reads == {"dropout"}
    step_key = proof.jaxprs.loss_and_grad.arg_leaves(4)
    from hbjax.usermodel.sharing import live_inputs

    assert all(live_inputs(proof.jaxprs.loss_and_grad)[i] for i in step_key)  # dropout draws the step's key
    params = b.model._forward(config).params
    hp = {"dropout": jnp.float32(0.2)}
    _x, _y, xv, yv = _regression()
    v = proof.jaxprs.validation(params, xv, yv, hp)  # eval mode: no dropout, the module's own forward
    module = NnxNet(8, nnx.Rngs(0))
    module.eval()
    assert float(v) == float(_mse(module(xv), yv))
    result = hb.Hyperband(SPACE, max_resource=3, eta=3, seed=0).run(b)
    assert np.isfinite(result.best_loss)


def test_an_nnx_module_through_the_bridge_gets_its_train_flag():
    class Bridged(nnx.Module):
        def __init__(self, rngs):
            self.hidden, self.out = nnx.Linear(5, 8, rngs=rngs), nnx.Linear(8, 1, rngs=rngs)

        def __call__(self, x, train: bool = False, hparams=None):
            h = nnx.tanh(self.hidden(x))
            return self.out(h * jnp.where(train, 1.0 - hparams["dropout"], 1.0))[..., 0]

    b = make(_regression(), model=lambda c: nnx.bridge.to_linen(Bridged), traced=("dropout",))
    b.prepare(SPACE)
    assert b.model.proof(SPACE.sample_configs(np.random.default_rng(0), 1)[0]).reads == {"dropout"}


def test_an_optimizer_state_with_a_typed_key_trains_and_resumes_equal():
    b = FlaxBackend(
        model=lambda c: Reg(),
        loss=_mse,
        data=_regression(),
        compilation_cache=False,
        optimizer=lambda c: optax.chain(
            optax.add_noise(0.01, 0.55, key=1), optax.inject_hyperparams(optax.adam)(learning_rate=c["lr"])
        ),
    )
    b.prepare(SPACE)
    configs = SPACE.sample_configs(np.random.default_rng(1), 2)
    once = b.engine.train([0, 1], configs, 2.0, [0.0, 0.0])[0]
    key_data = [a for a in jax.tree.leaves(b.engine.states[0][1]) if a.dtype == np.uint32]
    assert key_data and key_data[0].shape[-1] == 2  # the key's data on the host
    b2 = FlaxBackend(
        model=lambda c: Reg(), loss=_mse, data=_regression(), compilation_cache=False, optimizer=b.model.optimizer_fn
    )
    b2.prepare(SPACE)
    b2.engine.train([0, 1], configs, 1.0, [0.0, 0.0])
    np.testing.assert_array_equal(b2.engine.train([0, 1], configs, 2.0, [1.0, 1.0])[0], once)
