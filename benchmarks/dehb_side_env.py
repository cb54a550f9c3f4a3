"""DEHB on mf-prior-bench's OWN MFHartmann, in a side environment, beside hbjax's harness.

Builds (once) a virtualenv with the versions DEHB's published benchmark pins, from the package
index (``mf-prior-bench==1.9.0``, ``dehb==0.1.1``; ``numpy<2`` and ``pandas<2.3`` for
ConfigSpace 0.6's binary), and runs ``_dehb_side_inner.py`` there: per seed,
``mfpbench.get(name, seed=seed)`` (z in 1..100) and ``DEHB(min_fidelity=start,
max_fidelity=end, eta=3, n_workers=1, seed=seed).run(fevals=300)``, the incumbent trajectory
read at 60..300 evaluations, as DEHB's ``benchmarking/`` does it (its script itself is not in
DEHB's PyPI distribution, so this is the same procedure through DEHB's public API, not a copy).
Beside it: hbjax's harness on the same seeds (``results/dehb_protocol/*_z1_100seeds.csv``,
DEHB 0.1.1 through its ask/tell on hbjax's JAX MFHartmann) and DEHB's published rows.
Writes ``results/dehb_protocol/dehb_side_env.json``.

    python benchmarks/dehb_side_env.py [--seeds 100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import venv
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "dehb_protocol"
PINS = ["mf-prior-bench==1.9.0", "dehb==0.1.1", "numpy<2", "pandas<2.3"]


def side_python(root: Path) -> Path:
    python = root / "bin" / "python"
    if not python.exists():
        venv.create(root, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def summarise(frame: pd.DataFrame) -> dict:
    cols = [c for c in frame.columns if c.startswith("inc_")]
    return {c: {"mean": float(frame[c].mean()), "std": float(frame[c].std(ddof=0))} for c in cols}


def main(argv=None) -> int:
    from hbjax.strategies.protocol import PUBLISHED

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--env", default=str(Path.home() / ".cache" / "hbjax" / "dehb-side-env"))
    args = parser.parse_args(argv)
    python = side_python(Path(args.env))
    seeds = list(range(args.seeds))
    out = {"pins": PINS, "seeds": seeds, "procedure": __doc__.split("\n\n")[1].replace("\n", " "), "benchmarks": {}}
    for name in ("mfh3", "mfh6"):
        proc = subprocess.run(
            [str(python), str(HERE / "_dehb_side_inner.py"), name, ",".join(map(str, seeds)), "300"],
            capture_output=True,
            text=True,
            check=True,
        )
        side = pd.DataFrame(json.loads(proc.stdout.strip().splitlines()[-1]))
        harness = pd.read_csv(RESULTS / f"{name}_z1_100seeds.csv").query("method == 'dehb'")
        harness = harness[harness.seed.isin(seeds)]
        first5 = side[side.seed < 5]
        diff = side.set_index("seed").inc_300 - harness.set_index("seed").inc_300
        from scipy import stats

        out["benchmarks"][name] = {
            "dehb_on_mfpbench_side_env": summarise(side),
            "dehb_on_mfpbench_seeds_0_4": summarise(first5),
            "dehb_through_hbjax_harness": summarise(harness),
            "published": {v: {"mean": m, "std": s} for v, (m, s) in PUBLISHED[name].items()},
            "inc_300_side_minus_harness": {
                "mean": float(diff.mean()),
                "mann_whitney_p": float(stats.mannwhitneyu(side.inc_300, harness.inc_300).pvalue),
            },
            "seconds": float(side.seconds.sum()),
        }
        print(
            name,
            json.dumps(out["benchmarks"][name]["inc_300_side_minus_harness"]),
            "side",
            out["benchmarks"][name]["dehb_on_mfpbench_side_env"]["inc_300"],
            "seeds 0-4",
            out["benchmarks"][name]["dehb_on_mfpbench_seeds_0_4"]["inc_300"],
            "harness",
            out["benchmarks"][name]["dehb_through_hbjax_harness"]["inc_300"],
            flush=True,
        )
    (RESULTS / "dehb_side_env.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS / 'dehb_side_env.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
