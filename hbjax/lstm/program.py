"""The LSTM as a model client of the engine (``engine.model.Model``).

A config's static part is its shape (hidden units, layers, batch size, window); its traced part
is learning rate, dropout, activation, real units and depth, and the optimizer's coefficients
(``encode_hparams``). Programs apply ``network.LSTMNetwork`` (a flax module with the hand-written
cell) and step ``optim.moments`` (an optax transformation, coefficients traced). The LSTM
implements the engine's padding hook: hidden units pad with masked units, depth is traced
(``network.py``), and states are padded and unpadded exactly (``network.resize_params``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..engine.client import Model, Sizes, rung_request
from ..engine.keys import ProgramKey, ShapeKey
from ..engine.plan import RungPlan, plan_rung
from ..engine.program import FoldArrays, ProgramFns
from . import network, optim
from .init import init_params
from .network import ACTIVATIONS, Traced
from .padding import bytes_per_config, padded_hidden_map, step_flops

__all__ = [
    "TRACED_DTYPES",
    "LSTMModel",
    "empty_hparams",
    "encode_hparams",
    "layers_of",
    "lstm_program",
    "lstm_shape",
    "plan_shapes",
    "resize_state",
    "units_of",
]


def lstm_shape(hidden: int, layers: int, batch_size: int, window: int) -> ShapeKey:
    """The engine's key of an LSTM config: its window is the data key, (hidden, layers) its own."""
    return ShapeKey(int(batch_size), int(window), (("H", int(hidden)), ("L", int(layers))))


def lstm_program(
    hidden: int, layers: int, batch_size: int, window: int, batching: str = "map", width: int = 1
) -> ProgramKey:
    """The key of an LSTM program of ``hidden`` (padded) units and ``layers`` (padded) depth."""
    return ProgramKey((("H", int(hidden)), ("L", int(layers))), int(batch_size), int(window), batching, int(width))


def units_of(key) -> int:
    """Hidden units of a ``ShapeKey`` or ``ProgramKey`` (or its static key) of the LSTM."""
    return dict(getattr(key, "static", key))["H"]


def layers_of(key) -> int:
    """Layers of a ``ShapeKey`` or ``ProgramKey`` (or its static key) of the LSTM."""
    return dict(getattr(key, "static", key))["L"]


def encode_hparams(config: Mapping) -> tuple:
    """A config's traced hyperparameters as numbers, in ``network.Traced`` order."""
    act = config.get("activation", "tanh")
    opt = config.get("optimizer", "adam")
    if act not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {act!r}")
    if opt not in optim.OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {optim.OPTIMIZERS}, got {opt!r}")
    lr = float(config["lr"])
    rate = float(config.get("dropout", 0.0))
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {config['lr']!r}")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {rate!r}")
    hidden, layers = int(config["hidden"]), int(config["layers"])
    if hidden < 1 or layers < 1:
        raise ValueError(f"hidden and layers must be >= 1, got {hidden} and {layers}")
    return (lr, rate, ACTIVATIONS.index(act), hidden, layers, *optim.COEFFICIENTS[opt])


TRACED_DTYPES = (
    np.float32,
    np.float32,
    np.int32,
    np.int32,
    np.int32,
    np.float32,
    np.float32,
    np.float32,
    np.float32,
    np.float32,
)


def empty_hparams(allowed_activations: tuple[int, ...]) -> tuple:
    """The traced numbers of an empty vmap slot: zero units and learning rate, so it computes
    zeros (never a NaN) and moves nothing; its outputs are discarded."""
    return (0.0, 0.0, allowed_activations[0], 0, 1, *optim.COEFFICIENTS["adam"])


def resize_state(state, hidden: int, layers: int):
    """(params, (m, v)) padded or cut to ``hidden`` units and ``layers`` layers (exact both ways)."""
    return jax.tree.map(
        lambda d: network.resize_params(d, hidden, layers), state, is_leaf=lambda t: isinstance(t, dict)
    )


class LSTMModel(Model):
    """The LSTM client: ``fold_arrays(window) -> FoldArrays`` supplies data (the window is the
    data key; ``window``: a config's when it names none); ``activations``: the activations
    configs may use (one -> it is compiled in statically); ``max_layers``: the depth programs pad
    to (the space's largest; None: each rung's deepest of a batch size and window);
    ``padded_hidden``: (hidden, batch, window) -> padded hidden, fixed per run (``configure``)."""

    traced_dtypes = TRACED_DTYPES
    cost_kind = "lstm"

    def __init__(
        self,
        fold_arrays: Callable[[int], FoldArrays],
        *,
        seed: int = 0,
        window: int = 20,
        activations: Sequence[str] = ACTIVATIONS,
        max_layers: int | None = None,
        padded_hidden: dict | None = None,
    ):
        self.fold_arrays = fold_arrays
        self.window = int(window)
        self.seed = int(seed)
        self.activations = tuple(activations)
        self.max_layers = max_layers
        self.padded_hidden = padded_hidden

    def allowed_activations(self) -> tuple[int, ...]:
        return tuple(sorted(ACTIVATIONS.index(a) for a in set(self.activations)))

    def configure(
        self,
        *,
        plan: str,
        device_kind: str,
        cost,
        hiddens: Sequence[int],
        batch_sizes: Sequence[int],
        layers: Sequence[int],
        config_epochs: float,
        sizes: Mapping[int, Sizes],
        first_rung_configs: int | None = None,
    ) -> None:
        """Fix the run's padding from the space's shape choices and the run's expected
        config-epochs (``padding.padded_hidden_map``); depth pads to the deepest choice."""
        self.max_layers = int(max(layers))
        self.padded_hidden = padded_hidden_map(
            plan,
            device_kind,
            hiddens=hiddens,
            batch_sizes=batch_sizes,
            layers=layers,
            config_epochs=config_epochs,
            sizes={w: (z.folds, z.train, z.features) for w, z in sizes.items()},
            cost=cost,
            first_rung_configs=first_rung_configs,
        )

    # --- the client protocol ---------------------------------------------------------------
    def data(self, window: int) -> FoldArrays:
        return self.fold_arrays(window)

    def shape(self, config: Mapping) -> ShapeKey:
        return lstm_shape(config["hidden"], config["layers"], config["batch_size"], config.get("window", self.window))

    def program_statics(self, shapes: Sequence[ShapeKey], exact: bool) -> list[tuple]:
        """Exact: each shape's own. Else hidden units padded as ``padded_hidden`` says (never
        below a config's own) and depth padded to ``max_layers`` (at least the rung's deepest),
        or without it to the deepest of the rung's configs of the same batch size and window: an
        inactive layer is skipped, and depth is traced."""
        if exact:
            return [s.static for s in shapes]
        deepest: dict[tuple, int] = {}
        for s in shapes:
            deepest[s.batch_size, s.data] = max(deepest.get((s.batch_size, s.data), 0), layers_of(s))
        everywhere = max(self.max_layers, *deepest.values()) if self.max_layers is not None else None
        padded = self.padded_hidden or {}
        return [
            lstm_program(
                max(padded.get((units_of(s), s.batch_size, s.data), units_of(s)), units_of(s)),
                everywhere or deepest[s.batch_size, s.data],
                s.batch_size,
                s.data,
            ).static
            for s in shapes
        ]

    def bound(self, shape: ShapeKey) -> int:
        return layers_of(shape)

    def check(self, config: Mapping) -> None:
        act = config.get("activation", "tanh")
        if act not in set(self.activations):
            raise ValueError(f"activation {act!r} is not among this engine's activations {self.activations}")
        encode_hparams(config)

    def traced(self, config: Mapping) -> tuple:
        return encode_hparams(config)

    def empty_traced(self) -> tuple:
        return empty_hparams(self.allowed_activations())

    def pack_traced(self, columns) -> Traced:
        return Traced(*columns)

    def init_state(self, config: Mapping | None, shape: ShapeKey, config_id: int, sizes: Sizes) -> tuple:
        folds = [
            init_params(
                units_of(shape), layers_of(shape), sizes.features, np.random.default_rng([self.seed, config_id, k])
            )
            for k in range(sizes.folds)
        ]
        params = {name: np.stack([f[name] for f in folds]) for name in folds[0]}
        zeros = {name: np.zeros_like(a) for name, a in params.items()}
        return params, (zeros, dict(zeros))

    def empty_state(self, program: ProgramKey, sizes: Sizes) -> tuple:
        params = init_params(1, 1, sizes.features, np.random.default_rng(0))
        params = {k: np.zeros((sizes.folds, *v.shape), np.float32) for k, v in params.items()}
        return resize_state((params, (params, params)), units_of(program), layers_of(program))

    def to_program(self, state, program: ProgramKey):
        return resize_state(state, units_of(program), layers_of(program))

    def to_own(self, state, config: Mapping):
        return resize_state(state, int(config["hidden"]), int(config["layers"]))

    def program_fns(self, program: ProgramKey, sizes: Sizes) -> ProgramFns:
        net = network.LSTMNetwork(
            hidden=units_of(program),
            layers=layers_of(program),
            n_features=sizes.features,
            activations=self.allowed_activations(),
        )

        def predict(params, x, hp, dropout_key, depth):
            return net.apply({"params": params}, x, hp, dropout_key, depth)

        def loss(params, xb, yb, hp, dropout_key, depth):
            return jnp.mean((predict(params, xb, hp, dropout_key, depth) - yb) ** 2)

        def val_loss(params, x_val, y_val, hp, depth):
            return jnp.mean((predict(params, x_val, hp, None, depth) - y_val) ** 2)

        def apply_gradients(params, moments, grads, hp, step, depth):
            tx = optim.moments(hp.learning_rate, hp.beta1, hp.beta2, hp.bias_correction, hp.eps_inside, hp.eps_outside)
            return optim.apply_step(tx, params, moments, grads, step)

        return ProgramFns(loss, apply_gradients, val_loss)

    def step_flops(self, shape: ShapeKey, static: tuple, bound: int | None, sizes: Sizes) -> float:
        layers = layers_of(shape) if bound is None else bound
        return step_flops(units_of(static), layers, shape.batch_size, shape.data, sizes.features) * sizes.folds

    def serial_steps(self, shape: ShapeKey, bound: int | None) -> int:
        """Each layer's time steps run one after another (forward, and backward)."""
        return shape.data * (layers_of(shape) if bound is None else bound)

    def bytes_per_config(self, program: ProgramKey, sizes: Sizes) -> int:
        return bytes_per_config(
            units_of(program),
            layers_of(program),
            program.batch_size,
            program.data,
            sizes.features,
            sizes.folds,
            sizes.train,
            sizes.val,
        )


def plan_shapes(
    shapes: Sequence[ShapeKey],
    starts: Sequence[int],
    stops: Sequence[int],
    *,
    sizes: Sizes,
    mode: str = "auto",
    max_layers: int | None = None,
    padded_hidden: dict | None = None,
    priorities: Sequence[int] | None = None,
    **request,
) -> RungPlan:
    """The engine's plan of LSTM configs of ``shapes`` (``lstm_shape``) without data or an
    engine, for the plan's tests and benchmarks: ``sizes`` of every window; ``max_layers`` and
    ``padded_hidden`` as ``LSTMModel``'s; ``request``: the other fields of ``RungRequest``."""
    model = LSTMModel(None, max_layers=max_layers, padded_hidden=padded_hidden)
    return plan_rung(
        rung_request(
            model, shapes, starts, stops, sizes_of=lambda key: sizes, mode=mode, priorities=priorities, **request
        )
    )
