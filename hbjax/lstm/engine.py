"""Train a whole rung of LSTM configs as a few compiled programs, continuing survivors.

``plan.plan_rung`` decides which configs share which program (padded hidden units and depth,
static batch size and window) and on which device each call runs. Every program is compiled ahead
of time (``jit(...).lower(...).compile()``) on a background thread in the order the rung needs
them, so the next program compiles while the current one trains. Inside a program, configs run
one after another (``lax.map``, CPU) or side by side (``vmap``, accelerators); walk-forward folds
are always vmapped. Steps are a ``fori_loop`` with traced bounds, so one program trains 1.2 epochs
in rung 0 and a survivor's 2.5 more in rung 1. Randomness of config ``c`` on fold ``k`` comes from
``fold_in(fold_in(key(seed), c), k)``.

States live on the host in each config's own (unpadded) layout: a config can run padded in one
rung and exactly in the next, and checkpoints do not depend on the plan.
"""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from . import network, optim
from .init import init_params
from .network import ACTIVATIONS, Traced
from .plan import Call, ProgramKey, RungPlan, ShapeKey, padded_hidden_map, plan_rung, shape_key

__all__ = ["FoldArrays", "LSTMEngine", "steps_for", "config_key", "encode_hparams"]


class FoldArrays(NamedTuple):
    """Training data of one window length, stacked over K folds (float32)."""

    x_train: jax.Array  # [K, Ntr, W, F]
    y_train: jax.Array  # [K, Ntr]
    x_val: jax.Array  # [K, Nval, W, F]
    y_val: jax.Array  # [K, Nval]


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


_TRACED_DTYPES = (np.float32, np.float32, np.int32, np.int32, np.int32, np.float32, np.float32, np.float32,
                  np.float32, np.float32)


def steps_for(resource: float, steps_per_epoch: int) -> int:
    """Optimizer steps for ``resource`` epochs (rounded half up, so 1.2346 epochs of 46 steps is
    57 steps). A pure function of the resource: continuing from r1 to r2 runs exactly the steps
    between, and training to r2 in one go runs the same steps."""
    return int(math.floor(resource * steps_per_epoch + 0.5))


def config_key(seed: int, config_id: int) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(seed), config_id)


def make_train(program: ProgramKey, n_train: int, activations: tuple[int, ...]) -> Callable:
    """The pure train function of one program: (params, moments, traced, keys, data..., start,
    stop) for ``width`` configs x K folds -> (params, moments, val MSE [N, K], train loss [N, K])."""
    batch, spe = program.batch_size, n_train // program.batch_size

    def loss_fn(params, xb, yb, hp, dkey):
        return jnp.mean((network.predict(params, xb, hp, activations, dkey) - yb) ** 2)

    def train_fold(params, moments, hp, key, x_tr, y_tr, x_val, y_val, start, stop):
        shuffle_key, drop_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)

        def epoch(e, carry):
            # one shuffle per epoch; the steps of epoch e that fall inside [start, stop)
            perm = jax.random.permutation(jax.random.fold_in(shuffle_key, e), n_train)

            def step(b, carry):
                params, moments, loss_sum = carry
                idx = jax.lax.dynamic_slice(perm, (b * batch,), (batch,))
                s = e * spe + b
                loss, grads = jax.value_and_grad(loss_fn)(params, x_tr[idx], y_tr[idx], hp,
                                                          jax.random.fold_in(drop_key, s))
                params, moments = optim.update(params, moments, grads, hp, s + 1, stacked=network.STACKED,
                                               active=hp.layers - 1)
                return params, moments, loss_sum + loss

            first = jnp.clip(start - e * spe, 0, spe)
            last = jnp.clip(stop - e * spe, 0, spe)
            return jax.lax.fori_loop(first, last, step, carry)

        carry = (params, moments, jnp.zeros((), jnp.float32))
        params, moments, loss_sum = jax.lax.fori_loop(start // spe, (stop + spe - 1) // spe, epoch, carry)
        val_mse = jnp.mean((network.predict(params, x_val, hp, activations) - y_val) ** 2)
        return params, moments, val_mse, loss_sum / jnp.maximum(stop - start, 1)

    per_config = jax.vmap(train_fold, in_axes=(0, 0, None, 0, 0, 0, 0, 0, None, None))

    def train(params, moments, hp, keys, active, x_tr, y_tr, x_val, y_val, start, stop):
        if program.batching == "vmap":  # every slot computes (an idle one repeats a real config)
            return jax.vmap(per_config, in_axes=(0, 0, 0, 0) + (None,) * 6)(
                params, moments, hp, keys, x_tr, y_tr, x_val, y_val, start, stop)

        def one(a):  # configs one after another; an empty slot is skipped outright
            params, moments, hp, keys, on = a
            nan = jnp.full(keys.shape[:1], jnp.nan, jnp.float32)
            return jax.lax.cond(on, lambda: per_config(params, moments, hp, keys, x_tr, y_tr, x_val, y_val,
                                                       start, stop),
                                lambda: (params, moments, nan, nan))

        return jax.lax.map(one, (params, moments, hp, keys, active))

    return train


def _resize_state(state, hidden: int, layers: int):
    """(params, (m, v)) padded or cut to ``hidden`` units and ``layers`` layers (exact both ways)."""
    return jax.tree.map(lambda d: network.resize_params(d, hidden, layers), state,
                        is_leaf=lambda t: isinstance(t, dict))


@dataclass
class LSTMEngine:
    """Plans, compiles and runs rungs; holds the trained state of every live config.

    ``fold_arrays(window) -> FoldArrays`` supplies data. ``plan``: ``auto`` | ``exact`` | ``wide``
    (see ``plan.py``). ``configs_per_program``: configs per call (None: by plan). ``max_layers``:
    the depth programs pad to (the space's largest). ``activations``: the activations configs may
    use (one -> it is compiled in statically)."""

    fold_arrays: Callable[[int], FoldArrays]
    seed: int = 0
    configs_per_program: int | None = None
    plan: str = "auto"
    memory_limit_bytes: int = 2 << 30
    default_window: int = 20
    devices: Sequence | None = None
    max_layers: int | None = None
    activations: tuple[str, ...] = ACTIVATIONS
    padded_hidden: dict | None = None  # (hidden, batch, window) -> padded hidden, fixed per run
    compiler_options: dict | None = None  # XLA options of every train program (None: by device)
    # window -> [K] divisors of each fold's validation MSE before the mean over folds (None: 1).
    # The backend passes persistence's MSE, so a loss is 1 - skill and folds weigh the same
    fold_loss_scale: Callable[[int], np.ndarray] | None = None
    compiles: int = 0  # train programs compiled (one per program: it spans every device)
    compile_seconds: float = 0.0
    compile_cpu_seconds: float = 0.0
    states: dict = field(default_factory=dict)  # config_id -> (params, (m, v)), numpy, leading axis K
    rung_stats: list = field(default_factory=list)  # one dict per train() call
    _compiled: dict = field(default_factory=dict)
    _data: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # compile threads read data too

    def __post_init__(self):
        self.devices = list(self.devices) if self.devices is not None else jax.local_devices()
        self.device_kind = self.devices[0].platform
        # one program spans every device (shard_map over the slot axis): a single compile, and each
        # device runs its own slots; devices do not wait for each other (no collectives)
        self.mesh = Mesh(np.array(self.devices), ("d",))
        if self.compiler_options is None and self.device_kind == "cpu":
            # LLVM -O1 instead of -O2: on the 2-core CPU a train program compiled 1.9 s instead of
            # 2.6 s and trained an epoch in 0.57 s instead of 0.72 s (H64 L3 B32, NVDA fold)
            self.compiler_options = {"xla_backend_optimization_level": 1}
        # compiles run ahead of training, two at a time: a rung's first programs are ready sooner
        # while the devices would otherwise idle (XLA compiles outside the GIL)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hbjax-compile")

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    # --- data ------------------------------------------------------------------------------
    def host_data(self, window: int) -> FoldArrays:
        with self._lock:
            if (window, None) not in self._data:
                arrays = self.fold_arrays(window)
                self._data[(window, None)] = FoldArrays(*(np.asarray(a, dtype=np.float32) for a in arrays))
            return self._data[(window, None)]

    def data(self, window: int) -> FoldArrays:
        """The window's folds, replicated on every device."""
        with self._lock:
            if (window, "devices") not in self._data:
                self._data[(window, "devices")] = jax.device_put(self.host_data(window),
                                                                 NamedSharding(self.mesh, P()))
            return self._data[(window, "devices")]

    def _sizes(self, window: int) -> tuple[int, int, int, int]:
        d = self.host_data(window)
        return d.x_train.shape[0], d.x_train.shape[1], d.x_val.shape[1], d.x_train.shape[-1]

    # --- planning --------------------------------------------------------------------------
    def configure(self, *, hiddens: Sequence[int], batch_sizes: Sequence[int], windows: Sequence[int],
                  layers: Sequence[int], config_epochs: float) -> None:
        """Fix the run's programs from the space's shape choices and the run's expected
        config-epochs (``plan.padded_hidden_map``); depth pads to the deepest choice."""
        self.max_layers = int(max(layers))
        sizes = {int(w): self._sizes(int(w)) for w in windows}
        self.padded_hidden = padded_hidden_map(
            self.plan, self.device_kind, hiddens=hiddens, batch_sizes=batch_sizes, layers=layers,
            config_epochs=config_epochs, sizes={w: (k, n, f) for w, (k, n, _, f) in sizes.items()})

    def steps_per_epoch(self, batch_size: int, window: int) -> int:
        n_train = self._sizes(window)[1]
        if n_train < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {n_train} training windows of a fold")
        return n_train // batch_size

    def plan_rung(self, configs: Sequence[Mapping], resource: float, previous_resource: Sequence[float]) -> RungPlan:
        shapes = [shape_key(c, self.default_window) for c in configs]
        starts, stops = [], []
        for s, prev in zip(shapes, previous_resource):
            spe = self.steps_per_epoch(s.batch_size, s.window)
            starts.append(steps_for(prev, spe))
            stops.append(steps_for(resource, spe))
        windows = sorted({s.window for s in shapes})
        n_folds, n_train, n_val, n_features = self._sizes(windows[0]) if windows else (1, 1, 1, 1)
        max_layers = self.max_layers
        if max_layers is not None and shapes:
            max_layers = max(max_layers, *(s.layers for s in shapes))
        return plan_rung(shapes, starts, stops, device_kind=self.device_kind, n_devices=self.n_devices,
                         mode=self.plan, width=self.configs_per_program, max_layers=max_layers,
                         padded_hidden=self.padded_hidden,
                         n_features=n_features, n_folds=n_folds, n_train=n_train, n_val=n_val,
                         memory_bytes=self.memory_limit_bytes)

    # --- programs --------------------------------------------------------------------------
    def _allowed_activations(self) -> tuple[int, ...]:
        return tuple(sorted(ACTIVATIONS.index(a) for a in set(self.activations)))

    def _compile(self, program: ProgramKey) -> Callable:
        t0, cpu0 = time.perf_counter(), time.thread_time()
        n_folds, n_train, n_val, n_features = self._sizes(program.window)
        fn = make_train(program, n_train, self._allowed_activations())
        slots, rep = P("d"), P()
        sharded = jax.shard_map(fn, mesh=self.mesh, in_specs=(slots,) * 5 + (rep,) * 6, out_specs=slots,
                                check_vma=False)
        n = program.width * self.n_devices

        def spec(shape, dtype, part):
            return jax.ShapeDtypeStruct(tuple(shape), dtype, sharding=NamedSharding(self.mesh, part))

        template = self._padded_state(None, None, program, n_features, n_folds)
        state_spec = jax.tree.map(lambda a: spec((n, *a.shape), np.float32, slots), template)
        hp_spec = Traced(*(spec((n,), dt, slots) for dt in _TRACED_DTYPES))
        key_spec = spec((n, n_folds, 2), np.uint32, slots)
        active_spec = spec((n,), np.bool_, slots)
        data_spec = [spec(a.shape, np.float32, rep) for a in self.host_data(program.window)]
        scalar = spec((), np.int32, rep)
        compiled = jax.jit(sharded).lower(state_spec[0], state_spec[1], hp_spec, key_spec, active_spec, *data_spec,
                                          scalar, scalar).compile(compiler_options=self.compiler_options)
        with self._lock:
            self.compiles += 1
            self.compile_seconds += time.perf_counter() - t0  # wall: long when training runs beside it
            self.compile_cpu_seconds += time.thread_time() - cpu0  # this thread only: XLA also uses its own
        return compiled

    def _compiled_future(self, program: ProgramKey) -> Future:
        with self._lock:
            if program not in self._compiled:
                self._compiled[program] = self._pool.submit(self._compile, program)
            return self._compiled[program]

    # --- states ----------------------------------------------------------------------------
    def _fresh_state(self, key: ShapeKey, config_id: int):
        """A new config's (params, (m, v)) at its own shape, stacked over folds (NumPy)."""
        n_folds, _, _, n_features = self._sizes(key.window)
        folds = [init_params(key.hidden, key.layers, n_features, np.random.default_rng([self.seed, config_id, k]))
                 for k in range(n_folds)]
        params = {name: np.stack([f[name] for f in folds]) for name in folds[0]}
        zeros = {name: np.zeros_like(a) for name, a in params.items()}
        return params, (zeros, dict(zeros))

    def _padded_state(self, key: ShapeKey | None, config_id, program: ProgramKey, n_features, n_folds):
        """The state of ``config_id`` (stored, or fresh) padded to ``program``; ``key=None``: zeros."""
        if key is None:
            params = init_params(1, 1, n_features, np.random.default_rng(0))
            params = {k: np.zeros((n_folds, *v.shape), np.float32) for k, v in params.items()}
            state = (params, (params, params))
        elif config_id in self.states:
            state = self.states[config_id]
        else:
            state = self._fresh_state(key, config_id)
        return _resize_state(state, program.hidden, program.layers)

    def release(self, config_ids: Sequence[int]) -> None:
        for cid in config_ids:
            self.states.pop(cid, None)

    # --- training --------------------------------------------------------------------------
    def train(self, config_ids: Sequence[int], configs: Sequence[Mapping], resource: float,
              previous_resource: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Train each config from ``previous_resource`` to ``resource`` epochs (new configs start
        fresh, others continue from their stored state). Returns (val MSE mean over folds,
        train loss mean over folds) per config; NaN where a config diverged."""
        t_rung = time.perf_counter()
        n = len(config_ids)
        val = np.full(n, np.nan)
        train_loss = np.full(n, np.nan)
        hps = [encode_hparams(c) for c in configs]
        allowed = set(self.activations)
        for c in configs:
            if c.get("activation", "tanh") not in allowed:
                raise ValueError(f"activation {c.get('activation', 'tanh')!r} is not among this engine's "
                                 f"activations {tuple(self.activations)}")
        plan = self.plan_rung(configs, resource, previous_resource)
        for pos, prev in enumerate(previous_resource):
            if prev > 0 and config_ids[pos] not in self.states:
                raise RuntimeError(f"config {config_ids[pos]} has no trained state to continue from")
        compiles0, compile_s0, compile_cpu0 = self.compiles, self.compile_seconds, self.compile_cpu_seconds
        futures = [self._compiled_future(c.program) for c in plan.calls]
        launched, waited = [], 0.0
        for call, fut in zip(plan.calls, futures):
            t0 = time.perf_counter()
            compiled = fut.result()  # compiles run ahead on a background thread
            waited += time.perf_counter() - t0
            launched.append((call, self._launch(call, compiled, config_ids, configs, hps, resource)))
        for call, outputs in launched:  # dispatched asynchronously; now wait and collect
            params, moments, val_mse, tr = jax.tree.map(np.asarray, outputs)
            scale = 1.0 if self.fold_loss_scale is None else np.asarray(self.fold_loss_scale(call.program.window),
                                                                         dtype=np.float64)
            for j, p in self._slot_positions(call):
                cfg = configs[p]
                h, layers = int(cfg["hidden"]), int(cfg["layers"])
                state = jax.tree.map(lambda a: a[j], (params, moments))
                self.states[config_ids[p]] = _resize_state(state, h, layers)
                val[p] = float(np.mean(val_mse[j] / scale, dtype=np.float64))
                train_loss[p] = float(np.mean(tr[j], dtype=np.float64))
        self.rung_stats.append({
            "plan": plan.mode, "programs": len(plan.programs), "calls": len(plan.calls),
            "compiles": self.compiles - compiles0, "compile_s": self.compile_seconds - compile_s0,
            "compile_cpu_s": self.compile_cpu_seconds - compile_cpu0, "compile_wait_s": waited,
            "seconds": time.perf_counter() - t_rung, "configs": n,
            "program_keys": [p.describe() for p in plan.programs],
        })
        return val, train_loss

    def _slot_positions(self, call: Call) -> list[tuple[int, int]]:
        """(slot index in the call's arrays, rung position) of every real config of ``call``."""
        k = call.program.width
        return [(d * k + j, p) for d, dev in enumerate(call.slots) for j, p in enumerate(dev)]

    def _launch(self, call: Call, compiled, config_ids, configs, hps, resource):
        program = call.program
        n_folds, _, _, n_features = self._sizes(program.window)
        k = program.width
        filler = call.positions[0]  # an empty slot holds a copy of a real config (skipped, or discarded)
        slots = [dev[j] if j < len(dev) else filler for dev in call.slots for j in range(k)]
        active = np.array([j < len(dev) for dev in call.slots for j in range(k)])
        states = []
        for p in slots:
            cid = config_ids[p]
            if call.start == 0:
                self.states.pop(cid, None)  # a fresh start
            states.append(self._padded_state(shape_key(configs[p], self.default_window), cid, program,
                                             n_features, n_folds))
        params, moments = jax.tree.map(lambda *xs: np.stack(xs), *states)
        hp = Traced(*(np.asarray(col, dtype=dt) for col, dt in zip(zip(*(hps[p] for p in slots)), _TRACED_DTYPES)))
        keys = np.stack([self._fold_keys(config_ids[p], n_folds) for p in slots])
        stop = steps_for(resource, self.steps_per_epoch(program.batch_size, program.window))
        sharded = NamedSharding(self.mesh, P("d"))
        params, moments, hp, keys, active = jax.device_put((params, moments, hp, keys, active), sharded)
        start, stop = jax.device_put((np.int32(call.start), np.int32(stop)), NamedSharding(self.mesh, P()))
        return compiled(params, moments, hp, keys, active, *self.data(program.window), start, stop)

    def _fold_keys(self, config_id: int, n_folds: int) -> np.ndarray:
        base = config_key(self.seed, config_id)
        return np.stack([np.asarray(jax.random.fold_in(base, k)) for k in range(n_folds)])
