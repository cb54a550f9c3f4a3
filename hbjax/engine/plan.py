"""The rung plan: which configs share which compiled program, on which device, in what order.

A pure function of one ``RungRequest`` (the rung's configs as the model sees them and their step
ranges, the model's costs, the device's cost constants, the device count, the run's settings and
the programs compiled already): no live timing enters it, so the same command gives the same
programs and the same floats. It knows nothing of any model: each config arrives with the
program key its model puts it in (``Model.program_statics``: where the model pads, configs of
several shapes share one), its loop bound (``Model.bound``) and its costs through the request's
``ModelCosts``.

* A **program** is one compiled train function: the model's program key, batch size and data key
  (static), how configs are batched inside it (``"map"``: one after another, ``lax.map``;
  ``"vmap"``: side by side) and its width (configs per call). Every width is a compile.
* A **call** runs one program on every device for some of the rung's configs. A vmapped call
  also carries its bound: its configs' largest, where the model's own loops stop (the LSTM's
  layer loop: its deepest config).

Four steps: ``buckets`` (configs grouped by program, in program order), ``assign_devices`` (every
config, longest first, to the least loaded device), ``bucket_calls`` (each bucket's configs into
calls of chosen widths, per step range where that is cheaper), ``dispatch_order``.

Modes: ``"exact"`` (one program per exact shape: nothing padded), ``"wide"`` (the accelerator
plan: configs vmapped side by side, padded as the model says, widths chosen by the cost model),
``"auto"`` (``"wide"`` on GPU/TPU; on CPU configs run one after another, padded where the model
says the padded work costs less than the compiles it saves). ``"wide"`` can be forced on CPU to
test the accelerator plan there.

Under ``vmap`` no config is computed twice: a slot that no config fills holds an empty config
whose work the cost model charges, and a lone config runs at width 1 (widths 1, 2, 4, 8 agree bit
for bit on CPU: tests/lstm/test_wide_plan.py).

A plan may hold configs of different rungs (a wave: every ready rung of every bracket): each
config brings its own step range. Under map each config loops over its own steps; under vmap a
call runs over the union of its configs' ranges (every slot computes every step of it, a step
outside a config's range is discarded), so configs of different ranges share calls only where
the cost model says wider calls over a longer range are cheaper than calls per range.

Why "map" on CPU: XLA CPU runs a vmapped matmul over per-config weights as N small matmuls, so
batching gains nothing there (docs/architecture.md), while one-at-a-time keeps every config's
floats independent of its batch, skips a model's inactive work outright, and lets whole programs
spread over several host devices (longest first) instead of padding a lone config to the device
count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .cost import CostModel, cost_model, step_seconds
from .keys import ProgramKey, ShapeKey

__all__ = [
    "MODES",
    "Call",
    "ModelCosts",
    "PlanItem",
    "ProgramKey",
    "RungPlan",
    "RungRequest",
    "ShapeKey",
    "halve",
    "next_pow2",
    "plan_items",
    "plan_rung",
    "split_pow2",
]

MODES = ("auto", "exact", "wide")
MAX_VMAP_WIDTH = 256


@dataclass(frozen=True)
class Call:
    """One launch of a program over all devices: ``slots[d]`` are the rung positions device ``d``
    trains (at most ``program.width``; an empty slot is skipped under map, an empty config under
    vmap). ``bound``: under vmap its configs' largest ``Model.bound`` (where the model's own loops
    stop: every slot runs to it); 0 under map, where each config runs to its own."""

    program: ProgramKey
    slots: tuple[tuple[int, ...], ...]
    start: int  # the first optimizer step of any of its configs (each config has its own range)
    seconds: tuple[float, ...]  # the cost model's estimate per device
    bound: int = 0
    steps: int = 0  # optimizer steps the call runs: vmap, its range [start, stop); map, its longest config
    computed_flops: float = 0.0  # matmul FLOPs the call computes, padding and empty slots included
    real_flops: float = 0.0  # what its configs would compute alone at their own shapes
    stop: int = 0  # the last optimizer step of any of its configs, plus one

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(p for dev in self.slots for p in dev)

    @property
    def empty_slots(self) -> int:
        return sum(self.program.width - len(dev) for dev in self.slots) if self.program.batching == "vmap" else 0


@dataclass(frozen=True)
class RungPlan:
    mode: str
    calls: tuple[Call, ...]  # in dispatch order
    compile_s: float = 0.0  # the cost model's compile seconds for programs not compiled before

    @property
    def programs(self) -> list[ProgramKey]:
        """Distinct programs (width included), in the order they are first needed."""
        return list(dict.fromkeys(c.program for c in self.calls))

    def device_seconds(self) -> list[float]:
        return [sum(s) for s in zip(*(c.seconds for c in self.calls))] if self.calls else []

    @property
    def computed_flops(self) -> float:
        return sum(c.computed_flops for c in self.calls)

    @property
    def real_flops(self) -> float:
        return sum(c.real_flops for c in self.calls)


@dataclass(frozen=True)
class ModelCosts:
    """What the plan charges, as the model says (pure functions):

    * ``flops(shape, static, bound)``: matmul FLOPs of one optimizer step (all folds) of a config
      of ``shape`` in a program of key ``static`` (``shape.static`` for its own), run to ``bound``
      (None: its own, as under map);
    * ``serial_steps(shape, bound)``: the sequential steps inside one optimizer step that the
      device's latency floor is charged per (``CostModel.seconds_per_serial_step``; the LSTM: time
      steps x layers; 0 for a model without such a loop);
    * ``slot_bytes(program)``: device bytes of one slot of ``program``."""

    flops: Callable[[ShapeKey, tuple, int | None], float]
    serial_steps: Callable[[ShapeKey, int | None], int]
    slot_bytes: Callable[[ProgramKey], int]


@dataclass(frozen=True)
class PlanItem:
    """One config of a rung: its rung position, shape, the program key its model puts it in,
    its loop bound, and the optimizer steps ``[start, start + steps)`` it trains."""

    position: int
    shape: ShapeKey
    static: tuple
    bound: int
    start: int
    steps: int
    priority: int = 0  # lower runs earlier (a wave: configs whose brackets have more rungs to go)


@dataclass(frozen=True)
class RungRequest:
    """Everything a plan is a function of. ``width``: the most configs per call (None: by plan).
    ``cost``: the device's constants (None: the committed default of ``device_kind``).
    ``known_programs``: programs compiled already (no compile charged). ``width_caps``:
    ``ProgramKey.bucket`` -> widest call that fits in memory, as measured by ``memory_analysis()``
    of an earlier compile. ``queued``: seconds of work already queued per device (configs go
    longest-first to the device that frees up first). An item's ``priority``: calls are
    dispatched by it first (in a wave, the jobs whose brackets have the most rungs to go), then
    costliest first."""

    items: tuple[PlanItem, ...]
    costs: ModelCosts
    device_kind: str
    n_devices: int
    memory_bytes: int
    mode: str = "auto"
    width: int | None = None
    cost: CostModel | None = None
    known_programs: frozenset = frozenset()
    width_caps: Mapping[tuple, int] = field(default_factory=dict)
    queued: tuple[float, ...] = ()


def plan_items(
    shapes: Sequence[ShapeKey],
    statics: Sequence[tuple],
    bounds: Sequence[int],
    starts: Sequence[int],
    stops: Sequence[int],
    priorities: Sequence[int] | None = None,
) -> tuple[PlanItem, ...]:
    """A rung's configs as the plan takes them: position i has ``shapes[i]``, runs in program
    key ``statics[i]`` to ``bounds[i]`` over optimizer steps ``[starts[i], stops[i])``."""
    prio = list(priorities) if priorities is not None else [0] * len(shapes)
    return tuple(
        PlanItem(i, s, static, int(bound), int(a), int(b) - int(a), int(q))
        for i, (s, static, bound, a, b, q) in enumerate(zip(shapes, statics, bounds, starts, stops, prio))
    )


def plan_rung(request: RungRequest) -> RungPlan:
    """Plan one rung or wave (see the module docstring)."""
    if request.mode not in MODES:
        raise ValueError(f"plan must be one of {MODES}, got {request.mode!r}")
    cost = request.cost or cost_model(request.device_kind)
    mode = request.mode
    if mode == "auto":
        mode = "wide" if request.device_kind != "cpu" else "auto"
    batching = "vmap" if mode == "wide" else "map"
    costs = request.costs

    def alone_seconds(it: PlanItem) -> float:  # in its own program, one config at a time
        return it.steps * step_seconds(
            cost,
            batching=batching,
            width=1,
            slot_flops=costs.flops(it.shape, it.static, None),
            serial_steps=costs.serial_steps(it.shape, None),
        )

    groups = buckets(request.items, batching)
    est = {it.position: alone_seconds(it) for _, its in groups for it in its}
    device_of = assign_devices(est, max(1, request.n_devices), request.queued)
    calls = bucket_calls(groups, est, device_of, request, cost, batching)
    calls = dispatch_order(calls, {it.position: it for it in request.items})
    new = {c.program for c in calls} - set(request.known_programs)
    return RungPlan(mode, tuple(calls), compile_s=len(new) * cost.compile_s)


def buckets(items: Sequence[PlanItem], batching: str) -> list[tuple[tuple, list[PlanItem]]]:
    """Configs grouped by program (``ProgramKey.bucket``: the model's program key, batch size,
    data key, batching), in the buckets' order, each bucket's configs in rung order."""
    out: dict[tuple, list[PlanItem]] = {}
    for it in items:
        out.setdefault((it.shape.batch_size, it.shape.data, it.static), []).append(it)
    return [((static, batch, data, batching), its) for (batch, data, static), its in sorted(out.items())]


def assign_devices(seconds: Mapping[int, float], n_devices: int, queued: Sequence[float] = ()) -> dict[int, int]:
    """Rung position -> device: every config, longest first, to the least loaded device (LPT),
    behind the seconds already ``queued`` on each."""
    load = [0.0] * n_devices
    for d, sec in enumerate(list(queued)[:n_devices]):
        load[d] += float(sec)
    device_of = {}
    for position in sorted(seconds, key=lambda p: (-seconds[p], p)):
        d = min(range(n_devices), key=lambda k: (load[k], k))
        device_of[position] = d
        load[d] += seconds[position]
    return device_of


def bucket_calls(
    groups, est: Mapping[int, float], device_of: Mapping[int, int], request: RungRequest, cost: CostModel, batching: str
) -> list[tuple[float, Call]]:
    """Each bucket's configs in calls (each device's configs in slots), with the estimated
    seconds of the configs each call group holds (the dispatch order's second key)."""
    by_position = {it.position: it for it in request.items}
    known, caps = set(request.known_programs), request.width_caps
    n_dev = max(1, request.n_devices)
    out: list[tuple[float, Call]] = []
    planned: set[ProgramKey] = set()
    for bucket, its in groups:
        program = ProgramKey(*bucket, 1)
        fits = max(1, request.memory_bytes // max(1, request.costs.slot_bytes(replace(program, batching="map"))))
        cap = _floor_pow2(
            min(request.width or (MAX_VMAP_WIDTH if batching == "vmap" else 1), fits, caps.get(bucket, MAX_VMAP_WIDTH))
        )

        def device_lists(group):  # map: by priority; vmap: largest bound first (a call's loops stop at its largest)
            order = (
                (lambda t: (t.priority, -t.bound, t.position))
                if batching == "map"
                else (lambda t: (-t.bound, t.position))
            )
            return [
                [it.position for it in sorted(group, key=order) if device_of[it.position] == d] for d in range(n_dev)
            ]

        def price(these):  # the calls' seconds on the busiest device, plus compiles of new programs
            return (
                max(sum(c.seconds[d] for c in these) for d in range(n_dev))
                + len({c.program for c in these} - known - planned) * cost.compile_s
            )

        def group_calls(group):
            per_device = device_lists(group)
            most = max(len(x) for x in per_device)
            make = lambda ws: _calls(ws, bucket, per_device, by_position, cost, request.costs)
            if batching == "map":
                return make([min(next_pow2(most), cap)] * math.ceil(most / min(next_pow2(most), cap)))
            compiled = {q.width for q in known | planned if q.bucket == bucket and q.width <= cap}
            return make(_vmap_widths(most, cap, compiled, lambda ws: price(make(ws))))

        by_range: dict[tuple[int, int], list[PlanItem]] = {}
        for it in its:
            by_range.setdefault((it.start, it.start + it.steps), []).append(it)
        # map: each config loops over its own steps, so one group. vmap: step ranges (sorted)
        # grouped into contiguous runs that share calls over their union, as the cost model says
        # is cheapest (an exact DP over the few ranges of a wave: at most one per bracket)
        ranges = [g for _, g in sorted(by_range.items())]
        chosen = (
            [(its, group_calls(its))]
            if batching == "map" or len(ranges) == 1
            else _range_groups(ranges, group_calls, price)
        )
        for group, these in chosen:
            for call in these:
                planned.add(call.program)
                out.append((sum(est[it.position] for it in group), call))
    return out


def dispatch_order(calls: Sequence[tuple[float, Call]], by_position: Mapping[int, PlanItem]) -> list[Call]:
    """By priority, then the costliest programs first (their compile is needed first; later ones
    compile on a background thread while these train)."""
    ordered = sorted(
        calls,
        key=lambda t: (
            min(by_position[q].priority for q in t[1].positions),
            -t[0],
            t[1].program,
            t[1].start,
            t[1].slots,
        ),
    )
    return [c for _, c in ordered]


def _range_groups(ranges: list[list[PlanItem]], group_calls, price) -> list[tuple[list[PlanItem], list[Call]]]:
    """Partition the sorted step ranges into contiguous groups, each trained in shared calls
    (``group_calls``), minimising the summed ``price`` of the groups."""
    n = len(ranges)
    best: list[tuple[float, list]] = [(0.0, [])] + [(math.inf, [])] * n
    for j in range(1, n + 1):
        for i in range(j):
            group = [it for r in ranges[i:j] for it in r]
            these = group_calls(group)
            total = best[i][0] + price(these)
            if total < best[j][0] - 1e-12:
                best[j] = (total, best[i][1] + [(group, these)])
    return best[n][1]


def _call(program: ProgramKey, slots, by_position, cost: CostModel, costs: ModelCosts) -> Call:
    """A call with what it computes and costs: under vmap every device runs all ``width`` slots
    to the call's bound over the union of its configs' step ranges; under map each config alone
    to its own bound over its own steps."""
    real = [by_position[p] for dev in slots for p in dev]
    start, stop = min(it.start for it in real), max(it.start + it.steps for it in real)
    real_flops = sum(it.steps * costs.flops(it.shape, it.shape.static, None) for it in real)
    if program.batching == "vmap":
        bound = max(it.bound for it in real)
        shape = real[0].shape
        slot = costs.flops(shape, program.static, bound)
        steps = stop - start
        secs = steps * step_seconds(
            cost, batching="vmap", width=program.width, slot_flops=slot, serial_steps=costs.serial_steps(shape, bound)
        )
        return Call(
            program,
            slots,
            start,
            (secs,) * len(slots),
            bound,
            steps,
            steps * slot * program.width * len(slots),
            real_flops,
            stop,
        )
    seconds = tuple(
        sum(
            it.steps
            * step_seconds(
                cost,
                batching="map",
                width=1,
                slot_flops=costs.flops(it.shape, program.static, None),
                serial_steps=costs.serial_steps(it.shape, None),
            )
            for it in (by_position[p] for p in dev)
        )
        for dev in slots
    )
    computed = sum(it.steps * costs.flops(it.shape, program.static, None) for it in real)
    return Call(program, slots, start, seconds, 0, max(it.steps for it in real), computed, real_flops, stop)


def _vmap_widths(n: int, cap: int, compiled: set[int], price) -> list[int]:
    """Widths of the calls that hold ``n`` configs (per device) at most ``cap`` wide, whichever
    ``price`` (the cost model, compiles of new widths included) says is cheapest: full calls of
    ``cap`` and the rest in one call with empty slots (one launch: cheap where the device is
    latency-bound), or split into powers of two without any (cheap where FLOPs dominate), or in
    calls of a width compiled already (no compile)."""
    full, rest = divmod(n, cap)
    head = [cap] * full
    if not rest:
        return head
    options = [head + [next_pow2(rest)], head + [len(c) for c in split_pow2(range(rest), cap)]]
    options += [head + [k] * -(-rest // k) for k in sorted(compiled)]
    return min(options, key=lambda ws: (price(ws), len(ws), ws))


def _calls(widths, bucket, per_device, by_position, cost: CostModel, costs: ModelCosts) -> list[Call]:
    """Calls of ``widths`` taking each device's configs in order (the next ``k`` per call)."""
    out, first = [], 0
    for k in widths:
        slots = tuple(tuple(x[first : first + k]) for x in per_device)
        first += k
        out.append(_call(ProgramKey(*bucket, k), slots, by_position, cost, costs))
    return out


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _floor_pow2(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def split_pow2(items: Sequence, width: int) -> list[list]:
    """Chunks of at most ``width`` whose sizes are powers of two (few widths -> few compiles):
    7 with width 8 -> 4 + 2 + 1."""
    if width < 1:
        raise ValueError(f"configs per program must be >= 1, got {width}")
    width = _floor_pow2(width)
    out, rest = [], list(items)
    while rest:
        size = min(width, _floor_pow2(len(rest)))
        out.append(rest[:size])
        rest = rest[size:]
    return out


def halve(call: Call) -> list[Call]:
    """A call as two calls of half its width (each device's slots split in two), same bound."""
    k = call.program.width // 2
    out = []
    for part in (slice(0, k), slice(k, None)):
        slots = tuple(dev[part] for dev in call.slots)
        if any(slots):
            out.append(
                replace(
                    call,
                    program=replace(call.program, width=k),
                    slots=slots,
                    seconds=tuple(s / 2 for s in call.seconds),
                )
            )
    return out
