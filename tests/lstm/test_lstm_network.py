"""The padded network equals flax's LSTM; padding is exact; the one-program optimizer equals optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbjax.lstm import network, optim
from hbjax.lstm.engine import encode_hparams
from hbjax.lstm.init import init_params
from hbjax.lstm.network import Traced
from hbjax.lstm.reference import LSTMRegressor, to_network_params


def traced(config):
    return Traced(*(jnp.asarray(v) for v in encode_hparams(config)))


def cfg(**kw):
    return {
        "lr": 1e-2,
        "hidden": 5,
        "layers": 2,
        "batch_size": 4,
        "dropout": 0.3,
        "activation": "tanh",
        "optimizer": "adam",
        **kw,
    }


X = np.random.default_rng(0).normal(size=(6, 7, 3)).astype(np.float32)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_network_equals_flax_lstm(activation):
    model = LSTMRegressor(5, 2)
    flax_params = model.init(jax.random.PRNGKey(1), X)["params"]
    act = network.ACTIVATIONS.index(activation)
    ref = model.apply({"params": flax_params}, X, act)
    ours = network.predict(to_network_params(flax_params, 2), X, traced(cfg(activation=activation)), (0, 1, 2))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_hand_written_backward_equals_flax_autodiff(activation):
    """Gradients of the custom-VJP layers (padded, depth 2 of 3) equal jax.grad of flax's LSTM."""
    model = LSTMRegressor(5, 2)
    flax_params = model.init(jax.random.PRNGKey(7), X)["params"]
    act = network.ACTIVATIONS.index(activation)
    y = X[:, -1, 1]
    ref = jax.grad(lambda p: jnp.mean((model.apply({"params": p}, X, act) - y) ** 2))(flax_params)
    ref = to_network_params(ref, 2)
    padded = {k: jnp.asarray(v) for k, v in network.resize_params(to_network_params(flax_params, 2), 8, 3).items()}
    hp = traced(cfg(activation=activation))
    ours = jax.grad(lambda p: jnp.mean((network.predict(p, X, hp, (0, 1, 2)) - y) ** 2))(padded)
    ours = network.resize_params(ours, 5, 2)
    for name in ref:
        np.testing.assert_allclose(ours[name], ref[name], rtol=2e-4, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_padded_units_and_layers_change_nothing(activation):
    params = init_params(5, 2, 3, np.random.default_rng(2))
    hp = traced(cfg(activation=activation))
    key = jax.random.PRNGKey(3)
    for dropout_key in (None, key):
        alone = network.predict(params, X, hp, (0, 1, 2), dropout_key)
        padded = network.predict(network.resize_params(params, 16, 4), X, hp, (0, 1, 2), dropout_key)
        np.testing.assert_allclose(padded, alone, rtol=1e-6, atol=1e-7)


def test_padded_gradients_are_exactly_zero():
    params = network.resize_params(init_params(5, 2, 3, np.random.default_rng(2)), 16, 4)
    hp = traced(cfg(activation="sigmoid"))  # sigmoid(0) = 0.5: the case the mask exists for
    y = X[:, -1, 0]
    grads = jax.grad(lambda p: jnp.mean((network.predict(p, X, hp, (0, 1, 2), jax.random.PRNGKey(0)) - y) ** 2))(
        {k: jnp.asarray(v) for k, v in params.items()}
    )
    real = network.resize_params(network.resize_params(grads, 5, 2), 16, 4)  # the real block, zeros elsewhere
    for name in params:
        g = np.asarray(grads[name])
        assert np.all(g == np.asarray(real[name])), name  # nothing outside the real block
    assert np.any(np.asarray(grads["rec"])[0] != 0)  # the active second layer learns
    assert np.all(np.asarray(grads["rec"])[1:] == 0)  # layers 3 and 4 are inactive


def test_pad_unpad_round_trip():
    params = init_params(5, 2, 3, np.random.default_rng(4))
    back = network.resize_params(network.resize_params(params, 8, 3), 5, 2)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    assert network.real_shape(params) == (5, 2)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_one_program_optimizer_equals_optax(name):
    rng = np.random.default_rng(5)
    params = {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)}
    hp = traced(cfg(optimizer=name, lr=3e-2))
    tx = {"adam": optax.adam, "rmsprop": optax.rmsprop, "sgd": optax.sgd}[name](3e-2)
    ref, ref_state = params, tx.init(params)
    ours, moments = params, optim.init(params)
    zero = {"w": jnp.zeros((4, 3))}
    for step in range(1, 40):
        grads = {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)}
        updates, ref_state = tx.update(grads, ref_state, ref)
        ref = optax.apply_updates(ref, updates)
        ours, moments = optim.update(ours, moments, grads, hp, jnp.int32(step))
        still, _ = optim.update(zero, optim.init(zero), zero, hp, jnp.int32(step))
        assert np.all(np.asarray(still["w"]) == 0)  # a zero gradient never moves a weight
    np.testing.assert_allclose(ours["w"], ref["w"], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_optimizer_leaves_idle_stacked_layers_bit_for_bit(name):
    """A padded program's idle layers get zero gradients: over many steps their weights (any
    value, signed zeros included) and zero moments stay bit for bit what they were."""
    rng = np.random.default_rng(7)
    idle = np.concatenate([rng.normal(size=(2, 2, 4, 2)), np.zeros((1, 2, 4, 2)), -np.zeros((1, 2, 4, 2))])
    params = {"in": jnp.asarray(np.concatenate([np.ones((1, 2, 4, 2)), idle]), jnp.float32), "out": jnp.ones((2,))}
    hp = traced(cfg(optimizer=name, lr=0.1))
    state = optim.init(params)
    for step in range(1, 30):
        grads = {
            "in": jnp.asarray(np.concatenate([np.full((1, 2, 4, 2), 0.5), np.zeros((4, 2, 4, 2))]), jnp.float32),
            "out": jnp.full((2,), 0.5),
        }
        params, state = optim.update(params, state, grads, hp, jnp.int32(step))
    assert np.all(np.asarray(params["in"][0]) < 1) and np.all(np.asarray(params["out"]) < 1)
    assert np.asarray(params["in"][1:]).tobytes() == idle.astype(np.float32).tobytes()
    assert not np.any(np.asarray(state[0]["in"][1:])) and not np.any(np.asarray(state[1]["in"][1:]))


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_moments_is_an_optax_transformation_equal_to_optax(name):
    """``optim.moments`` as a plain optax transformation, its coefficients injected
    (``optax.inject_hyperparams``), equals optax's own optimizer."""
    rng = np.random.default_rng(6)
    params = {"w": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)}
    coefficients = dict(
        zip(("beta1", "beta2", "bias_correction", "eps_inside", "eps_outside"), optim.COEFFICIENTS[name])
    )
    tx = optax.inject_hyperparams(optim.moments)(learning_rate=1e-2, **coefficients)
    ref_tx = {"adam": optax.adam, "rmsprop": optax.rmsprop, "sgd": optax.sgd}[name](1e-2)
    ours, state, ref, ref_state = params, tx.init(params), params, ref_tx.init(params)
    for step in range(1, 30):
        grads = {"w": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)}
        updates, state = tx.update(grads, state, ours, step=jnp.int32(step))
        ours = optax.apply_updates(ours, updates)
        ref_updates, ref_state = ref_tx.update(grads, ref_state, ref)
        ref = optax.apply_updates(ref, ref_updates)
    np.testing.assert_allclose(ours["w"], ref["w"], rtol=2e-5, atol=1e-6)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(1e-2)


def test_dropout_is_the_input_times_one_reciprocal_in_every_program():
    """Kept units are x * float32(1 / (1 - rate)) exactly (the mask from jax.random.bits drawn unit-major),
    alone, beside other rates under vmap, and inside a scan as the deeper layers run."""
    x = np.random.default_rng(4).normal(size=(6, 9, 5)).astype(np.float32)
    key = jax.random.PRNGKey(5)
    rates = jnp.float32([0.1, 0.3, 0.45])
    programs = {
        "jit": lambda rs: [jax.jit(network.dropout)(x, r, key) for r in rs],
        "vmap": jax.jit(lambda rs: jax.vmap(lambda r: network.dropout(x, r, key))(rs)),
        "scan": jax.jit(
            jax.vmap(lambda r: jax.lax.scan(lambda h, _: (network.dropout(h, r, key), None), x, None, length=1)[0])
        ),
    }
    for name, program in programs.items():
        out = np.asarray(program(rates))
        for rate, dropped in zip(np.asarray(rates), out):
            # x is [T, B, H]; the mask is drawn [H, B, T]
            keep = np.asarray(jax.random.bits(key, (5, 9, 6))).T >= np.uint32(rate * 2.0**32)
            expected = np.where(keep, x * (np.float32(1.0) / (np.float32(1.0) - rate)), np.float32(0.0))
            np.testing.assert_array_equal(dropped, expected, err_msg=f"{name}, rate {rate}")


@settings(max_examples=12, deadline=None)
@given(length=st.integers(1, 9), batch=st.integers(1, 4), mapped=st.integers(1, 3), reverse=st.booleans())
def test_scan_time_equals_lax_scan_bit_for_bit(length, batch, mapped, reverse):
    """The layers' time loop (inputs read, outputs written by index) equals lax.scan, alone and
    under vmap (where lax.scan moves the mapped axis behind time and scan_time does not)."""
    rng = np.random.default_rng(length * 100 + batch * 10 + mapped)
    xs = rng.normal(size=(mapped, length, batch, 3)).astype(np.float32)
    w = rng.normal(size=(mapped, 3, 3)).astype(np.float32)

    def run(loop, xs, w):
        def step(h, inputs):
            (x,) = inputs
            h = jnp.tanh(x + h @ w)
            return h, (h, jax.nn.sigmoid(h) * x)

        return loop(step, jnp.zeros((batch, 3), jnp.float32), (xs,))

    ours = jax.jit(jax.vmap(lambda xs, w: run(lambda *a: network.scan_time(*a, reverse=reverse), xs, w)))(xs, w)
    ref = jax.jit(jax.vmap(lambda xs, w: run(lambda *a: jax.lax.scan(*a, reverse=reverse), xs, w)))(xs, w)
    jax.tree.map(np.testing.assert_array_equal, ours, ref)
    alone = jax.jit(lambda xs, w: run(lambda *a: network.scan_time(*a, reverse=reverse), xs, w))(xs[0], w[0])
    alone_ref = jax.jit(lambda xs, w: run(lambda *a: jax.lax.scan(*a, reverse=reverse), xs, w))(xs[0], w[0])
    jax.tree.map(np.testing.assert_array_equal, alone, alone_ref)


def test_by_activation_switch_equals_computing_every_activation_and_selecting():
    """The switch on a scalar index (configs one after another) gives the floats of the previous
    formulation (every allowed activation computed, then jnp.where), for every allowed set and
    odd shapes. (XLA CPU rounds tanh differently with the code around it: a program of a lone
    tanh, or a vmapped select, can differ in the last bit, so the reference is the select in the
    same kind of program; side by side the engine computes every activation and selects, as
    before.)"""
    fns = network._ACTIVATION_FNS
    fn = lambda act, act_grad, v: (act(v), act_grad(act(v)))

    def selected(i, allowed, x):
        outs = [fn(*fns[a], x) for a in allowed]
        result = outs[-1]
        for k in range(len(allowed) - 2, -1, -1):
            result = tuple(jnp.where(i == allowed[k], o, r) for o, r in zip(outs[k], result))
        return result

    for shape in [(4, 5), (3, 7), (5, 32)]:
        x = np.random.default_rng(6).normal(size=shape).astype(np.float32) * 3
        for allowed in [(0, 1), (1, 2), (0, 2), (0, 1, 2)]:
            for a in allowed:
                switched = jax.jit(lambda i: network.by_activation(i, network.Activations(allowed, True), fn)(x))(
                    jnp.int32(a)
                )
                alone_ref = jax.jit(lambda i: selected(i, allowed, x))(jnp.int32(a))
                jax.tree.map(np.testing.assert_array_equal, switched, alone_ref)
