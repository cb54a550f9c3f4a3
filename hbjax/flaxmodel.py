"""Bring your own model: any ``flax.linen`` module with any optax optimizer, on the engine.

    backend = hb.FlaxBackend(
        model=lambda cfg: CNN(width=cfg["width"], depth=cfg["depth"]),
        optimizer=lambda cfg: optax.inject_hyperparams(optax.adamw)(learning_rate=cfg["lr"],
                                                                     weight_decay=cfg["wd"]),
        loss=lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
        metric=lambda logits, y: (logits.argmax(-1) == y).mean(), direction="max",
        data=(x_train, y_train, x_val, y_val), batch_size="batch_size")
    hb.Hyperband(space, max_resource=27, eta=3).run(backend)

**What shares a program: proven per config.** Configs train in one program (side by side under
``vmap`` on accelerators, one after another on CPU) only where their programs are the same
computation: ``program_id`` fingerprints each config's module initialisation, training loss and
gradient, validation and optimizer update as jaxprs (``hbjax.sharing``). Each config brings its
own traced values: ``traced`` names reach the module as ``hparams``; what the optimizer takes
through ``optax.inject_hyperparams`` sits in that config's own optimizer state. Anything else
(widths, the optimizer's kind, a non-injected coefficient, a schedule or clip threshold built
from a hyperparameter, a module field) changes the fingerprint: those configs train apart.
``verify=N`` trains up to N configs of each shared program again alone after every rung and
raises ``SharingError`` on any difference; ``FlaxBackend.sharing()`` reports per hyperparameter.

**The module.** ``__call__(x, ...)`` gets ``train=`` (or ``deterministic=``) when it declares it,
``hparams={name: scalar}`` when ``traced`` is given, and a ``"dropout"`` RNG when training. Only
the ``params`` collection is trained (no ``batch_stats``: use LayerNorm or GroupNorm); a traced
dropout rate needs ``hbjax.nn.Dropout`` (flax's tests the rate in Python). Predictions must have
the targets' shape where the loss would broadcast them (``check_shapes``). A
``flax.nnx`` module plugs in wrapped by ``nnx.bridge.to_linen(Module, ...)``. Resource =
epochs; a survivor continues from its parameters and optimizer state. The validation score is
``metric(predictions, y_val)`` (None: ``loss``), minimised or, with ``direction="max"``,
maximised: Hyperband's loss is then ``-metric``. The LSTM's exact padding (masked units, traced
depth) is a hook a model may implement (``engine.model.Model``); this client does not, so its
programs group by exact shape.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .engine.core import device_dtype
from .engine.model import Model, Sizes
from .engine.keys import ProgramKey, ShapeKey
from .engine.program import FoldArrays, ProgramFns, config_key
from .flaxchecks import broadcast_shape, explain, extra_collections
from .sharing import config_token, fingerprint

__all__ = ["FlaxModel"]

DIRECTIONS = ("min", "max")


class FlaxModel(Model):
    """The engine's client for a user's flax module and optax optimizer (see the module doc)."""

    def __init__(self, model: Callable[[Mapping], Any], optimizer: Callable[[Mapping], Any], loss: Callable,
                 data: Sequence, *, metric: Callable | None = None, direction: str = "min",
                 batch_size: str | int = "batch_size", traced: Sequence[str] = (), seed: int = 0,
                 share: bool = True, check_shapes: bool = True, cost_kind: str = "flax"):
        if not callable(model) or not callable(optimizer) or not callable(loss):
            raise ValueError("model, optimizer and loss must be callables (model(config) -> flax module, "
                             "optimizer(config) -> optax transformation, loss(predictions, y) -> scalar)")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.model_fn, self.optimizer_fn, self.loss_fn = model, optimizer, loss
        self.metric_fn = metric if metric is not None else loss
        self.direction = direction
        self.batch_key = batch_size
        self.traced_names = tuple(traced)
        self.traced_dtypes = (np.float32,) * len(self.traced_names)
        self.seed = int(seed)
        self.arrays = _fold_arrays(data)
        self.share = bool(share)
        self.check_shapes = bool(check_shapes)
        self.cost_kind = str(cost_kind)
        self._program_ids: dict = {}  # config_token -> program fingerprint
        self.seen: dict = {}  # config_token -> config, every config given a program so far
        self._modules: list = []  # (module, batch size, (fingerprint, abstract params)): equal modules trace once
        self.has_convolution = False  # set by check_fit: a convolution in the model's forward pass
        self._representative: dict = {}  # ShapeKey -> a config of that shape (its module, its optimizer)
        self._init_fns: dict = {}
        self._flops: dict = {}

    # --- what a config is ------------------------------------------------------------------
    def data(self, key: int) -> FoldArrays:
        return self.arrays

    def batch_size_of(self, config: Mapping) -> int:
        if isinstance(self.batch_key, str):
            if self.batch_key not in config:
                raise ValueError(f"config has no {self.batch_key!r} (the batch_size hyperparameter); give "
                                 f"batch_size=<int> for a fixed one")
            return int(config[self.batch_key])
        return int(self.batch_key)

    def shape(self, config: Mapping) -> ShapeKey:
        """The config's program: its batch size and the proven fingerprint of what it runs
        (``program_id``); configs share a program only where both are equal."""
        key = ShapeKey(self.batch_size_of(config), 0, (("program", self.program_id(config)),))
        self._representative.setdefault(key, dict(config))
        return key

    def program_id(self, config: Mapping) -> str:
        """The fingerprint of ``config``'s program (``sharing.fingerprint``): its module's
        initialisation, training loss and gradient, and validation, and its optimizer's update,
        as jaxprs. Configs with equal ids run the same computation on their own traced values
        (``hparams``; the optimizer state ``optax.inject_hyperparams`` fills from THIS config):
        training one in a shared program is training it alone. ``share=False``: every config
        its own program."""
        token = config_token(config)
        if token not in self._program_ids:
            self.seen[token] = dict(config)
            if not self.share:
                self._program_ids[token] = "alone-" + hashlib.sha256(repr(token).encode()).hexdigest()[:16]
            else:
                module_id, params = self._module_fingerprint(config)
                tx = self._optimizer(config)
                try:
                    state = jax.eval_shape(tx.init, params)
                    update = fingerprint(lambda g, s, p: tx.update(g, s, p), params, state, params)
                except Exception as err:  # noqa: BLE001 - the user's optimizer: name the config and the cause
                    raise ValueError(f"optimizer(config) cannot update the model's parameters for {dict(config)}: "
                                     f"{explain(err)}") from None
                self._program_ids[token] = hashlib.sha256((module_id + update).encode()).hexdigest()[:16]
        return self._program_ids[token]

    def alone(self) -> "FlaxModel":
        """This model with no sharing: every config its own program, built from its own module
        and optimizer (what ``verify`` compares shared programs with)."""
        other = copy.copy(self)
        other.share = False
        other._program_ids, other.seen, other._modules = {}, {}, []
        other._representative, other._init_fns, other._flops = {}, {}, {}
        return other

    def traced_reasons(self, configs: Sequence[Mapping]) -> dict:
        """Why a hyperparameter can vary inside a shared program: it is handed to the module as
        ``hparams`` (``traced=``), or its value sits in the config's ``optax.inject_hyperparams``
        state (found by value in ``optimizer(config).init``)."""
        reasons = {name: "traced= (the module gets it in hparams)" for name in self.traced_names}
        for config in configs:
            try:
                leaves = jax.tree_util.tree_flatten_with_path(self._optimizer(config).init({}))[0]
            except Exception:  # noqa: BLE001 - an optimizer that needs real params: no reason to show
                continue
            injected = [np.float32(v) for path, v in leaves if "hyperparams" in jax.tree_util.keystr(path)]
            for name, value in config.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and np.float32(value) in injected:
                    reasons.setdefault(name, "optax.inject_hyperparams (its value is in the optimizer state)")
        return reasons

    def _module(self, config: Mapping):
        try:
            module = self.model_fn(config)
        except Exception as err:  # noqa: BLE001 - the user's factory: name what failed
            raise ValueError(f"model(config) failed for {dict(config)}: {type(err).__name__}: {err}") from None
        if not hasattr(module, "init") or not hasattr(module, "apply"):
            raise ValueError(f"model(config) must return a flax.linen Module, got {type(module).__name__}")
        return module

    def _optimizer(self, config: Mapping):
        try:
            tx = self.optimizer_fn(config)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"optimizer(config) failed for {dict(config)}: {type(err).__name__}: {err}") from None
        if not hasattr(tx, "init") or not hasattr(tx, "update"):
            raise ValueError(f"optimizer(config) must return an optax GradientTransformation, got {type(tx).__name__}")
        return tx

    def _module_fingerprint(self, config: Mapping) -> tuple[str, Any]:
        """(fingerprint of the module's init, training loss + gradient and validation on this
        config's batch size, abstract params). Equal modules (same class, equal fields: the
        same function) reuse the fingerprint instead of tracing again."""
        module, batch = self._module(config), self.batch_size_of(config)
        for other, other_batch, found in self._modules:
            if other_batch == batch and _same_module(other, module):
                return found
        a = self.arrays
        spec = lambda arr, rows: jax.ShapeDtypeStruct((rows, *arr.shape[2:]), arr.dtype)  # noqa: E731
        key = jax.ShapeDtypeStruct((2,), np.uint32)
        hp = {k: jax.ShapeDtypeStruct((), np.float32) for k in self.traced_names}

        def init(rng, x, hp):
            variables = module.init({"params": rng, "dropout": jax.random.fold_in(rng, 1)}, x,
                                    **self._kwargs(module, hp, False))
            return variables["params"]

        def train_loss(params, xb, yb, hp, rng):
            return jax.value_and_grad(lambda p: self.loss_fn(self.apply(module, p, xb, hp, True, rng), yb))(params)

        def validation(params, x, y, hp):
            return self.metric_fn(self.apply(module, params, x, hp, False), y)

        try:
            params = jax.eval_shape(init, key, spec(a.x_train, 1), hp)
            parts = (fingerprint(init, key, spec(a.x_train, 1), hp),
                     fingerprint(train_loss, params, spec(a.x_train, batch), spec(a.y_train, batch), hp, key),
                     fingerprint(validation, params, spec(a.x_val, a.x_val.shape[1]),
                                 spec(a.y_val, a.y_val.shape[1]), hp))
        except Exception as err:  # noqa: BLE001 - the user's module: the real cause, with the config
            raise ValueError(f"the model failed for {dict(config)}: {explain(err)}") from None
        found = (hashlib.sha256("".join(parts).encode()).hexdigest(), params)
        self._modules.append((module, batch, found))
        return found

    def check(self, config: Mapping) -> None:
        missing = [k for k in self.traced_names if k not in config]
        if missing:
            raise ValueError(f"config lacks the traced hyperparameter(s) {missing}")
        if self.batch_size_of(config) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size_of(config)}")

    def traced(self, config: Mapping) -> tuple:
        return tuple(float(config[k]) for k in self.traced_names)

    def pack_traced(self, columns) -> dict:
        return dict(zip(self.traced_names, columns))

    # --- the module ------------------------------------------------------------------------
    def _config_of(self, key: ShapeKey) -> dict:
        if key not in self._representative:
            raise RuntimeError(f"no config of shape {key} was seen before its program was needed")
        return self._representative[key]

    def _kwargs(self, module, hp, train: bool, rng=None) -> dict:
        params = _call_parameters(module)
        kw = {}
        if "train" in params:
            kw["train"] = train
        elif "deterministic" in params:
            kw["deterministic"] = not train
        if self.traced_names:
            kw["hparams"] = hp
        if rng is not None:
            kw["rngs"] = {"dropout": rng}
        return kw

    def apply(self, module, params, x, hp, train: bool, rng=None):
        return module.apply({"params": params}, x, **self._kwargs(module, hp, train, rng))

    def _init_params(self, key: ShapeKey, config: Mapping, rng):
        """One fold's fresh params (a jitted ``module.init`` per shape: no compile per config)."""
        if key not in self._init_fns:
            module = self.model_fn(config)
            sample = np.asarray(self.arrays.x_train[0, :1])

            def init(rng, hp):
                kw = self._kwargs(module, hp, False)
                return module.init({"params": rng, "dropout": jax.random.fold_in(rng, 1)}, sample, **kw)["params"]

            self._init_fns[key] = jax.jit(init)
        hp = {k: jnp.float32(v) for k, v in zip(self.traced_names, self.traced(config))}
        return self._init_fns[key](rng, hp)

    def init_state(self, config: Mapping, shape: ShapeKey, config_id: int, sizes: Sizes) -> tuple:
        base = config_key(self.seed, config_id)
        folds = []
        for k in range(sizes.folds):
            params = self._init_params(shape, config, jax.random.fold_in(jax.random.fold_in(base, k), 3))
            opt_state = self.optimizer_fn(config).init(params)
            folds.append(jax.tree.map(np.asarray, (params, opt_state)))
        return jax.tree.map(lambda *xs: np.stack(xs), *folds)

    def empty_state(self, program: ProgramKey, sizes: Sizes) -> tuple:
        key = _shape_of(program)
        state = self.init_state(self._config_of(key), key, 0, sizes)
        return jax.tree.map(np.zeros_like, state)

    def program_fns(self, program: ProgramKey, sizes: Sizes) -> ProgramFns:
        key = _shape_of(program)
        config = self._config_of(key)
        module, tx = self.model_fn(config), self.optimizer_fn(config)  # traced values come from each state
        sign = -1.0 if self.direction == "max" else 1.0

        def loss(params, xb, yb, hp, dropout_key, depth):
            return self.loss_fn(self.apply(module, params, xb, hp, True, dropout_key), yb)

        def apply_gradients(params, opt_state, grads, hp, step, depth):
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        def val_loss(params, x_val, y_val, hp, depth):
            return sign * jnp.asarray(self.metric_fn(self.apply(module, params, x_val, hp, False), y_val), jnp.float32)

        return ProgramFns(loss, apply_gradients, val_loss)

    # --- cost ------------------------------------------------------------------------------
    def step_flops(self, shape: ShapeKey, static: tuple, bound: int | None, sizes: Sizes) -> float:
        """XLA's FLOP count of one training step's loss and gradient (``cost_analysis`` of the
        lowered step, per shape), times the folds (nothing pads: ``static`` is the shape's)."""
        if shape not in self._flops:
            config = self._config_of(shape)
            module = self.model_fn(config)
            params = jax.eval_shape(lambda: self._init_params(shape, config, jax.random.PRNGKey(0)))
            xb = jax.ShapeDtypeStruct((shape.batch_size, *self.arrays.x_train.shape[2:]), self.arrays.x_train.dtype)
            yb = jax.ShapeDtypeStruct((shape.batch_size, *self.arrays.y_train.shape[2:]), self.arrays.y_train.dtype)
            hp = {k: jax.ShapeDtypeStruct((), np.float32) for k in self.traced_names}

            def step(params, xb, yb, hp):
                return jax.grad(lambda p: self.loss_fn(self.apply(module, p, xb, hp, True, jax.random.PRNGKey(0)),
                                                       yb))(params)

            try:
                flops = float(jax.jit(step).lower(params, xb, yb, hp).cost_analysis().get("flops", 0.0))
            except Exception:  # noqa: BLE001 - no analysis on this backend: count the parameters instead
                flops = 0.0
            if flops <= 0:
                n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
                flops = 6.0 * n_params * shape.batch_size
            self._flops[shape] = flops
        return self._flops[shape] * sizes.folds

    def bytes_per_config(self, program: ProgramKey, sizes: Sizes) -> int:
        """A first estimate (XLA's ``memory_analysis`` replaces it once the program compiles):
        the state in and out and its gradients, plus a batch's and the validation set's inputs
        ten times over for activations."""
        key = _shape_of(program)
        config = self._config_of(key)
        params = jax.eval_shape(lambda: self._init_params(key, config, jax.random.PRNGKey(0)))
        state = jax.eval_shape(lambda p: self.optimizer_fn(config).init(p), params)
        state_bytes = sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves((params, state)))
        row = int(np.prod(self.arrays.x_train.shape[2:])) * 4
        return sizes.folds * (3 * state_bytes + 10 * row * (program.batch_size + sizes.val))

    def host_steps(self, device_kind: str) -> bool:
        """Convolutions on CPU train by host-driven steps: XLA CPU runs a convolution's weight
        gradient inside a loop through a slow path (JAX issue #12868; benchmarks/conv_in_loop.py)."""
        return device_kind == "cpu" and self.has_convolution

    # --- checks ----------------------------------------------------------------------------
    def check_fit(self, config: Mapping) -> None:
        """Raise ``ValueError`` if the model does not fit the data or the engine: the module must
        run on a batch of ``config``'s size with ``params`` as its only collection, the loss and
        the metric must give scalars, and predictions must have the targets' shape unless the
        loss is shape-safe (it builds no array larger than both: class logits against labels)
        or ``check_shapes=False``."""
        batch = min(self.batch_size_of(config), self.arrays.x_train.shape[1])
        x = jax.ShapeDtypeStruct((batch, *self.arrays.x_train.shape[2:]), self.arrays.x_train.dtype)
        y = jax.ShapeDtypeStruct((batch, *self.arrays.y_train.shape[2:]), self.arrays.y_train.dtype)
        hp = {k: jax.ShapeDtypeStruct((), np.float32) for k in self.traced_names}
        module = self._module(config)
        rngs = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}
        try:
            variables = jax.eval_shape(lambda x, hp: module.init(rngs, x, **self._kwargs(module, hp, False)), x, hp)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"the model failed: {explain(err)} (on a batch of shape {list(x.shape)})") from None
        extra = extra_collections(variables)
        if extra:
            raise ValueError(f"the model keeps variable collection(s) {extra} besides 'params'; only 'params' is "
                             f"trained" + (": BatchNorm's batch_stats are not supported, use nn.LayerNorm or "
                                           "nn.GroupNorm" if "batch_stats" in extra else ""))
        params = variables["params"]
        try:
            out = jax.eval_shape(lambda p, x, hp: self.apply(module, p, x, hp, False), params, x, hp)
            jax.eval_shape(lambda p, x, hp: self.apply(module, p, x, hp, True, jax.random.PRNGKey(2)), params, x, hp)
            forward = jax.make_jaxpr(lambda p, x, hp: self.apply(module, p, x, hp, False))(params, x, hp)
            self.has_convolution = "conv_general_dilated" in str(forward)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"the model failed: {explain(err)} (on a batch of shape {list(x.shape)})") from None
        for name, fn in (("loss", self.loss_fn), ("metric", self.metric_fn)):
            try:
                value = jax.eval_shape(fn, out, y)
            except Exception as err:  # noqa: BLE001
                raise ValueError(f"the model's output {out.dtype}{list(out.shape)} does not fit targets "
                                 f"{y.dtype}{list(y.shape)}: {name} raised {explain(err)}") from None
            if getattr(value, "shape", None) != ():
                raise ValueError(f"{name}(predictions, y) must be a scalar; on output {list(out.shape)} and targets "
                                 f"{list(y.shape)} it is shaped {list(getattr(value, 'shape', []))}")
            wide = broadcast_shape(fn, out, y) if self.check_shapes else None
            if wide is not None:
                raise ValueError(
                    f"the {name} broadcasts the model's predictions {list(out.shape)} against targets {list(y.shape)} "
                    f"to {list(wide)}: it would rank configs on a meaningless number. Give predictions the targets' "
                    f"shape (e.g. return `x[..., 0]` from the module for one output per row, or reshape y to "
                    f"{list(out.shape)}), or pass check_shapes=False if the {name} means to broadcast")
        self._optimizer(config)


def _same_module(a, b) -> bool:
    """Equal flax modules (same class, equal fields) compute the same function."""
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - fields that cannot be compared (arrays): not provably equal
        return False


def _call_parameters(module) -> set:
    if module is None:
        return set()
    try:
        return set(inspect.signature(type(module).__call__).parameters)
    except (TypeError, ValueError):
        return set()


def _fold_arrays(data) -> FoldArrays:
    """(x_train, y_train, x_val, y_val) as one fold, checked."""
    if isinstance(data, Mapping):
        data = [data[k] for k in ("x_train", "y_train", "x_val", "y_val")]
    try:
        x_tr, y_tr, x_val, y_val = (np.asarray(a) for a in data)
    except (TypeError, ValueError):
        raise ValueError("data must be (x_train, y_train, x_val, y_val)") from None
    for name, x, y in (("train", x_tr, y_tr), ("validation", x_val, y_val)):
        if x.ndim < 1 or y.ndim < 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"{name} inputs and targets must be non-empty with one row each "
                             f"(got {x.shape} and {y.shape})")
    for name, a in (("x_train", x_tr), ("x_val", x_val)):
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds NaN or infinite values")
    return FoldArrays(*(device_dtype(a)[None] for a in (x_tr, y_tr, x_val, y_val)))


def _shape_of(program: ProgramKey) -> ShapeKey:
    """The shape a program was made for (nothing pads: one shape per program)."""
    return ShapeKey(program.batch_size, program.data, program.static)
