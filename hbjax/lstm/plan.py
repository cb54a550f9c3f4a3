"""The rung plan: which configs share which compiled program, on which device, in what order.

A pure function of (the rung's config shapes and step counts, device kind and count, settings):
no live timing enters it, so the same command gives the same programs and the same floats.

* A **program** is one compiled train function: padded hidden units ``Hp``, padded depth ``Lp``,
  batch size and window (static), how configs are batched inside it (``"map"``: one after another,
  ``lax.map``; ``"vmap"``: side by side) and its width (configs per call).
* A **call** runs one program on one device for some of the rung's configs.

Modes: ``"exact"`` (one program per exact shape: nothing padded), ``"wide"`` (the accelerator
plan: per batch size and window one program of the largest hidden size and depth, vmapped, as
wide as memory allows), ``"auto"`` (``"wide"`` on GPU/TPU; on CPU, configs run one after another,
depth pads to the space's deepest (an inactive layer is skipped, so this costs nothing) and hidden
sizes share a program where the cost model says the padded FLOPs over the run cost less than the
compile they save: ``hidden_buckets``, fixed per run from the space). ``"wide"`` can be forced
on CPU to test the accelerator plan there.

Why "map" on CPU: XLA CPU runs a vmapped matmul over per-config weights as N small matmuls, so
batching gains nothing there (docs/ARCHITECTURE.md), while one-at-a-time keeps every config's
floats independent of its batch, skips inactive layers outright, and lets whole programs spread
over several host devices (longest first) instead of padding a lone config to the device count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

__all__ = ["ShapeKey", "ProgramKey", "Call", "RungPlan", "CostModel", "COST_MODELS", "shape_key", "plan_rung",
           "hidden_buckets", "padded_hidden_map", "step_flops", "bytes_per_config", "next_pow2", "split_pow2", "MODES", "cost_model"]

MODES = ("auto", "exact", "wide")


@dataclass(frozen=True, order=True)
class ShapeKey:
    """A config's own shape."""

    hidden: int
    layers: int
    batch_size: int
    window: int


@dataclass(frozen=True, order=True)
class ProgramKey:
    hidden: int  # padded units Hp
    layers: int  # padded depth Lp
    batch_size: int
    window: int
    batching: str  # "map" | "vmap"
    width: int  # configs per call

    def describe(self) -> str:
        return f"H{self.hidden} L{self.layers} B{self.batch_size} W{self.window} {self.batching}x{self.width}"


@dataclass(frozen=True)
class Call:
    """One launch of a program over all devices: ``slots[d]`` are the rung positions device ``d``
    trains (at most ``program.width``; an empty slot is skipped, or under vmap repeats a real one)."""

    program: ProgramKey
    slots: tuple[tuple[int, ...], ...]
    start: int  # first optimizer step (the configs of a call continue from the same step)
    seconds: tuple[float, ...]  # the cost model's estimate per device

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(p for dev in self.slots for p in dev)


@dataclass(frozen=True)
class RungPlan:
    mode: str
    calls: tuple[Call, ...]  # in dispatch order

    @property
    def programs(self) -> list[ProgramKey]:
        """Distinct programs, in the order they are first needed."""
        return list(dict.fromkeys(c.program for c in self.calls))

    def device_seconds(self) -> list[float]:
        return [sum(s) for s in zip(*(c.seconds for c in self.calls))] if self.calls else []


@dataclass(frozen=True)
class CostModel:
    """Constants for one kind of device, measured once (``benchmarks/cost_constants.py``, JSON in
    ``benchmarks/results/``) and committed; never live timings."""

    flops_per_s: float  # achieved by the train step's matmuls
    seconds_per_step: float  # fixed cost of one optimizer step (loops, elementwise, gathers)
    compile_s: float  # one train program, from an empty cache
    vmap_parallel: bool  # True: a vmapped program's configs run side by side (accelerators)


#: Measured on the 2-core development CPU (benchmarks/results/cost_constants_cpu.json); the
#: accelerator figures are a guess until a GPU is measured (wide costs little there).
COST_MODELS = {
    "cpu": CostModel(flops_per_s=8.1e10, seconds_per_step=4.3e-4, compile_s=1.9, vmap_parallel=False),
    "gpu": CostModel(flops_per_s=2.0e13, seconds_per_step=2.0e-4, compile_s=10.0, vmap_parallel=True),
}
COST_MODELS["tpu"] = COST_MODELS["gpu"]


def cost_model(device_kind: str) -> CostModel:
    return COST_MODELS.get(device_kind, COST_MODELS["gpu"])


def shape_key(config: Mapping, default_window: int) -> ShapeKey:
    return ShapeKey(int(config["hidden"]), int(config["layers"]), int(config["batch_size"]),
                    int(config.get("window", default_window)))


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def split_pow2(items: Sequence, width: int) -> list[list]:
    """Chunks of at most ``width`` whose sizes are powers of two (few widths -> few compiles):
    7 with width 8 -> 4 + 2 + 1."""
    if width < 1:
        raise ValueError(f"configs per program must be >= 1, got {width}")
    width = 1 << (width.bit_length() - 1)
    out, rest = [], list(items)
    while rest:
        size = min(width, 1 << (len(rest).bit_length() - 1))
        out.append(rest[:size])
        rest = rest[size:]
    return out


def step_flops(hidden: int, layers: int, batch: int, window: int, n_features: int) -> float:
    """Matmul FLOPs of one optimizer step (forward 2·B·T·(in+H)·4H per layer, backward 2x)."""
    total, inputs = 0.0, n_features
    for _ in range(layers):
        total += 2.0 * batch * window * (inputs + hidden) * 4 * hidden
        inputs = hidden
    return 3.0 * (total + 2.0 * batch * hidden)


def bytes_per_config(hidden: int, layers: int, batch: int, window: int, n_features: int, n_folds: int,
                     n_train: int, n_val: int) -> int:
    """Rough device bytes one config needs while training (float32): params, two moments,
    gradients and temporaries; LSTM activations kept for backprop; the validation pass."""
    params = 4 * hidden * (n_features + hidden) + 4 * hidden
    params += (layers - 1) * (8 * hidden * hidden + 4 * hidden) + hidden + 1
    state = params * 6
    acts = batch * window * layers * hidden * 14
    evaluation = min(n_val, 4096) * window * hidden * 10
    return 4 * n_folds * (state + acts + evaluation) + 4 * n_train


@dataclass(frozen=True)
class _Item:
    position: int
    shape: ShapeKey
    start: int
    steps: int


def plan_rung(shapes: Sequence[ShapeKey], starts: Sequence[int], stops: Sequence[int], *,
              device_kind: str, n_devices: int, mode: str = "auto", width: int | None = None,
              max_layers: int | None = None, padded_hidden: Mapping[tuple[int, int, int], int] | None = None,
              n_features: int, n_folds: int, n_train: int, n_val: int, memory_bytes: int,
              cost: CostModel | None = None) -> RungPlan:
    """Plan one rung. ``shapes[i]``, ``starts[i]``, ``stops[i]``: config i's shape and the
    optimizer steps it trains (``[start, stop)``). ``width``: configs per call (None = by plan).
    ``max_layers``: the depth every program pads to (the space's largest; None = the rung's).
    ``padded_hidden``: (hidden, batch, window) -> padded hidden, fixed for the run (the space's
    buckets, ``hidden_buckets``); without it ``auto`` on CPU pads no hidden size and ``wide``
    pads to the rung's largest."""
    if mode not in MODES:
        raise ValueError(f"plan must be one of {MODES}, got {mode!r}")
    cost = cost or cost_model(device_kind)
    if mode == "auto":
        mode = "wide" if device_kind != "cpu" else "auto"
    batching = "vmap" if mode == "wide" else "map"
    items = [_Item(i, s, int(a), int(b) - int(a)) for i, (s, a, b) in enumerate(zip(shapes, starts, stops))]

    def seconds(hp: int, lp_active: int, item: _Item) -> float:
        s = item.shape
        flops = step_flops(hp, lp_active, s.batch_size, s.window, n_features) * n_folds
        return item.steps * (cost.seconds_per_step + flops / cost.flops_per_s)

    # 1. buckets: (batch, window) groups, then hidden buckets and a depth per group
    buckets: list[tuple[int, int, list[_Item]]] = []  # (Hp, Lp, items)
    by_bw: dict[tuple[int, int], list[_Item]] = {}
    for it in items:
        by_bw.setdefault((it.shape.batch_size, it.shape.window), []).append(it)
    for (_b, _w), group in sorted(by_bw.items()):
        if mode == "exact":
            exact: dict[tuple[int, int], list[_Item]] = {}
            for it in group:
                exact.setdefault((it.shape.hidden, it.shape.layers), []).append(it)
            buckets += [(h, l, its) for (h, l), its in sorted(exact.items())]
            continue
        depth = max_layers or max(it.shape.layers for it in group)
        widest = max(it.shape.hidden for it in group)
        by_hp: dict[int, list[_Item]] = {}
        for it in group:
            s = it.shape
            hp = (padded_hidden or {}).get((s.hidden, s.batch_size, s.window))
            if hp is None:
                hp = widest if mode == "wide" else s.hidden
            by_hp.setdefault(max(hp, s.hidden), []).append(it)
        buckets += [(hp, depth, its) for hp, its in sorted(by_hp.items())]

    # 2. devices: every config, longest first, to the least loaded device (LPT)
    est = {}
    for hp, lp, its in buckets:
        for it in its:
            active = lp if batching == "vmap" else it.shape.layers  # map skips inactive layers
            est[it.position] = seconds(hp, active, it)
    load = [0.0] * max(1, n_devices)
    device_of = {}
    for hp, lp, it in sorted(((hp, lp, it) for hp, lp, its in buckets for it in its),
                             key=lambda t: (-est[t[2].position], t[2].position)):
        d = min(range(len(load)), key=lambda k: (load[k], k))
        device_of[it.position] = d
        load[d] += est[it.position]

    # 3. calls: per bucket and start step, each device's configs in slots of the call's width
    calls: list[tuple[float, Call]] = []
    for hp, lp, its in buckets:
        b, w = its[0].shape.batch_size, its[0].shape.window
        per_config = bytes_per_config(hp, lp, b, w, n_features, n_folds, n_train, n_val)
        fits = max(1, memory_bytes // per_config)
        by_start: dict[int, list[_Item]] = {}
        for it in its:
            by_start.setdefault(it.start, []).append(it)
        for start, group in sorted(by_start.items()):
            per_device = [[it.position for it in group if device_of[it.position] == d] for d in range(len(load))]
            most = max(len(x) for x in per_device)
            cap = min(width or (256 if batching == "vmap" else 1), fits)
            k = min(next_pow2(most), 1 << (cap.bit_length() - 1))  # a power of two, never above the cap
            if batching == "vmap":
                k = max(2, k)  # never width 1: vmapped widths >= 2 agree bit for bit
            for first in range(0, most, k):
                slots = tuple(tuple(x[first:first + k]) for x in per_device)
                secs = []
                for dev in slots:
                    each = [est[p] for p in dev]
                    secs.append(0.0 if not each else max(each) * (1 if cost.vmap_parallel else k)
                                if batching == "vmap" else sum(each))
                program = ProgramKey(hp, lp, b, w, batching, k)
                calls.append((sum(est[it.position] for it in group), Call(program, slots, start, tuple(secs))))
    # dispatch: the costliest programs first (their compile is needed first; later ones compile
    # on a background thread while these train)
    calls.sort(key=lambda t: (-t[0], t[1].program, t[1].start, t[1].slots))
    return RungPlan(mode, tuple(c for _, c in calls))


def hidden_buckets(hiddens: Sequence[int], *, epochs_per_config: float, batch: int, window: int, layers: int,
                   n_features: int, n_folds: int, n_train: int, cost: CostModel) -> dict[int, int]:
    """Hidden size -> padded size, for one batch size and window, fixed for a whole run.

    Each hidden size is expected to train ``epochs_per_config`` config-epochs over the run (its
    share of the budget). A bucket costs one compile plus the training of its sizes at the
    bucket's width; a small exact dynamic program over the sorted sizes picks the cheapest
    contiguous buckets. Fixed per run, so a config runs at the same padded size in every rung:
    its floats never depend on the configs it shares a rung with, and programs are reused."""
    hs = sorted(set(int(h) for h in hiddens))
    spe = max(1, n_train // batch)

    def train_s(h_padded: int) -> float:
        flops = step_flops(h_padded, layers, batch, window, n_features) * n_folds
        return epochs_per_config * spe * (cost.seconds_per_step + flops / cost.flops_per_s)

    def bucket_cost(i: int, j: int) -> float:  # hs[i..j] padded to hs[j]
        return cost.compile_s + (j - i + 1) * train_s(hs[j])

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
                      sizes: Mapping[int, tuple[int, int, int]]) -> dict | None:
    """(hidden, batch, window) -> padded hidden for a whole run, from the space's choices:
    ``exact`` pads nothing (None); ``wide`` (and ``auto`` on accelerators) pads every hidden size
    to the largest (one program per batch size and window); ``auto`` on CPU takes the cost
    model's ``hidden_buckets``, each (hidden, batch, window) expected to train its equal share of
    ``config_epochs``. ``sizes``: window -> (folds, training windows, features)."""
    if mode == "exact":
        return None
    wide = mode == "wide" or device_kind != "cpu"
    hiddens = sorted({int(h) for h in hiddens})
    share = config_epochs / max(1, len(hiddens) * len(set(batch_sizes)) * len(sizes))
    out = {}
    for b in sorted({int(b) for b in batch_sizes}):
        for w, (n_folds, n_train, n_features) in sorted(sizes.items()):
            if wide:
                out.update({(h, b, w): hiddens[-1] for h in hiddens})
                continue
            buckets = hidden_buckets(hiddens, epochs_per_config=share, batch=b, window=w,
                                     layers=round(sum(layers) / len(layers)), n_features=n_features,
                                     n_folds=n_folds, n_train=n_train, cost=cost_model(device_kind))
            out.update({(h, b, w): hp for h, hp in buckets.items()})
    return out
