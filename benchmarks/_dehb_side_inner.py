"""Runs in the side environment of ``dehb_side_env.py`` (mf-prior-bench 1.9.0, DEHB 0.1.1): DEHB on
mf-prior-bench's own benchmark, per seed; prints one JSON list of rows (incumbent at 20..100% of
the evaluations). Usage: python _dehb_side_inner.py NAME SEED,SEED,... FEVALS"""

import json
import sys
import tempfile
import time

import mfpbench
import numpy as np
from dehb import DEHB

name, seeds, fevals = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
checkpoints = [round(fevals * f) for f in (0.2, 0.4, 0.6, 0.8, 1.0)]
rows = []
for seed in seeds:
    bench = mfpbench.get(name=name, seed=seed)

    def objective(config, fidelity, **kwargs):
        result = bench.query(config, at=int(fidelity))
        return {"fitness": float(result.error), "cost": float(result.cost)}

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        opt = DEHB(
            f=objective,
            cs=bench.space,
            dimensions=len(bench.space.get_hyperparameters()),
            min_fidelity=bench.start,
            max_fidelity=bench.end,
            eta=3,
            n_workers=1,
            seed=seed,
            output_path=out,
        )
        traj, _, _ = opt.run(fevals=fevals)
    traj = np.asarray(traj, dtype=float)
    rows.append(
        {
            "seed": seed,
            "seconds": time.perf_counter() - t0,
            "evaluations": int(len(traj)),
            **{f"inc_{k}": float(traj[k - 1]) for k in checkpoints},
        }
    )
print(json.dumps(rows))
