"""Bring your own model: any ``flax.linen`` or ``flax.nnx`` module with any optax optimizer, on the engine.

    backend = hb.FlaxBackend(
        model=lambda cfg: CNN(width=cfg["width"], depth=cfg["depth"]),
        optimizer=lambda cfg: optax.inject_hyperparams(optax.adamw)(learning_rate=cfg["lr"],
                                                                     weight_decay=cfg["wd"]),
        loss=lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
        metric=lambda logits, y: (logits.argmax(-1) == y).mean(), direction="max",
        data=(x_train, y_train, x_val, y_val), batch_size="batch_size")
    hb.Hyperband(space, max_resource=27, eta=3).run(backend)

**What runs is what was proven.** For every config, right after its own ``model(config)`` and
``optimizer(config)`` calls, the functions its program runs are traced to jaxprs: the module's
initialisation, the training loss and its gradient, validation, the optimizer's update (and, for
this config alone, the optimizer's init). Configs share a program only where those jaxprs are
equal, constants, literals and nested jaxprs included (``hbjax.usermodel.sharing.fingerprint``), and the
program evaluates those very jaxprs: no later trace of the user's Python can read other values
(a global the factory filled, a closure, an array a nested ``jax.jit`` closes over). Each config
brings its own traced values: ``traced`` names reach the module as ``hparams``; what the optimizer
takes through ``optax.inject_hyperparams`` sits in that config's own optimizer state. Anything
else (widths, the optimizer's kind, a non-injected coefficient, a schedule or clip threshold, a
module field, a value read from a global) changes a jaxpr: those configs train apart. The one
assumption: a factory's Python is deterministic given the config.

**The module.** A ``flax.linen`` module, a ``flax.nnx`` module (its constructor's parameters are
every fold's start; it is put in ``.train()``/``.eval()`` mode and its RNG streams reseeded per
step), or an nnx module through ``nnx.bridge.to_linen``. Its train flag is found by name or given
as ``train_flag`` (``hbjax.usermodel.modules``); ``hparams={name: scalar}`` when ``traced`` is given,
and a ``"dropout"`` RNG when training. Only the parameters train (no ``batch_stats``: use
LayerNorm or GroupNorm); a traced dropout rate needs ``hbjax.nn.Dropout`` (flax's tests the rate
in Python). Predictions must have the targets' shape where the loss or the metric would broadcast
them (``check_shapes``). Resource = epochs; a survivor continues from its parameters and
optimizer state. The validation score is ``metric(predictions, y_val)`` (None: ``loss``),
minimised or, with ``direction="max"``, maximised: Hyperband's loss is then ``-metric``. This
client does not pad (``engine.model.Model``'s hook): its programs group by exact jaxprs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..engine.client import Model, Sizes
from ..engine.keys import ProgramKey, ShapeKey
from ..engine.program import FoldArrays, ProgramFns, config_key
from ..engine.settings import precision_context
from .checks import broadcast_shape, explain, fold_arrays
from .modules import Forward, adapt
from .sharing import Traced, config_token, fingerprint, live_inputs, trace

__all__ = ["FlaxModel"]

DIRECTIONS = ("min", "max")


class ProgramJaxprs(NamedTuple):
    """What a program runs, traced from one config (proven equal for every config of it)."""

    init: Traced | None  # (rng, x, hp) -> params; None: nnx (each config's own parameters)
    loss_and_grad: Traced  # (params, xb, yb, hp, rng) -> (loss, grads)
    validation: Traced  # (params, x_val, y_val, hp) -> metric
    update: Traced  # (grads, opt_state, params) -> (params, opt_state), key states as raw key data


class ConfigProof(NamedTuple):
    """One config's traced functions and what the sharing report needs of them."""

    program: str  # the fingerprint of ``jaxprs`` (its program id)
    jaxprs: ProgramJaxprs
    opt_init: Traced  # params -> opt_state (typed keys as traced), this config's own
    opt_init_id: str
    reads: frozenset  # the traced hyperparameters the training loss reads
    injected: tuple  # float32 values in the optimizer state's inject_hyperparams
    kind: str  # "linen" | "nnx"


class FlaxModel(Model):
    """The engine's client for a user's flax module and optax optimizer (see the module doc)."""

    def __init__(
        self,
        model: Callable[[Mapping], Any],
        optimizer: Callable[[Mapping], Any],
        loss: Callable,
        data: Sequence,
        *,
        metric: Callable | None = None,
        direction: str = "min",
        batch_size: str | int = "batch_size",
        traced: Sequence[str] = (),
        seed: int = 0,
        share: bool = True,
        check_shapes: bool = True,
        cost_kind: str = "flax",
        train_flag: str | None = None,
        precision: str = "highest",
    ):
        if not callable(model) or not callable(optimizer) or not callable(loss):
            raise ValueError(
                "model, optimizer and loss must be callables (model(config) -> flax module, "
                "optimizer(config) -> optax transformation, loss(predictions, y) -> scalar)"
            )
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if isinstance(traced, str) or not all(isinstance(t, str) for t in traced):
            raise ValueError(f"traced must be a list of hyperparameter names, got {traced!r}")
        self.model_fn, self.optimizer_fn, self.loss_fn = model, optimizer, loss
        self.metric_fn = metric if metric is not None else loss
        self.direction = direction
        self.batch_key = batch_size
        self.traced_names = tuple(traced)
        self.traced_dtypes = (np.float32,) * len(self.traced_names)
        self.seed = int(seed)
        self.arrays, self.given = fold_arrays(data)
        self.share = bool(share)
        self.check_shapes = bool(check_shapes)
        self.cost_kind = str(cost_kind)
        self.train_flag = train_flag
        self.precision = precision
        self.seen: dict = {}  # config_token -> config, every config given a program so far
        self.has_convolution = False  # set by check_fit: a convolution in the model's forward pass
        self.trace_seconds = 0.0  # spent proving configs (tracing and fingerprinting)
        self._reset()

    def _reset(self) -> None:
        self._proofs: dict = {}  # config_token -> ConfigProof
        self._programs: dict = {}  # program id -> ProgramJaxprs (the first config's: equal for all)
        self._representative: dict = {}  # ShapeKey -> a config of that shape (its jaxprs are the program's)
        self._init_fns: dict = {}
        self._flops: dict = {}

    # --- what a config is ------------------------------------------------------------------
    def data(self, key: int) -> FoldArrays:
        return self.arrays

    def batch_size_of(self, config: Mapping) -> int:
        if isinstance(self.batch_key, str):
            if self.batch_key not in config:
                raise ValueError(
                    f"config has no {self.batch_key!r} (the batch_size hyperparameter); give "
                    f"batch_size=<int> for a fixed one"
                )
            return int(config[self.batch_key])
        return int(self.batch_key)

    def shape(self, config: Mapping) -> ShapeKey:
        """The config's program: its batch size and the proven fingerprint of what it runs
        (``program_id``); configs share a program only where both are equal."""
        key = ShapeKey(self.batch_size_of(config), 0, (("program", self.program_id(config)),))
        self._representative.setdefault(key, dict(config))
        return key

    def program_id(self, config: Mapping) -> str:
        """The fingerprint of ``config``'s program (``ProgramJaxprs``, traced for this config).
        Configs with equal ids run the same jaxprs on their own traced values and states:
        training one in a shared program is training it alone. ``share=False``: every config
        its own program (its own jaxprs all the same)."""
        proof = self.proof(config)
        if self.share:
            return proof.program
        return "alone-" + hashlib.sha256(repr(config_token(config)).encode()).hexdigest()[:16]

    def proof(self, config: Mapping) -> ConfigProof:
        """``config``'s traced functions (traced once per distinct config)."""
        token = config_token(config)
        if token not in self._proofs:
            t0 = time.perf_counter()
            self._proofs[token] = self._prove(config)
            self.trace_seconds += time.perf_counter() - t0
            self.seen[token] = dict(config)
        return self._proofs[token]

    def alone(self) -> FlaxModel:
        """This model with no sharing: every config its own program, built from its own traced
        functions (what ``verify`` compares shared programs with)."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.share, other.seen, other.trace_seconds = False, {}, 0.0
        other._reset()
        return other

    def _forward(self, config: Mapping) -> Forward:
        try:
            module = self.model_fn(config)
        except Exception as err:  # noqa: BLE001 - the user's factory: name what failed
            raise ValueError(f"model(config) failed for {dict(config)}: {type(err).__name__}: {err}") from None
        return adapt(module, self.traced_names, self.train_flag)

    def _factories(self, config: Mapping) -> tuple[Forward, Any]:
        """``config``'s module and optimizer, its two factories called in the one order every
        trace of it follows (a factory may fill state the other reads)."""
        return self._forward(config), self._optimizer(config)

    def _optimizer(self, config: Mapping):
        try:
            tx = self.optimizer_fn(config)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"optimizer(config) failed for {dict(config)}: {type(err).__name__}: {err}") from None
        if not hasattr(tx, "init") or not hasattr(tx, "update"):
            raise ValueError(f"optimizer(config) must return an optax GradientTransformation, got {type(tx).__name__}")
        return tx

    def _specs(self, batch: int):
        a = self.arrays
        spec = lambda arr, rows: jax.ShapeDtypeStruct((rows, *arr.shape[2:]), arr.dtype)
        return (
            spec(a.x_train, batch),
            spec(a.y_train, batch),
            spec(a.x_val, a.x_val.shape[1]),
            spec(a.y_val, a.y_val.shape[1]),
            spec(a.x_train, 1),
        )

    def _hp_spec(self) -> dict:
        return {k: jax.ShapeDtypeStruct((), np.float32) for k in self.traced_names}

    def _prove(self, config: Mapping) -> ConfigProof:
        """Call this config's factories and trace, right away, everything its program runs."""
        forward, tx = self._factories(config)
        xb, yb, x_val, y_val, x1 = self._specs(self.batch_size_of(config))
        key, hp = jax.ShapeDtypeStruct((2,), np.uint32), self._hp_spec()
        loss_fn, metric_fn = self.loss_fn, self.metric_fn

        def train_loss(params, xb, yb, hp, rng):
            return jax.value_and_grad(lambda p: loss_fn(forward.apply(p, xb, hp, True, rng), yb))(params)

        def validation(params, x, y, hp):
            return metric_fn(forward.apply(params, x, hp, False), y)

        with precision_context(self.precision):
            try:
                if forward.init is not None:
                    init = trace(forward.init, key, x1, hp)
                    params = init.out_shape
                else:
                    init, params = None, jax.eval_shape(lambda: forward.params)
                loss_and_grad = trace(train_loss, params, xb, yb, hp, key)
                val = trace(validation, params, x_val, y_val, hp)
            except Exception as err:  # noqa: BLE001 - the user's module: the real cause, with the config
                raise ValueError(f"the model failed for {dict(config)}: {explain(err)}") from None
            try:
                opt_init = trace(tx.init, params)
                keys = opt_init.out_shape  # where typed PRNG keys sit: the engine keeps their key data

                def update(grads, raw_state, params):
                    updates, state = tx.update(grads, _wrap_keys(raw_state, keys), params)
                    return optax.apply_updates(params, updates), _key_data(state)

                update_fn = trace(update, params, jax.eval_shape(_key_data, keys), params)
            except Exception as err:  # noqa: BLE001 - the user's optimizer: name the config and the cause
                raise ValueError(
                    f"optimizer(config) cannot update the model's parameters for {dict(config)}: {explain(err)}"
                ) from None
        jaxprs = ProgramJaxprs(init, loss_and_grad, val, update_fn)
        program = fingerprint(*(f for f in jaxprs if f is not None))[:16]
        live = live_inputs(loss_and_grad)
        hp_leaves = loss_and_grad.arg_leaves(3)  # sorted names, as a dict flattens
        reads = frozenset(name for name, i in zip(sorted(self.traced_names), hp_leaves) if live[i])
        jaxprs = self._programs.setdefault(program, jaxprs)  # equal fingerprints: one copy kept per program
        return ConfigProof(program, jaxprs, opt_init, fingerprint(opt_init), reads, _injected(tx), forward.kind)

    def _jaxprs(self, key: ShapeKey) -> ProgramJaxprs:
        if key not in self._representative:
            raise RuntimeError(f"no config of shape {key} was seen before its program was needed")
        return self.proof(self._representative[key]).jaxprs

    def check(self, config: Mapping) -> None:
        missing = [k for k in self.traced_names if k not in config]
        if missing:
            raise ValueError(f"config lacks the traced hyperparameter(s) {missing}")
        for name in self.traced_names:
            self.check_traced(name, config[name])
        if self.batch_size_of(config) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size_of(config)}")

    @staticmethod
    def check_traced(name: str, value) -> None:
        """Raise ``ValueError`` unless ``value`` of traced hyperparameter ``name`` is a real number."""
        if isinstance(value, (str, bytes)) or not np.isscalar(value) or not np.isreal(value):
            raise ValueError(
                f"traced hyperparameter {name!r} is {value!r} ({type(value).__name__}): traced values "
                f"enter the program as float32 numbers; leave {name!r} out of traced= (static: the "
                f"module reads it from the config, one program per value)"
            )

    def traced(self, config: Mapping) -> tuple:
        return tuple(float(config[k]) for k in self.traced_names)

    def pack_traced(self, columns) -> dict:
        return dict(zip(self.traced_names, columns))

    # --- states ----------------------------------------------------------------------------
    def _init_params(self, key: ShapeKey, config: Mapping, rng):
        """One fold's fresh params: the program's init jaxpr (jitted once per program)."""
        init = self._jaxprs(key).init
        if key not in self._init_fns:
            self._init_fns[key] = jax.jit(lambda rng, x, hp: init(rng, x, hp))
        hp = {k: jnp.float32(v) for k, v in zip(self.traced_names, self.traced(config))}
        return self._init_fns[key](rng, np.asarray(self.arrays.x_train[0, :1]), hp)

    def init_state(self, config: Mapping, shape: ShapeKey, config_id: int, sizes: Sizes) -> tuple:
        base = config_key(self.seed, config_id)
        opt_init = self.proof(config).opt_init
        own = self._forward(config).params if self._jaxprs(shape).init is None else None  # nnx: its constructor's
        folds = []
        for k in range(sizes.folds):
            params = (
                own
                if own is not None
                else self._init_params(shape, config, jax.random.fold_in(jax.random.fold_in(base, k), 3))
            )
            opt_state = _key_data(opt_init(params))  # the jaxpr holds its matmul precision already
            folds.append(jax.tree.map(np.asarray, (params, opt_state)))
        return jax.tree.map(lambda *xs: np.stack(xs), *folds)

    def empty_state(self, program: ProgramKey, sizes: Sizes) -> tuple:
        state = self._jaxprs(_shape_of(program)).update.out_shape  # (params, opt_state)
        return jax.tree.map(lambda a: np.zeros((sizes.folds, *a.shape), a.dtype), state)

    def program_fns(self, program: ProgramKey, sizes: Sizes) -> ProgramFns:
        """The program evaluates the jaxprs traced from its configs (``ProgramJaxprs``)."""
        jaxprs = self._jaxprs(_shape_of(program))
        sign = -1.0 if self.direction == "max" else 1.0

        def loss_and_grad(params, xb, yb, hp, dropout_key, depth):
            return jaxprs.loss_and_grad(params, xb, yb, hp, dropout_key)

        def loss(params, xb, yb, hp, dropout_key, depth):
            return loss_and_grad(params, xb, yb, hp, dropout_key, depth)[0]

        def apply_gradients(params, opt_state, grads, hp, step, depth):
            return jaxprs.update(grads, opt_state, params)

        def val_loss(params, x_val, y_val, hp, depth):
            return sign * jnp.asarray(jaxprs.validation(params, x_val, y_val, hp), jnp.float32)

        return ProgramFns(loss, apply_gradients, val_loss, loss_and_grad)

    # --- cost ------------------------------------------------------------------------------
    def step_flops(self, shape: ShapeKey, static: tuple, bound: int | None, sizes: Sizes) -> float:
        """XLA's FLOP count of one training step's loss and gradient (``cost_analysis`` of the
        program's lowered loss-and-gradient jaxpr), times the folds."""
        if shape not in self._flops:
            fn = self._jaxprs(shape).loss_and_grad
            args = jax.tree.unflatten(
                fn.in_tree, [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in fn.jaxpr.jaxpr.invars]
            )
            try:
                flops = float(jax.jit(lambda *a: fn(*a)).lower(*args).cost_analysis().get("flops", 0.0))
            except Exception:  # noqa: BLE001 - no analysis on this backend: count the parameters instead
                flops = 0.0
            if flops <= 0:
                flops = 6.0 * _size(args[0]) * shape.batch_size
            self._flops[shape] = flops
        return self._flops[shape] * sizes.folds

    def bytes_per_config(self, program: ProgramKey, sizes: Sizes) -> int:
        """A first estimate (XLA's ``memory_analysis`` replaces it once the program compiles):
        the state in and out and its gradients, plus a batch's and the validation set's inputs
        ten times over for activations."""
        params, state = self._jaxprs(_shape_of(program)).update.out_shape
        state_bytes = sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves((params, state)))
        row = int(np.prod(self.arrays.x_train.shape[2:])) * 4
        return sizes.folds * (3 * state_bytes + 10 * row * (program.batch_size + sizes.val))

    def host_steps(self, device_kind: str) -> bool:
        """Convolutions on CPU train by host-driven steps: XLA CPU runs a convolution's weight
        gradient inside a loop through a slow path (JAX issue #12868; benchmarks/conv_in_loop.py)."""
        return device_kind == "cpu" and self.has_convolution

    # --- what the report says ----------------------------------------------------------------
    def how_shared(self, name: str, members: Sequence[Mapping]) -> str:
        """Why hyperparameter ``name`` can vary among ``members``, configs of one shared program
        (equal jaxprs): what is proven, else ``unknown``."""
        if name in self.traced_names:
            return "traced= (the module gets it in hparams)"
        proofs = [self.proof(c) for c in members]
        if any(p.kind == "nnx" for p in proofs):
            return "unknown: an nnx module's constructor sets each config's initial parameters"
        values = [c.get(name) for c in members]
        if all(_is_number(v) and np.float32(v) in p.injected for v, p in zip(values, proofs)):
            return "optax.inject_hyperparams (its value is in the optimizer state)"
        first = members[0]
        other = next(c for c in members if repr(c.get(name)) != repr(first.get(name)))
        params = proofs[0].jaxprs.update.out_shape[0]
        if self._opt_init_id({**first, name: other.get(name)}, params) == proofs[0].opt_init_id:
            return (
                "not read (these configs run the same jaxprs, and changing it alone leaves the optimizer's init "
                "the same jaxpr)"
            )
        return "unknown: it changes the optimizer's init (optimizer(config).init reads it, not injected)"

    def _opt_init_id(self, config: Mapping, params) -> str:
        """The fingerprint of ``config``'s optimizer init on abstract ``params``, its factories
        called in the order a proof calls them."""
        _, tx = self._factories(config)
        with precision_context(self.precision):
            return fingerprint(trace(tx.init, params))

    # --- checks ----------------------------------------------------------------------------
    def check_fit(self, config: Mapping) -> None:
        """Raise ``ValueError`` if the model does not fit the data or the engine: the module must
        run on a batch of ``config``'s size and on the validation rows with its parameters as its
        only variables, the loss and the metric must give scalars on both, and predictions must
        have the targets' shape unless neither broadcasts them (class logits against labels) or
        ``check_shapes=False``."""
        a = self.arrays
        batch = min(self.batch_size_of(config), a.x_train.shape[1])
        x, y, x_val, y_val, _ = self._specs(batch)
        hp = self._hp_spec()
        forward = self._forward(config)
        try:
            extra = forward.extra(x, hp)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"the model failed: {explain(err)} (on a batch of shape {list(x.shape)})") from None
        if extra:
            raise ValueError(
                f"the model keeps variable(s) {list(extra)} besides 'params'; only 'params' is trained"
                + (
                    ": BatchNorm's batch_stats are not supported, use nn.LayerNorm or nn.GroupNorm"
                    if any("batch" in e.lower() for e in extra)
                    else ""
                )
            )
        with precision_context(self.precision):
            try:
                params = (
                    jax.eval_shape(forward.init, jax.random.PRNGKey(0), x, hp)
                    if forward.init is not None
                    else forward.params
                )
                out = jax.eval_shape(lambda p, x, hp: forward.apply(p, x, hp, False), params, x, hp)
                jax.eval_shape(lambda p, x, hp: forward.apply(p, x, hp, True, jax.random.PRNGKey(2)), params, x, hp)
                out_val = jax.eval_shape(lambda p, x, hp: forward.apply(p, x, hp, False), params, x_val, hp)
                jaxpr = jax.make_jaxpr(lambda p, x, hp: forward.apply(p, x, hp, False))(params, x, hp)
                self.has_convolution = "conv_general_dilated" in str(jaxpr)
            except Exception as err:  # noqa: BLE001
                raise ValueError(f"the model failed: {explain(err)} (on a batch of shape {list(x.shape)})") from None
        for split, o, t, given in (
            ("training", out, y, self.given["y_train"]),
            ("validation", out_val, y_val, self.given["y_val"]),
        ):
            for name, fn in (("loss", self.loss_fn), ("metric", self.metric_fn)):
                self._check_output(split, name, fn, o, t, given)
        self._optimizer(config)

    def _check_output(self, split: str, name: str, fn, out, y, given: str) -> None:
        targets = f"{split} targets {given.split('[')[0]}{list(y.shape)}"
        try:
            value = jax.eval_shape(fn, out, y)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"the model's output {out.dtype}{list(out.shape)} does not fit {targets}: {name} raised {explain(err)}"
            ) from None
        if getattr(value, "shape", None) != ():
            raise ValueError(
                f"{name}(predictions, y) must be a scalar; on output {list(out.shape)} and {targets} it "
                f"is shaped {list(getattr(value, 'shape', []))}"
            )
        wide = broadcast_shape(fn, out, y) if self.check_shapes else None
        if wide is not None:
            raise ValueError(
                f"the {name} broadcasts the model's predictions {list(out.shape)} against {targets} to {list(wide)}: it "
                f"would rank configs on a meaningless number. Give predictions the targets' shape (e.g. return "
                f"`x[..., 0]` from the module for one output per row, or reshape y to {list(out.shape)}), or pass "
                f"check_shapes=False if the {name} means to broadcast"
            )

    def check_reads(self, configs: Sequence[Mapping]) -> None:
        """Raise ``ValueError`` for a hyperparameter in ``traced`` that no config's training loss
        reads (among ``configs``): its value would change nothing, silently."""
        if not configs:
            return
        forward = self._forward(configs[0])
        read = set().union(*(self.proof(c).reads for c in configs))
        unread = [name for name in self.traced_names if name not in read]
        if unread:
            raise ValueError(
                f"traced hyperparameter(s) {unread} are never read by the training loss of any of {len(configs)} "
                f"configs tried: their values would change nothing. hbjax calls the module with "
                f"{forward.flag.describe()}; if the module reads hparams{unread[:1]} only when training, name its "
                f"train flag with train_flag='...' (or 'not ...' for one that is False while training). An "
                f"nnx.bridge.to_linen wrapper hides the nnx module's flag: return the nnx module itself. If the "
                f"module does not use it, leave it out of traced="
            )


def _key_data(tree):
    """``tree`` with every typed PRNG key as its raw key data (what the engine keeps on the host)."""
    return jax.tree.map(lambda a: jax.random.key_data(a) if _is_key(a) else a, tree)


def _wrap_keys(raw, template):
    """The inverse of ``_key_data`` where ``template`` (abstract) holds typed keys."""
    return jax.tree.map(
        lambda r, t: jax.random.wrap_key_data(r, impl=t.dtype._impl) if _is_key(t) else r, raw, template
    )


def _is_key(a) -> bool:
    return jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _injected(tx) -> tuple:
    """The float32 values ``optax.inject_hyperparams`` keeps in ``tx``'s state (found on an
    empty parameter tree; none where the optimizer needs real parameters to start)."""
    try:
        state = tx.init({})
    except Exception:  # noqa: BLE001 - an optimizer that needs real params: nothing to show
        return ()
    found = jax.tree_util.tree_flatten_with_path(state)[0]
    return tuple(
        np.float32(v)
        for path, v in found
        if "hyperparams" in jax.tree_util.keystr(path) and np.ndim(v) == 0 and not _is_key(v)
    )


def _size(tree) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))


def _shape_of(program: ProgramKey) -> ShapeKey:
    """The shape a program was made for (nothing pads: one shape per program)."""
    return ShapeKey(program.batch_size, program.data, program.static)
