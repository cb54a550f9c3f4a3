"""The engine: trains a whole rung (or wave) of any model's configs as a few compiled programs,
continuing survivors. Models are its clients (``model.Model``): the LSTM, a user's Flax module.

``plan.plan_rung`` decides which configs share which program (the model's program key, batch
size and data key, and width: configs of several shapes share one where the model pads) and on
which device each call runs; ``program.make_train`` is the function a program compiles, with the
model's loss and optimizer step inside. Every program is compiled ahead of time
(``jit(...).lower(...).compile()``) on a background thread in the order the rung needs them, so
the next program compiles while the current one trains.

Memory is measured, not guessed: after a program compiles, ``memory_analysis()`` gives its bytes;
a call whose program exceeds the budget is split into narrower calls (and the bucket's width is
capped for later rungs), and only as many calls are in flight as the budget holds (a bounded
dispatch queue; results are collected as it drains). Params and optimizer states are donated.

States live on the host in each config's own (unpadded) layout: a config can run padded in one
rung and exactly in the next, and checkpoints do not depend on the plan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .client import Model, Sizes, rung_request
from .cost import analysed_bytes
from .dispatch import Dispatcher, Part, Ticket
from .keys import ProgramKey
from .plan import Call, RungPlan, plan_rung
from .program import FoldArrays, HostStepped, check_prng, config_key, make_host_steps, make_train, steps_for
from .settings import PRECISIONS, EngineSettings, precision_context, resolve

__all__ = ["PRECISIONS", "Engine", "EngineSettings", "FoldArrays", "Part", "Ticket"]


class Engine:
    """Plans, compiles and runs rungs of ``model``'s configs; holds the trained state of every
    live config. ``settings`` (``EngineSettings``, fixed for the engine's life) with any of its
    fields given as keywords instead (``Engine(model, seed=3, plan="wide")``)."""

    def __init__(self, model: Model, settings: EngineSettings | None = None, **overrides):
        check_prng()
        self.model = model
        self.settings = resolve(
            replace(settings or EngineSettings(), **overrides), jax.local_devices(), getattr(model, "cost_kind", None)
        )
        self.device_kind = self.devices[0].platform
        # one program spans every device (shard_map over the slot axis): a single compile, and each
        # device runs its own slots; devices do not wait for each other (no collectives)
        self.mesh = Mesh(np.array(self.devices), ("d",))
        # compiles run ahead of training on background threads (XLA compiles outside the GIL),
        # ``compile_threads`` at a time (settings.default_compile_threads)
        self._pool = ThreadPoolExecutor(max_workers=self.compile_threads, thread_name_prefix="hbjax-compile")
        self.dispatcher = Dispatcher(self)
        # --- run state ---
        self.states: dict = {}  # config_id -> (params, opt_state), numpy, leading axis K
        self.rung_stats: list[dict] = []  # one per submission
        self.program_memory: dict = {}  # program -> {"estimated": bytes, "analysed": bytes}
        self.program_compile_s: dict = {}  # program -> its compile's wall seconds in this run
        self.width_caps: dict = {}  # ProgramKey.bucket -> widest call that fits
        self.compiles = 0  # train programs compiled (one per program: it spans every device)
        self.compile_seconds = 0.0
        self.compile_cpu_seconds = 0.0
        self._compiled: dict = {}  # program -> Future of its compiled executable
        self._planned: set = set()  # programs of earlier rungs: planned with no compile charge
        self._data: dict = {}
        self._lock = threading.RLock()  # compile threads read data too

    seed = property(lambda self: self.settings.seed)
    configs_per_program = property(lambda self: self.settings.configs_per_program)
    plan = property(lambda self: self.settings.plan)
    memory_limit_bytes = property(lambda self: self.settings.memory_limit_bytes)
    devices = property(lambda self: self.settings.devices)
    compiler_options = property(lambda self: self.settings.compiler_options)
    fold_loss_scale = property(lambda self: self.settings.fold_loss_scale)
    cost = property(lambda self: self.settings.cost)
    precision = property(lambda self: self.settings.precision)
    compile_threads = property(lambda self: self.settings.compile_threads)

    # --- dispatch (dispatch.py) ------------------------------------------------------------
    def submit(
        self,
        config_ids: Sequence[int],
        configs: Sequence[Mapping],
        resource,
        previous_resource: Sequence[float],
        *,
        parts: Sequence[int] | None = None,
        priorities: Sequence[int] | None = None,
    ) -> Ticket:
        """Plan and launch a rung or wave without waiting (``Dispatcher.submit``)."""
        return self.dispatcher.submit(
            config_ids, configs, resource, previous_resource, parts=parts, priorities=priorities
        )

    def wait(self, parts: Sequence[Part]) -> Part:
        """The first of ``parts`` to be done; its states are not the engine's until ``commit``."""
        return self.dispatcher.wait(parts)

    def commit(self, part: Part) -> None:
        """Make a done part's trained states the engine's, all at once (when its job is told)."""
        self.dispatcher.commit(part)

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def host_stepped(self) -> bool:
        """Configs one after another, each call one config per device, stepped from the host
        (``Model.host_steps``; never under a forced ``wide`` plan)."""
        return self.plan != "wide" and self.model.host_steps(self.device_kind)

    # --- data ------------------------------------------------------------------------------
    def host_data(self, key: int) -> FoldArrays:
        """The folds of data key ``key`` (``Model.data``), as the programs take them."""
        with self._lock:
            if (key, None) not in self._data:
                arrays = self.model.data(key)
                self._data[(key, None)] = FoldArrays(*(device_dtype(a) for a in arrays))
            return self._data[(key, None)]

    def data(self, key: int) -> FoldArrays:
        """The data key's folds, replicated on every device."""
        with self._lock:
            if (key, "devices") not in self._data:
                self._data[(key, "devices")] = jax.device_put(self.host_data(key), NamedSharding(self.mesh, P()))
            return self._data[(key, "devices")]

    def sizes(self, key: int) -> Sizes:
        d = self.host_data(key)
        return Sizes(d.x_train.shape[0], d.x_train.shape[1], d.x_val.shape[1], d.x_train.shape[-1])

    # --- planning --------------------------------------------------------------------------
    def shape(self, config: Mapping):
        return self.model.shape(config)

    def steps_per_epoch(self, batch_size: int, data: int) -> int:
        n_train = self.sizes(data).train
        if n_train < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {n_train} training rows of a fold")
        return n_train // batch_size

    def step_ranges(self, configs: Sequence[Mapping], resource, previous_resource) -> tuple[list[int], list[int]]:
        """Each config's optimizer steps [start, stop) to go from ``previous_resource`` to
        ``resource`` epochs (one resource for all, or one per config)."""
        resources = _per_config(resource, len(configs))
        starts, stops = [], []
        for c, prev, res in zip(configs, previous_resource, resources):
            s = self.shape(c)
            spe = self.steps_per_epoch(s.batch_size, s.data)
            starts.append(steps_for(prev, spe))
            stops.append(steps_for(res, spe))
        return starts, stops

    def plan_rung(
        self,
        configs: Sequence[Mapping],
        resource,
        previous_resource: Sequence[float],
        *,
        queued: Sequence[float] | None = None,
        priorities: Sequence[int] | None = None,
    ) -> RungPlan:
        """The plan of a rung (one ``resource``) or a wave (one per config); its programs count as
        known to the plans made after it. ``queued``: seconds of work already queued per device."""
        shapes = [self.shape(c) for c in configs]
        starts, stops = self.step_ranges(configs, resource, previous_resource)
        plan = plan_rung(
            rung_request(
                self.model,
                shapes,
                starts,
                stops,
                sizes_of=self.sizes,
                mode=self.plan,
                priorities=priorities,
                device_kind=self.device_kind,
                n_devices=self.n_devices,
                memory_bytes=self.memory_limit_bytes,
                width=1 if self.host_stepped else self.configs_per_program,
                cost=self.cost,
                known_programs=frozenset(self._planned),
                width_caps=dict(self.width_caps),
                queued=tuple(queued or ()),
            )
        )
        self._planned.update(plan.programs)
        return plan

    # --- programs --------------------------------------------------------------------------
    def estimated_bytes(self, program: ProgramKey) -> int:
        """The estimate of one call's device bytes (every slot, the replicated data once)."""
        data = sum(a.nbytes for a in self.host_data(program.data))
        return program.width * self.model.bytes_per_config(program, self.sizes(program.data)) + data

    def compile_program(self, program: ProgramKey) -> Callable:
        t0, cpu0 = time.perf_counter(), time.thread_time()
        sizes = self.sizes(program.data)
        if self.host_stepped and program.batching == "map":
            compiled = self._compile_host_steps(program, sizes)
        else:
            compiled = self._compile_loop(program, sizes)
        memory = {
            "estimated": self.estimated_bytes(program),
            "analysed": analysed_bytes(compiled.step if isinstance(compiled, HostStepped) else compiled),
        }
        with self._lock:
            self.compiles += 1
            wall = time.perf_counter() - t0  # long when training runs beside it
            self.compile_seconds += wall
            self.compile_cpu_seconds += time.thread_time() - cpu0  # this thread only: XLA also uses its own
            self.program_memory[program] = memory
            self.program_compile_s[program] = wall
        return compiled

    def _specs(self, program: ProgramKey, sizes: Sizes):
        """Abstract arguments of a program: state, traced, keys, flags, ranges, data, scalar."""
        slots, rep = P("d"), P()
        n = program.width * self.n_devices

        def spec(shape, dtype, part):
            return jax.ShapeDtypeStruct(tuple(shape), dtype, sharding=NamedSharding(self.mesh, part))

        template = self.model.empty_state(program, sizes)
        state = jax.tree.map(lambda a: spec((n, *a.shape), a.dtype, slots), template)
        hp = self.model.pack_traced([spec((n,), dt, slots) for dt in self.model.traced_dtypes])
        keys = spec((n, sizes.folds, 2), np.uint32, slots)
        active = spec((n,), np.bool_, slots)
        ranges = spec((n,), np.int32, slots)
        data = [spec(a.shape, a.dtype, rep) for a in self.host_data(program.data)]
        scalar = spec((), np.int32, rep)
        sums = spec((n, sizes.folds), np.float32, slots)
        return state, hp, keys, active, ranges, data, scalar, sums

    def _precision(self):
        return precision_context(self.precision)

    def _compile_host_steps(self, program: ProgramKey, sizes: Sizes) -> HostStepped:
        fns = make_host_steps(program, sizes.train, self.model.program_fns(program, sizes))
        slots, rep = P("d"), P()
        state, hp, keys, active, ranges, data, scalar, sums = self._specs(program, sizes)
        step = jax.shard_map(
            fns.step,
            mesh=self.mesh,
            in_specs=(slots,) * 8 + (rep,) * 3,
            out_specs=(slots, slots, slots, rep),
            check_vma=False,
        )
        validate = jax.shard_map(
            fns.validate, mesh=self.mesh, in_specs=(slots,) * 3 + (rep,) * 2, out_specs=slots, check_vma=False
        )
        with self._precision():
            step = jax.jit(step, donate_argnums=(0, 1, 2)).lower(
                state[0], state[1], sums, hp, keys, active, ranges, ranges, data[0], data[1], scalar
            )
            validate = jax.jit(validate).lower(state[0], hp, active, data[2], data[3])
        return HostStepped(
            step.compile(compiler_options=self.compiler_options),
            validate.compile(compiler_options=self.compiler_options),
        )

    def _compile_loop(self, program: ProgramKey, sizes: Sizes):
        fn = make_train(program, sizes.train, self.model.program_fns(program, sizes))
        slots, rep = P("d"), P()
        sharded = jax.shard_map(
            fn, mesh=self.mesh, in_specs=(slots,) * 7 + (rep,) * 7, out_specs=slots, check_vma=False
        )
        state, hp, keys, active, ranges, data, scalar, _ = self._specs(program, sizes)
        with self._precision():
            # params and optimizer states are fresh host copies each call: their buffers can be reused
            lowered = jax.jit(sharded, donate_argnums=(0, 1)).lower(
                state[0], state[1], hp, keys, active, ranges, ranges, *data, scalar, scalar, scalar
            )
        return lowered.compile(compiler_options=self.compiler_options)

    def compiled_future(self, program: ProgramKey) -> Future:
        with self._lock:
            if program not in self._compiled:
                self._compiled[program] = self._pool.submit(self.compile_program, program)
            return self._compiled[program]

    def call_bytes(self, program: ProgramKey) -> int:
        """A call's device bytes: XLA's analysis once compiled (where the backend gives one),
        the estimate before."""
        memory = self.program_memory.get(program)
        if memory and memory["analysed"]:
            return memory["analysed"]
        return self.estimated_bytes(program)

    # --- states ----------------------------------------------------------------------------
    def fresh_state(self, config: Mapping, config_id: int):
        """A new config's (params, opt_state) at its own shape, stacked over folds (NumPy); also
        the template a checkpoint's arrays are read back into."""
        shape = self.shape(config)
        return self.model.init_state(config, shape, config_id, self.sizes(shape.data))

    def _program_state(self, config: Mapping | None, config_id, program: ProgramKey):
        """The state of ``config_id`` (stored, or fresh) in ``program``'s layout; None: zeros."""
        if config is None:
            return self.model.empty_state(program, self.sizes(program.data))
        state = self.states[config_id] if config_id in self.states else self.fresh_state(config, config_id)
        return self.model.to_program(state, program)

    def release(self, config_ids: Sequence[int]) -> None:
        for cid in config_ids:
            self.states.pop(cid, None)

    # --- training --------------------------------------------------------------------------
    def train(
        self, config_ids: Sequence[int], configs: Sequence[Mapping], resource, previous_resource: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Train each config from ``previous_resource`` to ``resource`` epochs (one number for a
        rung, or one per config for a wave of several rungs; new configs start fresh, others
        continue from their stored state). Returns (validation loss mean over folds, train loss
        mean over folds) per config; NaN where a config diverged."""
        ticket = self.submit(config_ids, configs, resource, previous_resource)
        while not ticket.done:
            self.dispatcher.collect_next()
        for part in ticket.parts:
            self.commit(part)
        return ticket.val, ticket.train_loss

    def slot_positions(self, call: Call) -> list[tuple[int, int]]:
        """(slot index in the call's arrays, rung position) of every real config of ``call``."""
        k = call.program.width
        return [(d * k + j, p) for d, dev in enumerate(call.slots) for j, p in enumerate(dev)]

    def launch(self, call: Call, compiled, config_ids, configs, hps, ranges):
        program = call.program
        n_folds = self.sizes(program.data).folds
        k = program.width
        slots = [dev[j] if j < len(dev) else None for dev in call.slots for j in range(k)]
        active = np.array([p is not None for p in slots])
        empty = self.model.empty_traced()
        states = []
        for p in slots:
            if p is None:  # an empty slot: zeros (skipped under map; computed and discarded under vmap)
                states.append(self._program_state(None, None, program))
                continue
            cid = config_ids[p]
            if ranges[0][p] == 0:
                self.states.pop(cid, None)  # a fresh start
            states.append(self._program_state(configs[p], cid, program))
        params, opt_state = jax.tree.map(lambda *xs: np.stack(xs), *states)
        rows = [empty if p is None else hps[p] for p in slots]
        hp = self.model.pack_traced(
            [np.asarray(col, dtype=dt) for col, dt in zip(zip(*rows), self.model.traced_dtypes)]
        )
        no_key = np.zeros((n_folds, 2), np.uint32)  # an empty slot draws nothing that is kept
        keys = np.stack([no_key if p is None else self._fold_keys(config_ids[p], n_folds) for p in slots])
        starts, stops = (np.array([0 if p is None else r[p] for p in slots], np.int32) for r in ranges)
        sharded = NamedSharding(self.mesh, P("d"))
        params, opt_state, hp, keys, active, starts, stops = jax.device_put(
            (params, opt_state, hp, keys, active, starts, stops), sharded
        )
        real = [p for p in slots if p is not None]
        lo, hi = min(ranges[0][p] for p in real), max(ranges[1][p] for p in real)  # the call's [start, stop)
        x_tr, y_tr, x_val, y_val = self.data(program.data)
        if isinstance(compiled, HostStepped):  # one dispatch per optimizer step, queued without waiting
            sums = jax.device_put(np.zeros((len(slots), n_folds), np.float32), sharded)
            s = jax.device_put(np.int32(lo), NamedSharding(self.mesh, P()))
            for _ in range(lo, hi):
                params, opt_state, sums, s = compiled.step(
                    params, opt_state, sums, hp, keys, active, starts, stops, x_tr, y_tr, s
                )
            return params, opt_state, compiled.validate(params, hp, active, x_val, y_val), sums
        lo, hi, bound = jax.device_put(
            (np.int32(lo), np.int32(hi), np.int32(call.bound)), NamedSharding(self.mesh, P())
        )
        return compiled(params, opt_state, hp, keys, active, starts, stops, x_tr, y_tr, x_val, y_val, lo, hi, bound)

    def _fold_keys(self, config_id: int, n_folds: int) -> np.ndarray:
        base = config_key(self.seed, config_id)
        return np.stack([np.asarray(jax.random.fold_in(base, k)) for k in range(n_folds)])


def device_dtype(a) -> np.ndarray:
    """Data as the programs take it: floats as float32, integers (class labels) as int32."""
    a = np.asarray(a)
    return a.astype(np.int32 if np.issubdtype(a.dtype, np.integer) else np.float32, copy=False)


def _per_config(resource, n: int) -> list[float]:
    """One resource per config: a rung's single number repeated, or a wave's list checked."""
    if np.ndim(resource) == 0:
        return [float(resource)] * n
    resources = [float(r) for r in resource]
    if len(resources) != n:
        raise ValueError(f"expected one resource per config ({n}), got {len(resources)}")
    return resources
