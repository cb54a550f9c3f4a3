"""Dispatch and collection of planned calls: the engine's ``Dispatcher`` (``core.Engine`` holds one).

``submit`` plans a rung or wave and launches its calls without waiting for them: its configs go
longest-first to the devices that free up first (the cost model's seconds still queued on each
device), and only as many calls are in flight as the memory budget holds. A submission is split
into ``Part``s (a wave's jobs): a part is done when every call holding one of its configs is in,
and its configs' trained states wait in the part until ``commit(part)`` makes them the engine's
states, all together, when the driver is about to tell the scheduler of that job: a checkpoint
never holds half a job, nor a job the scheduler has not heard of (two jobs finished by one call
are committed one at a time, as each is told). Calls are collected as they finish, not in dispatch order,
so a short job is told while a long one dispatched before it still trains.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

from .plan import Call, halve

__all__ = ["Dispatcher", "InFlight", "Part", "Ticket"]


@dataclass(eq=False)
class Part:
    """A job's share of a submission: positions ``[first, stop)`` of its ticket."""

    ticket: Ticket
    index: int
    first: int
    stop: int
    calls_left: int = 0
    staged: dict = field(default_factory=dict)  # config id -> trained state, until the part is committed
    done: bool = False
    finished: float = 0.0

    @property
    def val(self) -> np.ndarray:
        return self.ticket.val[self.first : self.stop]

    @property
    def train_loss(self) -> np.ndarray:
        return self.ticket.train_loss[self.first : self.stop]


@dataclass(eq=False)
class Ticket:
    """A submitted rung or wave: its configs, their losses as calls come in, its parts."""

    config_ids: list
    configs: list
    hps: list
    ranges: tuple
    val: np.ndarray
    train_loss: np.ndarray
    started: float
    index: int = 0  # submissions before it
    parts: list = field(default_factory=list)
    stats: dict | None = None
    jobs: list = field(default_factory=list)  # what the backend submitted it for

    @property
    def done(self) -> bool:
        return all(p.done for p in self.parts)

    def part_of(self, position: int) -> Part:
        return self.parts[bisect.bisect_right([p.first for p in self.parts], position) - 1]


class InFlight(NamedTuple):
    """A launched call: its submission, the call, its output arrays (not yet ready), its device
    bytes, and the parts (jobs) it holds configs of."""

    ticket: Ticket
    call: Call
    outputs: Any
    bytes: int
    parts: list


class Dispatcher:
    """Launches an engine's planned calls and collects them as they finish. It asks the engine
    (``engine``) to plan (``plan_rung``, ``step_ranges``), compile (``compiled_future``,
    ``call_bytes``) and launch (``launch``, ``slot_positions``), and reads its ``model``,
    ``states``, ``width_caps``, ``memory_limit_bytes``, ``fold_loss_scale``, ``n_devices`` and
    ``rung_stats``; it owns only the calls in flight."""

    def __init__(self, engine):
        self.engine = engine
        self.in_flight: deque[InFlight] = deque()  # in dispatch order
        self.submitted = 0  # submissions so far

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
        """Plan and launch; ``parts``: the sizes of its jobs, in order (None: one part);
        ``priorities``: per config, lower dispatched earlier (``plan.plan_rung``)."""
        t0 = time.perf_counter()
        for c in configs:
            self.engine.model.check(c)
        hps = [self.engine.model.traced(c) for c in configs]
        for pos, prev in enumerate(previous_resource):
            if prev > 0 and config_ids[pos] not in self.engine.states:
                raise RuntimeError(f"config {config_ids[pos]} has no trained state to continue from")
        n = len(config_ids)
        sizes = list(parts) if parts is not None else [n]
        if sum(sizes) != n or any(k < 1 for k in sizes):
            raise ValueError(f"parts {sizes} do not split {n} configs")
        plan = self.engine.plan_rung(
            configs, resource, previous_resource, queued=self.queued_seconds(), priorities=priorities
        )
        ticket = Ticket(
            list(config_ids),
            list(configs),
            hps,
            self.engine.step_ranges(configs, resource, previous_resource),
            np.full(n, np.nan),
            np.full(n, np.nan),
            started=t0,
            index=self.submitted,
        )
        self.submitted += 1
        first = 0
        for i, k in enumerate(sizes):
            ticket.parts.append(Part(ticket, i, first, first + k))
            first += k
        compiles0, compile_s0, compile_cpu0 = (
            self.engine.compiles,
            self.engine.compile_seconds,
            self.engine.compile_cpu_seconds,
        )
        for c in plan.calls:
            self.engine.compiled_future(c.program)  # compiles run ahead on background threads, in order
        pending = deque(plan.calls)
        waited, idle, peak, splits = 0.0, 0.0, 0, 0
        while pending:
            t_wait = time.perf_counter()
            call, idle_s = self._next_ready(pending)
            compiled = self.engine.compiled_future(call.program).result()
            waited += time.perf_counter() - t_wait
            idle += idle_s
            size = self.engine.call_bytes(call.program)
            if size > self.engine.memory_limit_bytes and call.program.width > 1:
                # measured too big: two calls of half the width, and the bucket capped for later rungs
                halves = halve(call)
                self.engine.width_caps[call.program.bucket] = halves[0].program.width
                for h in halves:
                    self.engine.compiled_future(h.program)
                pending.extendleft(reversed(halves))
                splits += 1
                continue
            while self.in_flight and sum(f.bytes for f in self.in_flight) + size > self.engine.memory_limit_bytes:
                self.collect_next(oldest=True)  # the budget is full: wait for the oldest call before launching
            outputs = self.engine.launch(call, compiled, ticket.config_ids, ticket.configs, ticket.hps, ticket.ranges)
            touched = {id(p): p for p in (ticket.part_of(q) for q in call.positions)}
            for part in touched.values():
                part.calls_left += 1
            self.in_flight.append(InFlight(ticket, call, outputs, size, list(touched.values())))
            peak = max(peak, sum(f.bytes for f in self.in_flight))
        ticket.stats = {
            "plan": plan.mode,
            "programs": len(plan.programs),
            "calls": len(plan.calls),
            "compiles": self.engine.compiles - compiles0,
            "compile_s": self.engine.compile_seconds - compile_s0,
            "compile_cpu_s": self.engine.compile_cpu_seconds - compile_cpu0,
            "compile_wait_s": waited,
            "compile_idle_s": idle,
            "configs": n,
            "wave": ticket.index,
            "parts": len(sizes),
            "program_keys": [p.describe() for p in plan.programs],
            "computed_flops": plan.computed_flops,
            "real_flops": plan.real_flops,
            "empty_slots": sum(c.empty_slots for c in plan.calls),
            "estimated_s": max(plan.device_seconds(), default=0.0),
            "device_estimated_s": plan.device_seconds(),
            "peak_in_flight_bytes": peak,
            "memory_splits": splits,
        }
        for part in ticket.parts:
            if part.calls_left == 0 and not part.done:
                self._finish(part)
        return ticket

    def _next_ready(self, pending: deque) -> tuple[Call, float]:
        """Remove and return the first pending call whose program is compiled, waiting for the
        first compile to finish when none is: a call never waits behind another call's compile
        (on CPU which call runs first changes no result, only when it is done). Also returns how
        long the devices sat idle meanwhile (seconds, the mean over devices): the wait training
        felt, where the dispatch's own wait also counts time the devices still had work."""
        idle = 0.0
        while True:
            for i, call in enumerate(pending):
                if self.engine.compiled_future(call.program).done():
                    del pending[i]
                    return call, idle
            t0, share = time.perf_counter(), self._idle_share()
            futures.wait(
                {self.engine.compiled_future(c.program) for c in pending},
                timeout=0.01,
                return_when=futures.FIRST_COMPLETED,
            )
            idle += (time.perf_counter() - t0) * share

    def _idle_share(self) -> float:
        """The share of devices with no unfinished call (a call's validation losses, sharded
        over the devices, are its last outputs)."""
        busy = {
            shard.device
            for f in self.in_flight
            for shard in f.outputs[2].addressable_shards
            if not shard.data.is_ready()
        }
        return 1.0 - len(busy) / self.engine.n_devices

    def wait(self, parts: Sequence[Part]) -> Part:
        """The first of ``parts`` to be done (collecting calls as they finish); its states are
        not the engine's until ``commit``."""
        while True:
            done = [p for p in parts if p.done]
            if done:
                return min(done, key=lambda p: p.finished)
            if not self.in_flight:
                raise RuntimeError("waiting for parts that have nothing in flight")
            self.collect_next()

    def queued_seconds(self) -> list[float]:
        """The cost model's seconds per device of the calls still in flight."""
        load = [0.0] * self.engine.n_devices
        for f in self.in_flight:
            call = f.call
            for d, sec in enumerate(call.seconds[: self.engine.n_devices]):
                load[d] += sec
        return load

    def collect_next(self, *, oldest: bool = False) -> None:
        """Collect the first in-flight call whose outputs are ready (waiting for one), or the
        oldest (``oldest``: to free its memory)."""

        def ready():
            return [i for i, f in enumerate(self.in_flight) if all(a.is_ready() for a in jax.tree.leaves(f.outputs))]

        pick = 0
        if not oldest:
            found = ready()
            while not found:
                time.sleep(0.002)
                found = ready()
            pick = found[0]
        done = self.in_flight[pick]
        del self.in_flight[pick]
        self._collect(done.call, done.outputs, done.ticket)
        ticket = done.ticket
        for part in done.parts:
            part.calls_left -= 1
            if part.calls_left == 0 and ticket.stats is not None:  # not while its ticket still launches calls
                self._finish(part)

    def commit(self, part: Part) -> None:
        """Make a done part's trained states the engine's, all at once (when its job is told)."""
        if not part.done:
            raise RuntimeError("commit of a part whose calls are not all in")
        self.engine.states.update(part.staged)
        part.staged = {}

    def _finish(self, part: Part) -> None:
        part.done, part.finished = True, time.perf_counter()
        ticket = part.ticket
        if ticket.done and ticket.stats is not None:
            ticket.stats["seconds"] = part.finished - ticket.started
            self.engine.rung_stats.append(ticket.stats)

    def _collect(self, call, outputs, ticket: Ticket) -> None:
        """A call's outputs: each real config's state (staged in its part) and losses."""
        params, moments, val_mse, tr = jax.tree.map(np.asarray, outputs)
        scale = (
            1.0
            if self.engine.fold_loss_scale is None
            else np.asarray(self.engine.fold_loss_scale(call.program.data), dtype=np.float64)
        )
        for j, p in self.engine.slot_positions(call):
            state = jax.tree.map(lambda a: a[j], (params, moments))
            ticket.part_of(p).staged[ticket.config_ids[p]] = self.engine.model.to_own(state, ticket.configs[p])
            ticket.val[p] = float(np.mean(val_mse[j] / scale, dtype=np.float64))
            steps = max(ticket.ranges[1][p] - ticket.ranges[0][p], 1)
            ticket.train_loss[p] = float(np.mean(tr[j], dtype=np.float64)) / steps
