"""Programs, FLOPs and estimated time per rung under each plan, for the reference task's full
space (no training, no compile: the planner only).

Space: ``default_space()`` (hidden 16-256, layers 1-5, batch 16-256, lr, dropout, activation,
optimizer), Hyperband R=81, eta=3, the NVDA task's 5 folds (2980 train / 500 val windows each).
Survivors are drawn by the scheduler from losses seeded per (config, rung) (programs per rung depend on which
configs survive, not on how well they do). For every rung, under

* ``exact``: one program per exact (hidden, layers, batch) shape;
* ``auto`` on a 2-core CPU (2 host devices): depth padded, hidden buckets from the cost model;
* ``wide`` (the accelerator plan) on one GPU with ``--memory-gib`` of memory, under the
  committed accelerator constants; and the same with hidden sizes unpadded (``wide, exact
  hidden``) to show what the padding buys by the cost model:

programs (width included: every width is a compile), calls, empty vmap slots, configs computed
more than once, computed / real matmul FLOPs, and the cost model's seconds with compiles; once per
rung (brackets one after another) and once per wave (every ready rung of every bracket planned
together), on the same configs and survivors.

    python benchmarks/plan_programs.py       # seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, write_json


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
    from hbjax import waves as wave_sched
    from hbjax.brackets import continued_budget
    from hbjax.engine.client import Sizes
    from hbjax.engine.cost import COST_MODELS
    from hbjax.lstm.backend import _choices, default_space
    from hbjax.lstm.engine import steps_for
    from hbjax.lstm.padding import padded_hidden_map
    from hbjax.lstm.program import LSTMModel, plan_shapes

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
    maps = {
        name: padded_hidden_map(
            mode,
            kind,
            hiddens=hiddens,
            batch_sizes=batches,
            layers=layers,
            config_epochs=budget,
            sizes={window: (n_folds, n_train, n_features)},
            first_rung_configs=first,
        )
        if pad
        else None
        for name, (mode, kind, _, _, pad) in plans.items()
    }

    def stand_in_losses(job):  # seeded per (config, rung): the same survivors in rungs and in waves
        return np.array([np.random.default_rng([args.seed, cid, job.rung]).random() for cid in job.config_ids])

    def walk(waves: bool):
        """Plan every rung (or every wave: all ready rungs of all brackets as one plan)."""
        state = search.initial_state(waves=waves)
        rows, seen = [], {name: set() for name in plans}
        totals = {
            name: dict(
                computed_flops=0.0,
                real_flops=0.0,
                train_s=0.0,
                compile_s=0.0,
                empty_slots=0,
                duplicated_configs=0,
                calls=0,
            )
            for name in plans
        }
        asked = []
        for jobs, _ in wave_sched.walk(state, stand_in_losses):
            asked += [(j.iteration, j.bracket, j.rung, j.config_ids) for j in jobs]
            configs = [c for j in jobs for c in j.configs]
            shapes = [LSTMModel(None, window=window).shape(c) for c in configs]
            resources = [j.resource for j in jobs for _ in j.config_ids]
            previous = [r for j in jobs for r in j.previous_resource]
            row = {"rungs": [[j.bracket, j.rung] for j in jobs], "configs": len(configs), "resource": max(resources)}
            if not waves:
                row.update(bracket=jobs[0].bracket, rung=jobs[0].rung)
            for name, (mode, kind, n_dev, mem, _pad) in plans.items():
                starts = [steps_for(r, n_train // s.batch_size) for s, r in zip(shapes, previous)]
                stops = [steps_for(r, n_train // s.batch_size) for s, r in zip(shapes, resources)]
                plan = plan_shapes(
                    shapes,
                    starts,
                    stops,
                    device_kind=kind,
                    n_devices=n_dev,
                    mode=mode,
                    max_layers=max(layers) if mode != "exact" else None,
                    padded_hidden=maps[name],
                    sizes=Sizes(n_folds, n_train, n_val, n_features),
                    memory_bytes=mem,
                    cost=COST_MODELS[kind],
                    known_programs=frozenset(seen[name]),
                )
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
                row[name] = {
                    "programs": len(plan.programs),
                    "calls": len(plan.calls),
                    "widths": sorted({p.width for p in plan.programs}),
                    "empty_slots": sum(c.empty_slots for c in plan.calls),
                    "computed_over_real_flops": plan.computed_flops / plan.real_flops,
                    "estimated_s": max(plan.device_seconds(), default=0.0),
                    "distinct_programs_so_far": len(seen[name]),
                }
            rows.append(row)
        return rows, seen, totals, sorted(asked)

    rungs, seen, totals, asked_rungs = walk(waves=False)
    wave_rows, wave_seen, wave_totals, asked_waves = walk(waves=True)
    assert asked_rungs == asked_waves  # the same jobs: the same configs, the same survivors
    names = list(plans)

    def summarise(totals, seen, n_plans):
        out = {}
        for name in names:
            t = totals[name]
            out[name] = {
                "distinct_programs_width_included": len(seen[name]),
                "plans": n_plans,
                "computed_over_real_flops": t["computed_flops"] / t["real_flops"],
                "estimated_train_s": t["train_s"],
                "estimated_compile_s": t["compile_s"],
                "estimated_total_s": t["train_s"] + t["compile_s"],
                "empty_slots": t["empty_slots"],
                "configs_computed_twice": t["duplicated_configs"],
                "calls": t["calls"],
                "programs": sorted(p.describe() for p in seen[name]),
            }
        return out

    summary = summarise(totals, seen, len(rungs))
    summary_waves = summarise(wave_totals, wave_seen, len(wave_rows))
    print(
        f"Hyperband R={args.max_resource:g} eta={args.eta} over default_space(): {len(rungs)} rungs, "
        f"{sum(r['configs'] for r in rungs)} config-rungs, {budget:g} config-epochs"
    )
    print(f"{'bracket/rung':>12s} {'configs':>7s} " + " ".join(f"{n[:26]:>26s}" for n in names))
    for r in rungs:
        print(
            f"{r['bracket']:>9d}/{r['rung']:<2d} {r['configs']:>7d} "
            + " ".join(
                f"{r[n]['programs']:>4d} prog {r[n]['computed_over_real_flops']:5.2f}x {r[n]['estimated_s']:8.1f} s"
                for n in names
            )
        )
    for name in names:
        s = summary[name]
        print(
            f"{name}: {s['distinct_programs_width_included']} distinct programs, computed/real FLOPs "
            f"{s['computed_over_real_flops']:.2f}, {s['empty_slots']} empty slots, {s['configs_computed_twice']} "
            f"configs computed twice, est. {s['estimated_train_s']:.0f} s training + {s['estimated_compile_s']:.0f} s "
            f"compiles"
        )
    print(f"\nin waves ({len(wave_rows)} waves instead of {len(rungs)} rungs; the same configs and survivors):")
    print(f"{'wave':>4s} {'rungs':>5s} {'configs':>7s} " + " ".join(f"{n[:26]:>26s}" for n in names))
    for w, r in enumerate(wave_rows):
        print(
            f"{w:>4d} {len(r['rungs']):>5d} {r['configs']:>7d} "
            + " ".join(f"{r[n]['programs']:>3d} p {r[n]['calls']:>4d} c {r[n]['estimated_s']:8.1f} s" for n in names)
        )
    for name in names:
        a, b = summary[name], summary_waves[name]
        print(
            f"{name}: per rung {a['calls']} calls, {a['distinct_programs_width_included']} programs, est. "
            f"{a['estimated_total_s']:.0f} s; per wave {b['calls']} calls, {b['distinct_programs_width_included']} "
            f"programs, est. {b['estimated_total_s']:.0f} s"
        )
    write_json(
        args.out,
        {
            "benchmark": "plan_programs",
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "settings": {
                "space": repr(space),
                "max_resource": args.max_resource,
                "eta": args.eta,
                "seed": args.seed,
                "folds": n_folds,
                "train_windows": n_train,
                "accelerator_memory_gib": args.memory_gib,
                "survivors": "scheduler on seeded random losses",
                "cost_constants": {k: COST_MODELS[k].to_dict() for k in ("cpu", "gpu")},
                "note": "programs are counted with their width; the accelerator constants "
                "are committed estimates, no GPU measured",
            },
            "plans": {
                n: {"mode": m, "device_kind": k, "devices": d, "hidden_padding": pad}
                for n, (m, k, d, _, pad) in plans.items()
            },
            "rungs": rungs,
            "run": summary,
            "waves": wave_rows,
            "run_in_waves": summary_waves,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
