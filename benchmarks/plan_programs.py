"""Programs per rung under each plan, for the reference task's full space (no training).

Space: ``default_space()`` (hidden 16-256, layers 1-5, batch 16-256, lr, dropout, activation,
optimizer), Hyperband R=81, eta=3, the NVDA task's 5 folds (2980 train / 500 val windows each).
Survivors are drawn by the scheduler from seeded random losses (programs per rung depend on which
configs survive, not on how well they do). For every rung: programs and calls under

* ``exact``: one program per exact (hidden, layers, batch) shape (the first engine's grouping);
* ``auto`` on a 2-core CPU (2 host devices): depth padded, hidden buckets from the cost model;
* ``wide`` (the accelerator plan) on one GPU with ``--memory-gib`` of memory.

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
    from hbjax.lstm.engine import steps_for
    from hbjax.lstm.plan import padded_hidden_map, plan_rung, shape_key

    space = default_space()
    search = hb.Hyperband(space, max_resource=args.max_resource, eta=args.eta, seed=args.seed)
    n_folds, n_train, n_val, n_features, window = 5, 2980, 500, 6, 20
    hiddens, batches, layers = (_choices(space.dims[k]) for k in ("hidden", "batch_size", "layers"))
    budget = continued_budget(search.plan)
    plans = {
        "exact (CPU, 2 devices)": ("exact", "cpu", 2, 2 << 30),
        "auto (CPU, 2 devices)": ("auto", "cpu", 2, 2 << 30),
        "wide (accelerator, 1 device)": ("wide", "gpu", 1, int(args.memory_gib * 2**30)),
    }
    maps = {name: padded_hidden_map(mode, kind, hiddens=hiddens, batch_sizes=batches, layers=layers,
                                    config_epochs=budget, sizes={window: (n_folds, n_train, n_features)})
            for name, (mode, kind, _, _) in plans.items()}
    rng = np.random.default_rng(args.seed)
    state = search.initial_state()
    rungs, programs_seen = [], {name: set() for name in plans}
    while not sched.done(state):
        job, state = sched.ask(state)
        shapes = [shape_key(c, window) for c in job.configs]
        row = {"bracket": job.bracket, "rung": job.rung, "configs": len(job.config_ids), "resource": job.resource}
        for name, (mode, kind, n_dev, memory) in plans.items():
            starts = [steps_for(r, n_train // s.batch_size) for s, r in zip(shapes, job.previous_resource)]
            stops = [steps_for(job.resource, n_train // s.batch_size) for s in shapes]
            plan = plan_rung(shapes, starts, stops, device_kind=kind, n_devices=n_dev, mode=mode,
                             max_layers=max(layers) if mode != "exact" else None, padded_hidden=maps[name],
                             n_features=n_features, n_folds=n_folds, n_train=n_train, n_val=n_val,
                             memory_bytes=memory)
            programs = {(p.hidden, p.layers, p.batch_size, p.window) for p in plan.programs}
            programs_seen[name] |= programs
            row[name] = {"programs": len(programs), "calls": len(plan.calls),
                         "new_programs_in_run": len(programs_seen[name])}
        rungs.append(row)
        state = sched.tell(state, job, rng.random(len(job.config_ids)))
    names = list(plans)
    print(f"Hyperband R={args.max_resource:g} eta={args.eta} over default_space(): {len(rungs)} rungs, "
          f"{sum(r['configs'] for r in rungs)} config-rungs, {budget:g} config-epochs")
    print(f"{'bracket/rung':>12s} {'configs':>7s} " + " ".join(f"{n:>30s}" for n in names))
    for r in rungs:
        print(f"{r['bracket']:>9d}/{r['rung']:<2d} {r['configs']:>7d} "
              + " ".join(f"{r[n]['programs']:>17d} programs{'':4s}" for n in names))
    totals = {n: len(programs_seen[n]) for n in names}
    print("distinct programs over the run: " + ", ".join(f"{n}: {t}" for n, t in totals.items()))
    write_json(args.out, {"benchmark": "plan_programs", "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          "settings": {"space": repr(space), "max_resource": args.max_resource, "eta": args.eta,
                                       "seed": args.seed, "folds": n_folds, "train_windows": n_train,
                                       "accelerator_memory_gib": args.memory_gib,
                                       "survivors": "scheduler on seeded random losses"},
                          "plans": {n: {"mode": m, "device_kind": k, "devices": d} for n, (m, k, d, _) in plans.items()},
                          "rungs": rungs, "distinct_programs_over_run": totals,
                          "first_rung_programs": {n: rungs[0][n]["programs"] for n in names}})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
