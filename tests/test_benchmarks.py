"""The benchmark scripts run end to end (``--quick``) and write the JSON the README quotes.

Opt-in (several minutes on a 2-core CPU): ``pytest -m slow tests/test_benchmarks.py``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

pytestmark = pytest.mark.slow


def _run(script: str, out: Path, *extra: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    proc = subprocess.run([sys.executable, str(BENCH / script), "--quick", "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_rung_throughput_quick(tmp_path):
    # the smallest useful slice of --quick: two rung kinds, N in {1, 3}, one repeat
    data = _run("rung_throughput.py", tmp_path / "rt.json", "--sizes", "1,3", "--kinds", "small,mixed",
                "--repeats", "1", "--epochs", "0.25", "--torch-threads", "1")
    for key in ("machine", "settings", "matmul_flops_per_s", "matmul_peak_flops_per_s", "rows",
                "load_average_at_start"):
        assert key in data
    for key in ("device", "jax", "flax", "torch", "cpu_count"):
        assert key in data["machine"]
    assert [(r["kind"], r["n_configs"]) for r in data["rows"]] == [("small", 1), ("small", 3), ("mixed", 1), ("mixed", 3)]
    for row in data["rows"]:
        for key in ("a_config_epochs_per_s", "b_config_epochs_per_s", "c_config_epochs_per_s", "speedup_a_over_b",
                    "speedup_a_over_c", "vectorisation_time_ratio", "a_flops_per_s", "a_fraction_of_matmul_peak",
                    "padding_waste", "a_compile_s", "a_compiles"):
            assert key in row
        assert row["a_config_epochs_per_s"] > 0 and row["b_config_epochs_per_s"] > 0
        assert 0 < row["a_fraction_of_matmul_peak"] < 1
        assert (row["c_config_epochs_per_s"] is not None) == _has_torch()
    assert data["rows"][1]["padding_waste"] == 0  # one CPU device: 3 configs run as 2 + 1, no idle slot


def test_hyperband_run_quick(tmp_path):
    data = _run("hyperband_run.py", tmp_path / "hb.json", "--torch-threads", "1")
    hb = data["hbjax"]
    for key in ("wall_s", "config_epochs", "config_epochs_per_s", "compile_s_jax_events", "compile_share",
                "train_program_compiles", "best_val_mse", "flops_per_s", "fraction_of_matmul_peak"):
        assert key in hb
    assert hb["config_epochs"] == pytest.approx(69)  # R=9, eta=3, survivors continue: 21 + 21 + 27
    assert 0 < hb["compile_share"] < 1
    assert len(data["rungs"]) == 6 and sum(r["config_epochs"] for r in data["rungs"]) == pytest.approx(69)
    for key in ("persistence_val_mse", "peers_measured_earlier", "machine", "settings", "load_average_at_start"):
        assert key in data
    if _has_torch():
        assert data["torch_replay"]["config_epochs"] == hb["config_epochs"]
        assert data["torch_replay"]["speedup_hbjax_over_torch"] > 0
    else:
        assert data["torch_replay"] is None and "torch" in data["torch_note"]
