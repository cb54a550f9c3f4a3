"""Programs, FLOPs and estimated time per rung under each plan, for the reference task's full
space (no training, no compile: the planner only).

Space: ``default_space()`` (hidden 16-256, layers 1-5, batch 16-256, lr, dropout, activation,
optimizer), Hyperband R=81, eta=3, the NVDA task's 5 folds (2980 train / 500 val windows each).
Survivors are drawn by the scheduler from seeded random losses (programs per rung depend on which
configs survive, not on how well they do). For every rung, under

* ``exact``: one program per exact (hidden, layers, batch) shape;
* ``auto`` on a 2-core CPU (2 host devices): depth padded, hidden buckets from the cost model;
* ``wide`` (the accelerator plan) on one GPU with ``--memory-gib`` of memory, under the
  committed accelerator constants; and the same with hidden sizes unpadded (``wide, exact
  hidden``) to show what the padding buys by the cost model:

programs (width included: every width is a compile), calls, empty vmap slots, configs computed
more than once, computed / real matmul FLOPs, and the cost model's seconds with compiles.

    python benchmarks/plan_programs.py       # seconds
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, write_json  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-resource", type=float, default=81)
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-gib", type=float, default=80 * 0.7, help="accelerator memory a program may plan for")
    p.add_argument("--out", type=Path, default=RESULTS / "plan_programs_default_space.json")
    args = p.parse_args(argv)

    import numpy as np

    import hbjax as hb
    from hbjax import scheduler as sched
    from hbjax.brackets import continued_budget
    from hbjax.lstm.backend import _choices, default_space
    from hbjax.lstm.cost import COST_MODELS
    from hbjax.lstm.engine import steps_for
    from hbjax.lstm.plan import padded_hidden_map, plan_rung, shape_key

    space = default_space()
    search = hb.Hyperband(space, max_resource=args.max_resource, eta=args.eta, seed=args.seed)
    n_folds, n_train, n_val, n_features, window = 5, 2980, 500, 6, 20
    hiddens, batches, layers = (_choices(space.dims[k]) for k in ("hidden", "batch_size", "layers"))
    budget = continued_budget(search.plan)
    first = max(b.n for b in search.plan)
    memory = int(args.memory_gib * 2**30)
    plans = {  # name: (mode, device kind, devices, memory, pad hidden by the cost model)
        "exact (CPU, 2 devices)": ("exact", "cpu", 2, 2 << 30, True),
        "auto (CPU, 2 devices)": ("auto", "cpu", 2, 2 << 30, True),
        "wide (accelerator, 1 device)": ("wide", "gpu", 1, memory, True),
        "wide, exact hidden (accelerator, 1 device)": ("wide", "gpu", 1, memory, False),
    }
    maps = {name: padded_hidden_map(mode, kind, hiddens=hiddens, batch_sizes=batches, layers=layers,
                                    config_epochs=budget, sizes={window: (n_folds, n_train, n_features)},
                                    first_rung_configs=first) if pad else None
            for name, (mode, kind, _, _, pad) in plans.items()}
    rng = np.random.default_rng(args.seed)
    state = search.initial_state()
    rungs = []
    seen = {name: set() for name in plans}
    totals = {name: dict(computed_flops=0.0, real_flops=0.0, train_s=0.0, compile_s=0.0, empty_slots=0,
                         duplicated_configs=0, calls=0) for name in plans}
    while not sched.done(state):
        job, state = sched.ask(state)
        shapes = [shape_key(c, window) for c in job.configs]
        row = {"bracket": job.bracket, "rung": job.rung, "configs": len(job.config_ids), "resource": job.resource}
        for name, (mode, kind, n_dev, mem, _pad) in plans.items():
            starts = [steps_for(r, n_train // s.batch_size) for s, r in zip(shapes, job.previous_resource)]
            stops = [steps_for(job.resource, n_train // s.batch_size) for s in shapes]
            plan = plan_rung(shapes, starts, stops, device_kind=kind, n_devices=n_dev, mode=mode,
                             max_layers=max(layers) if mode != "exact" else None, padded_hidden=maps[name],
                             n_features=n_features, n_folds=n_folds, n_train=n_train, n_val=n_val,
                             memory_bytes=mem, cost=COST_MODELS[kind], known_programs=seen[name])
            positions = [q for c in plan.calls for q in c.positions]
            assert sorted(set(positions)) == list(range(len(shapes)))
            seen[name] |= set(plan.programs)
            t = totals[name]
            t["computed_flops"] += plan.computed_flops
            t["real_flops"] += plan.real_flops
            t["train_s"] += max(plan.device_seconds(), default=0.0)
            t["compile_s"] += plan.compile_s
            t["empty_slots"] += sum(c.empty_slots for c in plan.calls)
            t["duplicated_configs"] += len(positions) - len(set(positions))
            t["calls"] += len(plan.calls)
            row[name] = {"programs": len(plan.programs), "calls": len(plan.calls),
                         "widths": sorted({p.width for p in plan.programs}),
                         "empty_slots": sum(c.empty_slots for c in plan.calls),
                         "computed_over_real_flops": plan.computed_flops / plan.real_flops,
                         "estimated_s": max(plan.device_seconds(), default=0.0),
                         "distinct_programs_so_far": len(seen[name])}
        rungs.append(row)
        state = sched.tell(state, job, rng.random(len(job.config_ids)))
    names = list(plans)
    summary = {}
    for name in names:
        t = totals[name]
        summary[name] = {"distinct_programs_width_included": len(seen[name]),
                         "computed_over_real_flops": t["computed_flops"] / t["real_flops"],
                         "estimated_train_s": t["train_s"], "estimated_compile_s": t["compile_s"],
                         "estimated_total_s": t["train_s"] + t["compile_s"], "empty_slots": t["empty_slots"],
                         "configs_computed_twice": t["duplicated_configs"], "calls": t["calls"],
                         "programs": sorted(p.describe() for p in seen[name])}
    print(f"Hyperband R={args.max_resource:g} eta={args.eta} over default_space(): {len(rungs)} rungs, "
          f"{sum(r['configs'] for r in rungs)} config-rungs, {budget:g} config-epochs")
    print(f"{'bracket/rung':>12s} {'configs':>7s} " + " ".join(f"{n[:26]:>26s}" for n in names))
    for r in rungs:
        print(f"{r['bracket']:>9d}/{r['rung']:<2d} {r['configs']:>7d} " + " ".join(
            f"{r[n]['programs']:>4d} prog {r[n]['computed_over_real_flops']:5.2f}x {r[n]['estimated_s']:8.1f} s"
            for n in names))
    for name in names:
        s = summary[name]
        print(f"{name}: {s['distinct_programs_width_included']} distinct programs, computed/real FLOPs "
              f"{s['computed_over_real_flops']:.2f}, {s['empty_slots']} empty slots, {s['configs_computed_twice']} "
              f"configs computed twice, est. {s['estimated_train_s']:.0f} s training + {s['estimated_compile_s']:.0f} s "
              f"compiles")
    write_json(args.out, {"benchmark": "plan_programs", "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          "settings": {"space": repr(space), "max_resource": args.max_resource, "eta": args.eta,
                                       "seed": args.seed, "folds": n_folds, "train_windows": n_train,
                                       "accelerator_memory_gib": args.memory_gib,
                                       "survivors": "scheduler on seeded random losses",
                                       "cost_constants": {k: COST_MODELS[k].to_dict() for k in ("cpu", "gpu")},
                                       "note": "programs are counted with their width; the accelerator constants "
                                               "are committed estimates, no GPU measured"},
                          "plans": {n: {"mode": m, "device_kind": k, "devices": d, "hidden_padding": pad}
                                    for n, (m, k, d, _, pad) in plans.items()},
                          "rungs": rungs, "run": summary})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
