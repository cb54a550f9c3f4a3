"""A third model client, written from docs/architecture.md ("Adding a model") alone: a one-hidden-
layer ReLU MLP regressor with momentum SGD, whose hidden width pads to a power of two with zero
units (exact: a zero unit's ReLU is 0, its weights get zero gradient, momentum keeps them at 0).
It uses only ``hb.*`` names, so the protocol it proves is the public one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hbjax as hb

FOLDS, ROWS, VAL, FEATURES = 2, 96, 32, 3


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(FOLDS, ROWS + VAL, FEATURES)).astype(np.float32)
    y = (np.sin(x[..., 0]) + 0.5 * x[..., 1] * x[..., 2]).astype(np.float32)
    return hb.engine.FoldArrays(x[:, :ROWS], y[:, :ROWS], x[:, ROWS:], y[:, ROWS:])


def _pad(a, axis, n):
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, n - a.shape[axis])
    return np.pad(a, widths)


class MLP(hb.engine.Model):
    traced_dtypes = (np.float32, np.float32)  # learning rate, momentum

    def __init__(self, arrays, *, pad=True, seed=0):
        self.arrays, self.pad, self.seed = arrays, pad, seed

    def data(self, key):
        return self.arrays

    def shape(self, config):
        return hb.engine.ShapeKey(batch_size=int(config["batch_size"]), static=(("width", int(config["width"])),))

    def check(self, config):
        if int(config["width"]) < 1 or not float(config["lr"]) > 0:
            raise ValueError(f"width must be >= 1 and lr > 0, got {config}")

    def traced(self, config):
        return float(config["lr"]), float(config.get("momentum", 0.9))

    def program_statics(self, shapes, exact):
        if exact or not self.pad:
            return [s.static for s in shapes]
        return [(("width", 1 << (dict(s.static)["width"] - 1).bit_length()),) for s in shapes]

    # --- states: leaves [K, ...], hidden units on the last axis of w1 and b1, first of w2
    def _layout(self, params, width):
        return {
            "w1": _pad(params["w1"], 2, width),
            "b1": _pad(params["b1"], 1, width),
            "w2": _pad(params["w2"], 1, width),
            "b2": params["b2"],
        }

    def _cut(self, params, width):
        return {
            "w1": params["w1"][:, :, :width],
            "b1": params["b1"][:, :width],
            "w2": params["w2"][:, :width],
            "b2": params["b2"],
        }

    def init_state(self, config, shape, config_id, sizes):
        width = dict(shape.static)["width"]
        folds = []
        for k in range(sizes.folds):
            rng = np.random.default_rng([self.seed, config_id, k])
            folds.append(
                {
                    "w1": rng.normal(0, 1 / np.sqrt(sizes.features), (sizes.features, width)),
                    "b1": np.zeros(width),
                    "w2": rng.normal(0, 1 / np.sqrt(width), width),
                    "b2": np.zeros(()),
                }
            )
        params = {n: np.stack([f[n] for f in folds]).astype(np.float32) for n in folds[0]}
        return params, {n: np.zeros_like(a) for n, a in params.items()}

    def empty_state(self, program, sizes):
        width = dict(program.static)["width"]
        params = {
            "w1": np.zeros((sizes.folds, sizes.features, width), np.float32),
            "b1": np.zeros((sizes.folds, width), np.float32),
            "w2": np.zeros((sizes.folds, width), np.float32),
            "b2": np.zeros((sizes.folds,), np.float32),
        }
        return params, {n: a.copy() for n, a in params.items()}

    def to_program(self, state, program):
        width = dict(program.static)["width"]
        return tuple(self._layout(tree, width) for tree in state)

    def to_own(self, state, config):
        return tuple(self._cut(tree, int(config["width"])) for tree in state)

    def program_fns(self, program, sizes):
        def predict(params, x):
            return jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]

        def loss(params, xb, yb, traced, dropout_key, bound):
            return jnp.mean((predict(params, xb) - yb) ** 2)

        def apply_gradients(params, velocity, grads, traced, step, bound):
            lr, momentum = traced
            velocity = jax.tree.map(lambda v, g: momentum * v + g, velocity, grads)
            return jax.tree.map(lambda p, v: p - lr * v, params, velocity), velocity

        def val_loss(params, x_val, y_val, traced, bound):
            return jnp.mean((predict(params, x_val) - y_val) ** 2)

        return hb.engine.ProgramFns(loss, apply_gradients, val_loss)

    def step_flops(self, shape, static, bound, sizes):
        width = dict(static)["width"]
        return 3 * 2.0 * shape.batch_size * (sizes.features * width + width) * sizes.folds

    def bytes_per_config(self, program, sizes):
        width = dict(program.static)["width"]
        n_params = sizes.features * width + 2 * width + 1
        return 4 * sizes.folds * (4 * n_params + (program.batch_size + sizes.val) * (width + sizes.features))


SPACE = hb.Space(
    {"width": hb.IntChoice([3, 5, 8, 12]), "batch_size": hb.IntChoice([16, 32]), "lr": hb.LogUniform(1e-3, 0.1)}
)


def _configs(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return [
        dict(width=int(w), batch_size=16, lr=float(10 ** rng.uniform(-3, -1))) for w in rng.choice([3, 5, 8, 12], n)
    ]


def test_a_third_model_runs_hyperband_end_to_end_with_padded_programs():
    engine = hb.engine.Engine(MLP(_arrays()), seed=0)
    result = hb.Hyperband(SPACE, max_resource=9, eta=3, seed=0).run(hb.engine.EngineBackend(engine))
    assert np.isfinite(result.best_loss) and result.best_loss < 1.0  # the target has variance ~1
    programs = {k for stats in engine.rung_stats for k in stats["program_keys"]}
    widths = {int(k.split("width=")[1].split()[0]) for k in programs}
    assert widths <= {4, 8, 16} and widths  # 3 -> 4, 5 -> 8, 12 -> 16: padded, exact widths never compiled
    table = result.to_frame()
    assert len(table) == sum(r.n_configs for b in hb.hyperband_plan(9, 3) for r in b.rungs)  # 22 trials
    assert np.isfinite(table["loss"]).all()


@pytest.mark.parametrize("plan", ["auto", "wide"])
def test_padded_and_side_by_side_programs_train_each_config_as_alone(plan):
    """Padded (auto: 3, 5, 12 -> 4, 8, 16 units) and vmapped (wide, forced on CPU) programs give
    each config the losses and state it gets alone in an exact program, over two rungs."""
    configs, ids = _configs(), list(range(6))
    exact = hb.engine.Engine(MLP(_arrays(), pad=False), seed=0, plan="exact")
    other = hb.engine.Engine(MLP(_arrays()), seed=0, plan=plan)
    for resource, previous in ((2.0, 0.0), (5.0, 2.0)):
        want, _ = exact.train(ids, configs, resource, [previous] * 6)
        got, _ = other.train(ids, configs, resource, [previous] * 6)
        np.testing.assert_allclose(got, want, rtol=2e-5)
    for cid, _c in zip(ids, configs):
        for a, b in zip(jax.tree.leaves(other.states[cid]), jax.tree.leaves(exact.states[cid])):
            assert a.shape == b.shape  # states come back in the config's own layout
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert all(s["compiles"] <= 3 for s in other.rung_stats)


def test_a_bad_config_is_refused_before_anything_trains():
    engine = hb.engine.Engine(MLP(_arrays()), seed=0)
    with pytest.raises(ValueError, match="width must be >= 1"):
        engine.train([0], [dict(width=0, batch_size=16, lr=0.1)], 1.0, [0.0])
    assert engine.compiles == 0
