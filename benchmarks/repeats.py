"""Repeats: what N=4 seeds per config cost against N=1, and whether they change a ranking.

1. **Cost** (this device): a rung of LSTM configs (the NVDA first fold, the peer task's space, 8
   configs x 1 epoch) trained with ``Repeats(backend, 4)`` against 4x the configs' work done as
   N=1, and one wave of noisy MFHartmann-6 evaluations, both timed after their compiles. On a CPU
   the seeds run one after another (4x the work); on an accelerator they are 4x the vmap width.
2. **Ranking** at equal budget on the noisy MFHartmann-6 presets (mf-prior-bench's "moderate" and
   "bad": fidelity bias and noise 3-4 at the lowest fidelity, none at the highest): Hyperband,
   Hyperband with 4 repeats, BOHB and random search, ``--seeds`` seeds, 10 Hyperband iterations'
   worth of resource each. Scored by the exact Hartmann value of each run's chosen config (its
   best observed loss is noisy), with ``hbjax compare``'s ranks and Holm-corrected paired tests.

    python benchmarks/repeats.py --seeds 20
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, device_name, machine_info, wait_for_quiet, write_json


def lstm_cost(n_configs: int = 8, epochs: float = 1.0) -> dict:
    from _common import first_fold_task
    from hyperband_run import space

    import hbjax as hb
    from hbjax.lstm.backend import LSTMBackend
    from hbjax.scheduler import RungJob

    task = first_fold_task(1)
    configs = space().sample_configs(0, n_configs)
    job = RungJob(0, 0, 0, 0, tuple(range(n_configs)), tuple(configs), epochs, (0.0,) * n_configs)
    out = {}
    for n in (1, 4):
        backend = LSTMBackend(task, seed=0, window=20, compilation_cache=False)
        backend.validate_space(space())
        wrapped = hb.Repeats(backend, n)
        wrapped.train_rung(job)  # compiles (and trains once)
        backend.release(
            list(range(n_configs)) + [c + r * hb.repeats.SEED_STRIDE for c in range(n_configs) for r in range(1, n)]
        )
        t0 = time.perf_counter()
        wrapped.train_rung(job)
        out[f"seconds_n{n}"] = time.perf_counter() - t0
    out["ratio_n4_over_n1"] = out["seconds_n4"] / out["seconds_n1"]
    out["configs"], out["epochs"] = n_configs, epochs
    return out


def function_cost(n_configs: int = 81) -> dict:
    import hbjax as hb
    from hbjax.problems.mfbench import MFBenchmarkBackend
    from hbjax.scheduler import RungJob

    backend = MFBenchmarkBackend("mfh6", preset="moderate")
    configs = backend.space().sample_configs(0, n_configs)
    job = RungJob(0, 0, 0, 0, tuple(range(n_configs)), tuple(configs), 1.0, (0.0,) * n_configs)
    out = {}
    for n in (1, 4):
        wrapped = hb.Repeats(backend, n)
        wrapped.train_rung(job)
        t0 = time.perf_counter()
        for _ in range(20):
            wrapped.train_rung(job)
        out[f"seconds_n{n}"] = (time.perf_counter() - t0) / 20
    out["ratio_n4_over_n1"] = out["seconds_n4"] / out["seconds_n1"]
    out["configs"] = n_configs
    return out


def ranking(preset: str, seeds: int) -> dict:
    import pandas as pd

    from hbjax.problems.mfbench import MFBenchmarkBackend
    from hbjax.strategies import compare, stats_markdown, summarize_stats

    probe = MFBenchmarkBackend("mfh6", preset=preset)
    R = probe.max_resource
    budget = 10 * 4 * R  # ten Hyperband iterations' worth (each bracket spends about R x (s_max + 1))

    def make_backend(seed):
        return MFBenchmarkBackend("mfh6", preset=preset, seed=seed)

    def evaluate(backend, result):
        return {"true_value": backend.true_value(result.best_config) if result.best_config else float("nan")}

    frames = [
        compare(
            ["hyperband", "bohb", "random"],
            make_backend,
            probe.space(),
            budget=budget,
            seeds=range(seeds),
            max_resource=R,
            eta=3,
            evaluate=evaluate,
        )
    ]
    four = compare(
        ["hyperband"],
        make_backend,
        probe.space(),
        budget=budget,
        seeds=range(seeds),
        max_resource=R,
        eta=3,
        evaluate=evaluate,
        options={"hyperband": {"repeats": 4}},
    )
    four["method"] = "hyperband-repeats4"
    frames.append(four)
    raw = pd.concat(frames, ignore_index=True)
    stats = summarize_stats(raw, metric="true_value", reference="hyperband")
    title = (
        f"MFHartmann-6 '{preset}' ({probe.describe()}), {seeds} seeds, budget {budget} resource units: exact "
        f"Hartmann value of each run's chosen config"
    )
    return {
        "preset": preset,
        "budget": budget,
        "raw": raw.to_dict(orient="records"),
        "stats": stats.to_dict(orient="records"),
        "markdown": stats_markdown(stats, title=title),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--no-lstm", action="store_true", help="skip the LSTM cost (the function cost only)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    load = wait_for_quiet()
    if "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={os.cpu_count() or 1}"
        ).strip()
    result = {
        "benchmark": "repeats",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "device": device_name(),
    }
    result["function_cost"] = function_cost()
    print(
        "MFHartmann-6 wave of 81 configs, N=4 / N=1 time:",
        f"{result['function_cost']['ratio_n4_over_n1']:.2f}",
        flush=True,
    )
    if not args.no_lstm:
        result["lstm_cost"] = lstm_cost()
        print(
            "LSTM rung of 8 configs x 1 epoch, N=4 / N=1 time:",
            f"{result['lstm_cost']['ratio_n4_over_n1']:.2f}",
            flush=True,
        )
    result["ranking"] = {}
    text = []
    for preset in ("moderate", "bad"):
        r = ranking(preset, args.seeds)
        result["ranking"][preset] = {k: v for k, v in r.items() if k != "markdown"}
        text.append(r["markdown"])
        print(r["markdown"], flush=True)
    result["load_average_at_end"] = wait_for_quiet()["load_average_at_start"]
    out = args.out or RESULTS / f"repeats_{device_name()}.json"
    write_json(out, result)
    out.with_suffix(".md").write_text("\n\n".join(text) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
