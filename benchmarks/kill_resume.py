"""Kill ``hbjax run`` with SIGKILL at random moments, resume it each time, and check that the final
trials table and best config equal an uninterrupted run's.

Seeded: the moments are drawn from ``--seed``, spread over the whole run (see ``kill_and_resume``);
every third kill waits for a checkpoint generation to be in the middle of being written
(``checkpoints/*.partial`` exists) and lands then.
A small synthetic OHLCV series and the demo space keep a whole run under a minute on 2 CPU cores.

    python benchmarks/kill_resume.py            # 10 kills -> results/kill_resume_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, load_average

ROOT = Path(__file__).resolve().parents[1]
TRIAL_COLUMNS = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]


def synthetic_csv(path: Path, n: int = 1400, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    pd.DataFrame(
        {
            "Date": pd.bdate_range("2010-01-01", periods=n).strftime("%Y-%m-%d"),
            "Open": close * (1 + rng.normal(0, 0.002, n)),
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": rng.integers(1_000, 10_000, n),
        }
    ).to_csv(path, index=False)
    return path


def _command(data: Path, out: Path, resume: bool) -> list[str]:
    base = [sys.executable, "-m", "hbjax.cli"]
    if resume:
        return base + ["run", "--resume", str(out), "--quiet"]
    return base + [
        "run",
        "--data",
        str(data),
        "-R",
        "27",
        "--eta",
        "3",
        "--hyperband-iterations",
        "2",
        "--seed",
        "7",
        "--space",
        "demo",
        "--window",
        "10",
        "--folds",
        "1",
        "--train-size",
        "900",
        "--val-size",
        "150",
        "--test-size",
        "150",
        "--out",
        str(out),
        "--quiet",
        "--overwrite",
    ]


def _env() -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _newest_step(out: Path) -> int | None:
    gens = sorted(p.name for p in (out / "checkpoints").glob("[0-9]" * 8)) if (out / "checkpoints").is_dir() else []
    return int(gens[-1]) if gens else None


def _kill_when(proc: subprocess.Popen, out: Path, step: int, delay: float, during_write: bool) -> str:
    """SIGKILL ``proc`` ``delay`` seconds after the run's newest checkpoint reaches ``step``
    observations (or, with ``during_write``, the first moment after that when a checkpoint
    generation is being written). -> where it landed ('exited' if the run ended first)."""
    deadline = None
    while proc.poll() is None:
        now = time.monotonic()
        if deadline is None and (_newest_step(out) or 0) >= step:
            deadline = now + delay
        if (
            deadline is not None
            and now >= deadline
            and (not during_write or any((out / "checkpoints").glob("*.partial")))
        ):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return "during a checkpoint write" if during_write else f"{delay:.2f} s after step {step}"
        time.sleep(0.0005 if during_write and deadline is not None and now >= deadline else 0.01)
    return "exited"


def kill_and_resume(workdir: Path, *, kills: int = 10, seed: int = 0, log=print) -> dict:
    """Kill moments spread over the whole run: ``kills`` sorted random points of its progress
    (observations checkpointed), each followed by a random delay, so kills land while starting,
    compiling, training and writing checkpoints at every stage of the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = synthetic_csv(workdir / "prices.csv")
    t0 = time.monotonic()
    ref = subprocess.run(_command(data, workdir / "reference", False), env=_env(), capture_output=True, text=True)
    if ref.returncode != 0:
        raise RuntimeError(ref.stderr[-3000:])
    reference_s = time.monotonic() - t0
    rows = len(pd.read_csv(workdir / "reference" / "trials.csv"))
    log(f"uninterrupted run: {reference_s:.1f} s, {rows} trial rows")
    rng = np.random.default_rng(seed)
    steps = np.sort(rng.integers(0, rows, size=kills))
    delays = rng.uniform(0.0, reference_s / 20, size=kills)  # about a rung's time
    out, events, resume = workdir / "killed", [], False
    shutil.rmtree(out, ignore_errors=True)  # a previous invocation's run
    for i, (step, delay) in enumerate(zip(steps, delays)):
        during_write = i % 3 == 2
        # a resumed process first redoes its start-up; it must checkpoint at least one new rung
        # before the kill can land, so kills move through the run instead of piling up at a start
        start = _newest_step(out)
        threshold = int(step) if start is None else max(int(step), start + 1)
        proc = subprocess.Popen(
            _command(data, out, resume), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        landed = _kill_when(proc, out, threshold, float(delay), during_write)
        stderr = proc.stderr.read()
        if landed == "exited" and proc.returncode != 0:
            raise RuntimeError(f"run {i} failed: {stderr[-3000:]}")
        events.append(
            {
                "kill": i,
                "process": "resume" if resume else "fresh",
                "landed": landed,
                "checkpoint_step_before": start,
                "newest_checkpoint_step": _newest_step(out),
            }
        )
        log(f"kill {i}: {events[-1]}")
        if landed == "exited":
            break
        resume = _newest_step(out) is not None  # killed before its first checkpoint: start again
    final = subprocess.run(_command(data, out, resume), env=_env(), capture_output=True, text=True)
    if final.returncode != 0:
        raise RuntimeError(final.stderr[-3000:])
    got, want = pd.read_csv(out / "trials.csv"), pd.read_csv(workdir / "reference" / "trials.csv")
    summary_got = json.loads((out / "summary.json").read_text())
    summary_want = json.loads((workdir / "reference" / "summary.json").read_text())
    identical = got[TRIAL_COLUMNS].equals(want[TRIAL_COLUMNS])
    return {
        "kills": len([e for e in events if e["landed"] != "exited"]),
        "events": events,
        "reference_seconds": round(reference_s, 1),
        "trials_identical": bool(identical),
        "rows": rows,
        "best_config_identical": summary_got["best_config"] == summary_want["best_config"],
        "best_loss": [summary_want["best_val_loss"], summary_got["best_val_loss"]],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="/tmp/hbjax-kill-resume")
    parser.add_argument("--out", default=str(RESULTS / "kill_resume_cpu.json"))
    args = parser.parse_args(argv)
    load = load_average()
    result = kill_and_resume(Path(args.workdir), kills=args.kills, seed=args.seed)
    result.update(load_average_at_start=load, load_average_at_end=load_average(), seed=args.seed)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "events"}))
    return 0 if result["trials_identical"] and result["best_config_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
