"""The benchmark scripts run end to end (``--quick``) and write the JSON the README quotes.

The training benchmarks are opt-in (several minutes on a 2-core CPU):
``pytest -m slow tests/test_benchmarks.py``; the planning one runs by default (seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(script: str, out: Path, *extra: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--out", str(out), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_rung_throughput_quick(tmp_path):
    # the smallest useful slice of --quick: two rung kinds, N in {2, 3}, a quarter epoch of 300 windows
    data = _run(
        "rung_throughput.py",
        tmp_path / "rt.json",
        "--sizes",
        "2,3",
        "--kinds",
        "small,mixed",
        "--epochs",
        "0.25",
        "--train-windows",
        "300",
        "--torch-threads",
        "1",
    )
    for key in ("machine", "settings", "rows", "load_average_at_start"):
        assert key in data
    assert [(r["kind"], r["n_configs"]) for r in data["rows"]] == [
        ("small", 2),
        ("small", 3),
        ("mixed", 2),
        ("mixed", 3),
    ]
    for row in data["rows"]:
        for key in (
            "a_cold_ce_per_s",
            "a_warm_ce_per_s",
            "b_cold_ce_per_s",
            "b_warm_ce_per_s",
            "c_ce_per_s",
            "speedup_a_over_b_cold",
            "speedup_a_over_b_warm",
            "a_programs",
            "a_compiles",
            "b_compiles",
        ):
            assert key in row
        assert row["a_warm_ce_per_s"] > 0 and row["b_warm_ce_per_s"] > 0
        assert (row["c_ce_per_s"] is not None) == _has_torch()
    assert data["rows"][1]["a_programs"] == 1  # one shape: one program, however many configs


def test_plan_programs(tmp_path):
    out = tmp_path / "plan.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "plan_programs.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    run = data["run"]
    wide, exact = run["wide (accelerator, 1 device)"], run["exact (CPU, 2 devices)"]
    assert wide["configs_computed_twice"] == 0 and exact["configs_computed_twice"] == 0
    assert wide["distinct_programs_width_included"] < exact["distinct_programs_width_included"]
    assert len(wide["programs"]) == wide["distinct_programs_width_included"]  # widths counted: "... vmapx4"
    assert exact["computed_over_real_flops"] == pytest.approx(1.0)
    assert wide["computed_over_real_flops"] >= 1.0 and wide["estimated_total_s"] > 0
    # the same configs and survivors per wave: fewer plans, and no config computed twice
    waves = data["run_in_waves"]
    assert len(data["waves"]) == 5 < len(data["rungs"]) == 15  # R=81, eta=3
    for name, per_wave in waves.items():
        assert per_wave["configs_computed_twice"] == 0 and per_wave["plans"] == 5
        assert per_wave["calls"] <= run[name]["calls"]


@pytest.mark.slow  # 35 s; its stages' capabilities have fast tests (test_cli calibrate, test_wide_plan)
def test_accelerator_check_quick(tmp_path):
    """The one-command accelerator check, in its CPU smoke mode: every stage runs and reports."""
    out = tmp_path / "acc.json"
    env = dict(os.environ, HBJAX_CONSTANTS_DIR=str(tmp_path / "constants"))
    proc = subprocess.run(
        [sys.executable, str(BENCH / "accelerator.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = json.loads(out.read_text())["stages"]
    assert list(stages) == ["calibrate", "mixed_rung", "peer_task", "reference_iteration"]
    assert all(s["ok"] for s in stages.values()), {k: s.get("error") for k, s in stages.items()}
    assert stages["calibrate"]["constants"]["flops_per_s"] > 0
    assert stages["mixed_rung"]["warm_ratio_rung_over_alone"] > 0
    for name in ("peer_task", "reference_iteration"):
        rungs = stages[name]["rungs"]
        assert rungs and all(r["computed_over_real_flops"] >= 1.0 for r in rungs)
        assert all(m["analysed"] > 0 for m in stages[name]["memory"])
    assert not (tmp_path / "constants").exists()  # --quick stores nothing


@pytest.mark.slow
def test_hyperband_run_quick(tmp_path):
    data = _run("hyperband_run.py", tmp_path / "hb.json", "--torch-threads", "1", "--naive-torch-cap-s", "5")
    for name in ("hbjax_sequential", "hbjax_waves", "hbjax_waves_warm"):
        hb = data[name]
        for key in (
            "wall_s",
            "config_epochs",
            "config_epochs_per_s",
            "compile_s",
            "compile_share",
            "compile_wait_s",
            "train_program_compiles",
            "best_val_mse",
            "flops_per_s",
            "cpu_busy_fraction",
            "planned_device_busy_fraction",
        ):
            assert key in hb
        assert hb["config_epochs"] == pytest.approx(69)  # R=9, eta=3, survivors continue: 21 + 21 + 27
    assert data["comparison"]["trials_identical_bit_for_bit"] is True  # cold sequential, cold and warm waves
    assert data["hbjax_waves_warm"]["compile_wait_s"] < data["hbjax_waves"]["compile_wait_s"]
    assert len(data["rungs_sequential"]) == len(data["rungs_waves"]) == 6
    assert sum(r["config_epochs"] for r in data["rungs_waves"]) == pytest.approx(69)
    for key in ("persistence_val_mse", "peers_measured_earlier", "machine", "settings", "load_average_at_start"):
        assert key in data
    if _has_torch():
        for name in ("flush_denormal", "default"):
            assert data["torch_replay"][name]["config_epochs"] == data["hbjax_waves"]["config_epochs"]
            assert data["torch_replay"][name]["speedup_hbjax_waves_over_torch"] > 0
    else:
        assert data["torch_replay"] is None and "torch" in data["torch_note"]


@pytest.mark.slow
def test_lstm_program(tmp_path):
    data = _run("lstm_program.py", tmp_path / "lp.json", "--no-torch")
    (row,) = data["configs"]
    assert (row["hidden"], row["layers"], row["batch_size"]) == (16, 1, 128)
    for side in ("hbjax", "plain_flax"):
        assert row[side]["warm_epoch_s"] > 0 and row[side]["compile_s"] > 0 and row[side]["gflops"] > 0
    assert row["torch"] is None
    assert row["dot_at_shapes"]["recurrent"]["shape"] == [128, 16, 64]


@pytest.mark.slow
def test_cpu_flags(tmp_path):
    data = _run("cpu_flags.py", tmp_path / "flags.json")
    rows = {r["name"]: r for r in data["flag_sets"]}
    assert set(rows) == {"default", "llvm_cheap"}
    assert rows["default"]["64x3_b64"]["same_losses_as_default"] is True
    assert rows["llvm_cheap"]["256x3_b64"]["compile_s"] > 0


@pytest.mark.slow
def test_compile_profile(tmp_path):
    data = _run("compile_profile.py", tmp_path / "cp.json")
    rows = {r["kind"]: r for r in data["programs"]}
    assert set(rows) == {"hbjax", "plain_flax"}
    for row in rows.values():
        assert row["compile_s"] > 0 and row["trace_s"] > 0 and row["xla_compile_s"] > 0 and row["fusions"] > 0
        assert 0 < row["xla_codegen_s"] < row["compile_s"]  # XLA's own timer was found in its log


@pytest.mark.slow
def test_epoch_profile(tmp_path):
    (row,) = _run("epoch_profile.py", tmp_path / "ep.json", "--no-torch")["configs"]
    assert (row["hidden"], row["layers"], row["batch_size"]) == (16, 1, 128)
    assert row["seconds_by_kind"]["matmuls"] > 0 and row["seconds_by_kind"]["other_kernels"] > 0
    assert row["matmul_gflops_inside"] > 0 and row["torch_epoch_s"] is None


def test_profile_helpers_count_self_time_and_read_xla_timers():
    sys.path.insert(0, str(BENCH))
    from compile_profile import XLA_TIMER
    from epoch_profile import kind_of, self_times

    events = [
        {"ph": "X", "pid": 1, "tid": 1, "name": "outer", "ts": 0, "dur": 10},
        {"ph": "X", "pid": 1, "tid": 1, "name": "ynn_fusion.1", "ts": 2, "dur": 3},
        {"ph": "X", "pid": 1, "tid": 1, "name": "add_fusion", "ts": 6, "dur": 2},
        {"ph": "X", "pid": 1, "tid": 2, "name": "add_fusion", "ts": 0, "dur": 4},
        {"ph": "M", "pid": 1, "tid": 1, "name": "thread_name"},
    ]
    own, count = self_times(events)
    assert own == {"outer": 5, "ynn_fusion.1": 3, "add_fusion": 6} and count["add_fusion"] == 2
    assert [kind_of(n) for n in ("ynn_fusion.3", "copy.2", "SlinkyThreadPool::Await", "$python", "while.1")] == [
        "matmuls",
        "other_kernels",
        "thread_pool_waits",
        None,
        None,
    ]
    log = (
        "I1204 cpu_compiler.cc:1269] Running HLO passes on [jit_train] for CPU time: 463 ms (462794 us) "
        "(cumulative: 463 ms)\nI1204 cpu_compiler.cc:1215] Compiling [jit_train] for CPU using JIT time: 2.08 s "
        "(2084949 us) (cumulative: 2.08 s)\nI1204 cpu_compiler.cc:1215] CpuCompiler - Running LLVM verifier "
        "time: 59 us (59 us)"
    )
    found = [(m[1], m["module"], bool(m["jit"]), int(m["us"])) for m in XLA_TIMER.finditer(log)]
    assert found == [("Running HLO passes on", "jit_train", False, 462794), ("Compiling", "jit_train", True, 2084949)]
