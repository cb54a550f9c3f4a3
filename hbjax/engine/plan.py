"""The rung plan: which configs share which compiled program, on which device, in what order.

A pure function of (the rung's config shapes and step counts, the device's cost constants, the
device count, the run's settings, and the programs the run has already compiled): no live timing
enters it, so the same command gives the same programs and the same floats.

* A **program** is one compiled train function: padded hidden units ``Hp``, padded depth ``Lp``,
  batch size and window (static), how configs are batched inside it (``"map"``: one after another,
  ``lax.map``; ``"vmap"``: side by side) and its width (configs per call). Programs are counted
  with their width: every width is a compile.
* A **call** runs one program on every device for some of the rung's configs. A vmapped call
  also carries its depth: the deepest config it holds, which is where its layer loop stops.

Modes: ``"exact"`` (one program per exact shape: nothing padded), ``"wide"`` (the accelerator
plan: configs vmapped side by side, hidden sizes bucketed and depth padded as the cost model
says, widths chosen by the cost model), ``"auto"`` (``"wide"`` on GPU/TPU; on CPU, configs run one
after another, depth pads to the space's deepest (an inactive layer is skipped, so this costs
nothing) and hidden sizes share a program where the cost model says the padded FLOPs over the
run cost less than the compile they save). ``"wide"`` can be forced on CPU to test the
accelerator plan there.

Under ``vmap`` no config is computed twice: a slot that no config fills holds an empty config
(zero weights, zero units) whose work the cost model charges, and a lone config runs at width 1
(widths 1, 2, 4, 8 agree bit for bit on CPU: tests/test_wide_plan.py).

A plan may hold configs of different rungs (a wave: every ready rung of every bracket): each
config brings its own step range. Under map each config loops over its own steps; under vmap a
call runs over the union of its configs' ranges (every slot computes every step of it, a step
outside a config's range is discarded), so configs of different ranges share calls only where
the cost model says wider calls over a longer range are cheaper than calls per range.

Why "map" on CPU: XLA CPU runs a vmapped matmul over per-config weights as N small matmuls, so
batching gains nothing there (docs/ARCHITECTURE.md), while one-at-a-time keeps every config's
floats independent of its batch, skips inactive layers outright, and lets whole programs spread
over several host devices (longest first) instead of padding a lone config to the device count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from .cost import (COST_MODELS, CostModel, bytes_per_config, cost_model, step_flops,  # noqa: F401 (re-exported)
                   step_seconds)

__all__ = ["ShapeKey", "ProgramKey", "Call", "RungPlan", "CostModel", "COST_MODELS", "shape_key", "plan_rung", "halve",
           "hidden_buckets", "padded_hidden_map", "step_flops", "bytes_per_config", "next_pow2", "split_pow2",
           "MODES", "cost_model"]

MODES = ("auto", "exact", "wide")
MAX_VMAP_WIDTH = 256


@dataclass(frozen=True, order=True)
class ShapeKey:
    """A config's own shape."""

    hidden: int  # units the padding hook may pad (0 for a model without the hook)
    layers: int  # depth the padding hook may trace (1 without it)
    batch_size: int
    window: int  # the data key (an LSTM's input window; 0 for one dataset)
    static: tuple = ()  # a model's own static hyperparameters, as sorted (name, repr(value)) pairs


@dataclass(frozen=True, order=True)
class ProgramKey:
    hidden: int  # padded units Hp
    layers: int  # padded depth Lp
    batch_size: int
    window: int
    batching: str  # "map" | "vmap"
    width: int  # configs per call
    static: tuple = ()  # the model's static hyperparameters (ShapeKey.static)

    def describe(self) -> str:
        if self.static:
            own = " ".join(f"{k}={v}" for k, v in self.static)
            return f"{own} B{self.batch_size} {self.batching}x{self.width}"
        return f"H{self.hidden} L{self.layers} B{self.batch_size} W{self.window} {self.batching}x{self.width}"

    @property
    def bucket(self) -> tuple:
        """The program without its width: the programs a split into narrower calls may use."""
        return self.hidden, self.layers, self.batch_size, self.window, self.batching, self.static


@dataclass(frozen=True)
class Call:
    """One launch of a program over all devices: ``slots[d]`` are the rung positions device ``d``
    trains (at most ``program.width``; an empty slot is skipped under map, an empty config under
    vmap). ``depth``: the layers the call runs (its deepest config; ``program.layers`` under map,
    where each config skips its own inactive layers)."""

    program: ProgramKey
    slots: tuple[tuple[int, ...], ...]
    start: int  # the first optimizer step of any of its configs (each config has its own range)
    seconds: tuple[float, ...]  # the cost model's estimate per device
    depth: int = 0
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


def shape_key(config: Mapping, default_window: int) -> ShapeKey:
    return ShapeKey(int(config["hidden"]), int(config["layers"]), int(config["batch_size"]),
                    int(config.get("window", default_window)))


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


@dataclass(frozen=True)
class _Item:
    position: int
    shape: ShapeKey
    start: int
    steps: int
    priority: int = 0  # lower runs earlier (a wave: configs whose brackets have more rungs to go)


def plan_rung(shapes: Sequence[ShapeKey], starts: Sequence[int], stops: Sequence[int], *,
              device_kind: str, n_devices: int, mode: str = "auto", width: int | None = None,
              max_layers: int | None = None, padded_hidden: Mapping[tuple[int, int, int], int] | None = None,
              n_features: int, n_folds: int, n_train: int, n_val: int, memory_bytes: int,
              cost: CostModel | None = None, known_programs: Iterable[ProgramKey] = (),
              width_caps: Mapping[tuple, int] | None = None, queued: Sequence[float] | None = None,
              priorities: Sequence[int] | None = None, flops_fn=None, bytes_fn=None) -> RungPlan:
    """Plan one rung. ``shapes[i]``, ``starts[i]``, ``stops[i]``: config i's shape and the
    optimizer steps it trains (``[start, stop)``). ``width``: the most configs per call (None =
    by plan). ``max_layers``: the depth every program pads to (the space's largest; None = the
    rung's). ``padded_hidden``: (hidden, batch, window) -> padded hidden, fixed for the run
    (``padded_hidden_map``); without it nothing pads. ``cost``: the device's constants (None: the
    committed default of ``device_kind``). ``known_programs``: programs compiled already (no
    compile charged). ``width_caps``: ``ProgramKey.bucket`` -> widest call that fits in memory, as
    measured by ``memory_analysis()`` of an earlier compile. ``queued``: seconds of work already
    queued per device (configs go longest-first to the device that frees up first).
    ``priorities[i]``: lower runs earlier (calls are dispatched by it first, then costliest first):
    in a wave, the jobs whose brackets have the most rungs to go, whose results unlock the most.
    ``flops_fn(hidden, layers, shape)``: matmul FLOPs of one step of a config of ``shape`` run at
    ``hidden`` units and ``layers`` deep, all folds; ``bytes_fn(hidden, layers, shape)``: one slot's
    device bytes (the model client's; None: the LSTM's formulas of ``cost.py``)."""
    if mode not in MODES:
        raise ValueError(f"plan must be one of {MODES}, got {mode!r}")
    cost = cost or cost_model(device_kind)
    if mode == "auto":
        mode = "wide" if device_kind != "cpu" else "auto"
    batching = "vmap" if mode == "wide" else "map"
    known = set(known_programs)
    width_caps = width_caps or {}
    prio = list(priorities) if priorities is not None else [0] * len(shapes)
    items = [_Item(i, s, int(a), int(b) - int(a), int(q)) for i, (s, a, b, q) in
             enumerate(zip(shapes, starts, stops, prio))]

    def flops(hp: int, layers: int, s: ShapeKey) -> float:
        if flops_fn is not None:
            return flops_fn(hp, layers, s)
        return step_flops(hp, layers, s.batch_size, s.window, n_features) * n_folds

    def slot_bytes(hp: int, layers: int, s: ShapeKey) -> int:
        if bytes_fn is not None:
            return bytes_fn(hp, layers, s)
        return bytes_per_config(hp, layers, s.batch_size, s.window, n_features, n_folds, n_train, n_val)

    def alone_seconds(hp: int, layers: int, item: _Item) -> float:
        s = item.shape
        return item.steps * step_seconds(cost, batching=batching, width=1, slot_flops=flops(hp, layers, s),
                                         window=s.window, depth=layers)

    # 1. buckets: (batch, window) groups, then hidden buckets and a depth per group
    buckets: list[tuple[int, int, list[_Item]]] = []  # (Hp, Lp, items)
    by_bw: dict[tuple, list[_Item]] = {}
    for it in items:
        by_bw.setdefault((it.shape.batch_size, it.shape.window, it.shape.static), []).append(it)
    for _, group in sorted(by_bw.items()):
        if mode == "exact":
            exact: dict[tuple[int, int], list[_Item]] = {}
            for it in group:
                exact.setdefault((it.shape.hidden, it.shape.layers), []).append(it)
            buckets += [(h, l, its) for (h, l), its in sorted(exact.items())]
            continue
        depth = max_layers or max(it.shape.layers for it in group)
        by_hp: dict[int, list[_Item]] = {}
        for it in group:
            s = it.shape
            hp = (padded_hidden or {}).get((s.hidden, s.batch_size, s.window), s.hidden)
            by_hp.setdefault(max(hp, s.hidden), []).append(it)
        buckets += [(hp, depth, its) for hp, its in sorted(by_hp.items())]

    # 2. devices: every config, longest first, to the least loaded device (LPT)
    est = {it.position: alone_seconds(hp, it.shape.layers, it) for hp, lp, its in buckets for it in its}
    load = [0.0] * max(1, n_devices)
    for d, sec in enumerate(list(queued or [])[:len(load)]):
        load[d] += float(sec)
    device_of = {}
    for hp, lp, it in sorted(((hp, lp, it) for hp, lp, its in buckets for it in its),
                             key=lambda t: (-est[t[2].position], t[2].position)):
        d = min(range(len(load)), key=lambda k: (load[k], k))
        device_of[it.position] = d
        load[d] += est[it.position]

    # 3. calls: per bucket (and step range, where that is cheaper), each device's configs in slots
    by_position = {it.position: it for it in items}
    calls: list[tuple[float, Call]] = []
    planned: set[ProgramKey] = set()
    for hp, lp, its in buckets:
        first = its[0].shape
        bucket = (hp, lp, first.batch_size, first.window, batching, first.static)
        fits = max(1, memory_bytes // max(1, slot_bytes(hp, lp, first)))
        cap = _floor_pow2(min(width or (MAX_VMAP_WIDTH if batching == "vmap" else 1), fits,
                              width_caps.get(bucket, MAX_VMAP_WIDTH)))
        n_dev = len(load)

        def device_lists(group):  # map: by priority; vmap: deepest first (a call's layer loop stops at its deepest)
            order = (lambda t: (t.priority, -t.shape.layers, t.position)) if batching == "map" else \
                (lambda t: (-t.shape.layers, t.position))
            return [[it.position for it in sorted(group, key=order) if device_of[it.position] == d]
                    for d in range(n_dev)]

        def price(these):  # the calls' seconds on the busiest device, plus compiles of new programs
            return (max(sum(c.seconds[d] for c in these) for d in range(n_dev))
                    + len({c.program for c in these} - known - planned) * cost.compile_s)

        def group_calls(group):
            per_device = device_lists(group)
            most = max(len(x) for x in per_device)
            if batching == "map":
                widths = [min(next_pow2(most), cap)] * math.ceil(most / min(next_pow2(most), cap))
            else:
                compiled = {q.width for q in known | planned if q.bucket == bucket and q.width <= cap}
                widths = _vmap_widths(most, cap, compiled,
                                      lambda ws: price(_calls(ws, bucket, per_device, by_position, cost, flops)))
            return _calls(widths, bucket, per_device, by_position, cost, flops)

        by_range: dict[tuple[int, int], list[_Item]] = {}
        for it in its:
            by_range.setdefault((it.start, it.start + it.steps), []).append(it)
        # map: each config loops over its own steps, so one group. vmap: step ranges (sorted)
        # grouped into contiguous runs that share calls over their union, as the cost model says
        # is cheapest (an exact DP over the few ranges of a wave: at most one per bracket)
        ranges = [g for _, g in sorted(by_range.items())]
        chosen = [(its, group_calls(its))] if batching == "map" or len(ranges) == 1 else _range_groups(
            ranges, group_calls, price)
        for group, these in chosen:
            for call in these:
                planned.add(call.program)
                calls.append((sum(est[it.position] for it in group), call))
    # dispatch: by priority, then the costliest programs first (their compile is needed first;
    # later ones compile on a background thread while these train)
    calls.sort(key=lambda t: (min(by_position[q].priority for q in t[1].positions), -t[0], t[1].program,
                              t[1].start, t[1].slots))
    new = {c.program for _, c in calls} - known
    return RungPlan(mode, tuple(c for _, c in calls), compile_s=len(new) * cost.compile_s)


def _range_groups(ranges: list[list[_Item]], group_calls, price) -> list[tuple[list[_Item], list[Call]]]:
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


def _call(program: ProgramKey, slots, by_position, cost: CostModel, flops) -> Call:
    """A call with what it computes and costs: under vmap every device runs all ``width`` slots
    to the call's depth over the union of its configs' step ranges; under map each config alone
    at its own depth over its own steps."""
    real = [by_position[p] for dev in slots for p in dev]
    start, stop = min(it.start for it in real), max(it.start + it.steps for it in real)
    real_flops = sum(it.steps * flops(it.shape.hidden, it.shape.layers, it.shape) for it in real)
    if program.batching == "vmap":
        depth = max(it.shape.layers for it in real)
        shape = real[0].shape
        slot = flops(program.hidden, depth, shape)
        steps = stop - start
        secs = steps * step_seconds(cost, batching="vmap", width=program.width, slot_flops=slot,
                                    window=shape.window, depth=depth)
        return Call(program, slots, start, (secs,) * len(slots), depth, steps,
                    steps * slot * program.width * len(slots), real_flops, stop)
    seconds = tuple(sum(it.steps * step_seconds(cost, batching="map", width=1,
                                                slot_flops=flops(program.hidden, it.shape.layers, it.shape),
                                                window=it.shape.window, depth=it.shape.layers)
                        for it in (by_position[p] for p in dev)) for dev in slots)
    computed = sum(it.steps * flops(program.hidden, it.shape.layers, it.shape) for it in real)
    return Call(program, slots, start, seconds, program.layers, max(it.steps for it in real), computed, real_flops,
                stop)


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


def _calls(widths, bucket, per_device, by_position, cost: CostModel, flops) -> list[Call]:
    """Calls of ``widths`` taking each device's configs in order (the next ``k`` per call)."""
    out, first = [], 0
    for k in widths:
        slots = tuple(tuple(x[first:first + k]) for x in per_device)
        first += k
        out.append(_call(ProgramKey(*bucket[:5], k, bucket[5]), slots, by_position, cost, flops))
    return out


def hidden_buckets(hiddens: Sequence[int], *, epochs_per_config: float, batch: int, window: int, layers: int,
                   n_features: int, n_folds: int, n_train: int, cost: CostModel,
                   configs_per_call: float = 1.0) -> dict[int, int]:
    """Hidden size -> padded size, for one batch size and window, fixed for a whole run.

    Each hidden size is expected to train ``epochs_per_config`` config-epochs over the run (its
    share of the budget). A bucket costs its compiles plus the training of its sizes at the
    bucket's width; a small exact dynamic program over the sorted sizes picks the cheapest
    contiguous buckets. On a CPU (configs one after another) a bucket is one compile and each
    config pays its padded FLOPs. On an accelerator (side by side) ``configs_per_call`` configs of
    each hidden size are expected in a call: a bucket of more sizes shares the latency floor among
    more configs but computes all of them at its padded size, and compiles a program per width
    (powers of two up to its expected width). Fixed per run, so a config runs at the same padded
    size in every rung: its floats never depend on the configs it shares a rung with."""
    hs = sorted(set(int(h) for h in hiddens))
    spe = max(1, n_train // batch)

    def train_s(h_padded: int, sizes: int) -> float:
        flops = step_flops(h_padded, layers, batch, window, n_features) * n_folds
        if cost.vmap_parallel:
            per_step = max(cost.floor(window, layers) / max(1.0, configs_per_call * sizes), flops / cost.flops_per_s)
        else:
            per_step = cost.floor(window, layers) + flops / cost.flops_per_s
        return epochs_per_config * spe * per_step

    def bucket_cost(i: int, j: int) -> float:  # hs[i..j] padded to hs[j]
        sizes = j - i + 1
        compiles = 1 + (math.ceil(math.log2(max(1.0, configs_per_call * sizes))) if cost.vmap_parallel else 0)
        return cost.compile_s * compiles + sizes * train_s(hs[j], sizes)

    best = [0.0] + [math.inf] * len(hs)
    cut = [0] * (len(hs) + 1)
    for j in range(1, len(hs) + 1):
        for i in range(j):
            c = best[i] + bucket_cost(i, j - 1)
            if c < best[j] - 1e-9:
                best[j], cut[j] = c, i
    out, j = {}, len(hs)
    while j > 0:
        i = cut[j]
        out.update({h: hs[j - 1] for h in hs[i:j]})
        j = i
    return out


def padded_hidden_map(mode: str, device_kind: str, *, hiddens: Sequence[int], batch_sizes: Sequence[int],
                      layers: Sequence[int], config_epochs: float,
                      sizes: Mapping[int, tuple[int, int, int]], cost: CostModel | None = None,
                      first_rung_configs: int | None = None) -> dict | None:
    """(hidden, batch, window) -> padded hidden for a whole run, from the space's choices and the
    cost model (``hidden_buckets``), each (hidden, batch, window) expected to train its equal
    share of ``config_epochs``; ``exact`` pads nothing (None). Vmapped plans (``wide``, and
    ``auto`` on accelerators) expect ``first_rung_configs`` (the largest rung's configs, spread
    evenly over the space's shapes) in a call. ``sizes``: window -> (folds, training windows,
    features)."""
    if mode == "exact":
        return None
    cost = cost or cost_model(device_kind)
    vmapped = mode == "wide" or device_kind != "cpu"
    if vmapped and not cost.vmap_parallel:  # the accelerator plan forced on a CPU: price it as one
        cost = COST_MODELS["gpu"]
    hiddens = sorted({int(h) for h in hiddens})
    cells = max(1, len(hiddens) * len(set(batch_sizes)) * len(sizes))
    share = config_epochs / cells
    per_call = (first_rung_configs or cells) / cells if vmapped else 1.0
    out = {}
    for b in sorted({int(b) for b in batch_sizes}):
        for w, (n_folds, n_train, n_features) in sorted(sizes.items()):
            buckets = hidden_buckets(hiddens, epochs_per_config=share, batch=b, window=w,
                                     layers=round(sum(layers) / len(layers)), n_features=n_features,
                                     n_folds=n_folds, n_train=n_train, cost=cost, configs_per_call=per_call)
            out.update({(h, b, w): hp for h, hp in buckets.items()})
    return out


def halve(call: Call) -> list[Call]:
    """A call as two calls of half its width (each device's slots split in two), same depth."""
    k = call.program.width // 2
    out = []
    for part in (slice(0, k), slice(k, None)):
        slots = tuple(dev[part] for dev in call.slots)
        if any(slots):
            out.append(replace(call, program=replace(call.program, width=k), slots=slots,
                               seconds=tuple(s / 2 for s in call.seconds)))
    return out
