"""The command line: help, clear one-line errors with exit code 2, outputs written."""

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from hbjax.cli import main


@pytest.mark.parametrize("command", [[], ["demo"], ["run"], ["plan"], ["svc"], ["compare"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command + ["--help"])
    assert exit_.value.code == 0
    assert "usage: hbjax" in capsys.readouterr().out


def test_missing_csv_is_one_clear_line(tmp_path, capsys):
    code = main(["run", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and "nope.csv" in err and "Traceback" not in err


def test_csv_missing_column_names_it(tmp_path, capsys):
    path = tmp_path / "prices.csv"
    pd.DataFrame({"Date": ["2020-01-01", "2020-01-02"], "Open": [1, 2], "Close": [1, 2]}).to_csv(path, index=False)
    assert main(["run", "--data", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "volume" in err.lower() and "Traceback" not in err


@pytest.mark.parametrize("flag", [["--eta", "1"], ["--eta", "2.5"], ["--max-resource", "abc"], ["--space", "huge"]])
def test_bad_arguments_exit_2(flag, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "hbjax.cli", "run", *flag, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error" in proc.stderr


def test_r_below_one_is_named(tmp_path, capsys):
    assert main(["run", "-R", "0.5", "--out", str(tmp_path), "--quiet"]) == 2
    assert "max_resource" in capsys.readouterr().err


def test_unknown_compare_method(tmp_path, capsys):
    assert main(["compare", "--methods", "hyperband,annealing", "--out", str(tmp_path)]) == 2
    assert "annealing" in capsys.readouterr().err


def test_svc_walkthrough_writes_trials(tmp_path, capsys):
    out = tmp_path / "svc.csv"
    assert main(["svc", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert {"config_id", "bracket", "rung", "resource"} <= set(frame.columns) and len(frame) > 20
    assert "HalvingGridSearchCV" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_runs_small(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "-R", "3", "--folds", "1", "--out", str(out), "--quiet"]) == 0
    assert (out / "trials.csv").exists() and (out / "summary.json").exists()


def test_plan_previews_a_run_without_training(tmp_path, capsys):
    """``hbjax plan`` and ``run --dry-run``: every rung's programs and an estimated cost, in about
    a second, and nothing written."""
    import time

    t0 = time.perf_counter()
    assert main(["plan", "-R", "27", "--folds", "1", "--quiet"]) == 0
    assert time.perf_counter() - t0 < 20
    out = capsys.readouterr().out
    assert "357 config-epochs on 1 fold(s)" in out  # R=27, eta=3: 49 configs, survivors continue
    assert "programs to compile" in out and "estimated wall time" in out and "MiB/call" in out
    assert "cost constants: committed default" in out and "computed / real matmul FLOPs" in out
    waves = [line.split()[:2] for line in out.splitlines() if re.match(r"\s+\d+\s+s\d+r\d+", line)]
    assert [w[0] for w in waves] == ["0", "1", "2", "3"] and waves[0][1] == "s3r0"  # R=27: 4 waves
    assert "4 waves (every ready rung of every bracket planned together)" in out
    assert main(["plan", "-R", "27", "--folds", "1", "--quiet", "--no-waves"]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if line.strip().startswith("0 ")]) == 10  # R=27: 10 rungs
    target = tmp_path / "dry"
    assert main(["run", "-R", "9", "--space", "demo", "--folds", "1", "--dry-run", "--out", str(target)]) == 0
    assert not target.exists()


def test_calibrate_measures_stores_and_the_plan_uses_it(tmp_path, capsys, monkeypatch):
    """``hbjax calibrate --quick``: constants stored per device kind and JAX version; ``hbjax
    plan`` then says it plans with them; a broken calibration file is one error line."""
    monkeypatch.setenv("HBJAX_CONSTANTS_DIR", str(tmp_path))
    assert main(["calibrate", "--quick", "--json", str(tmp_path / "cal.json")]) == 0
    stored = list(tmp_path.glob("cpu-*-jax*.json"))
    assert len(stored) == 1 and "stored in" in capsys.readouterr().out
    assert main(["plan", "-R", "3", "--space", "demo", "--folds", "1", "--quiet"]) == 0
    assert "cost constants: calibrated" in capsys.readouterr().out
    stored[0].write_text('{"constants": {"flops_per_s": -1}}')
    assert main(["plan", "-R", "3", "--space", "demo", "--folds", "1", "--quiet"]) == 2
    assert "unreadable calibration" in capsys.readouterr().err


TINY_EXPERIMENT = """
[settings]
max_resource = 3
eta = 3
seed = 2
window = 5
folds = 1
train_size = 150
val_size = 40
test_size = 40

[space]
lr = {loguniform = [1e-3, 1e-1]}
dropout = {uniform = [0.0, 0.3]}
hidden = {choice = [8]}
layers = {choice = [1]}
batch_size = {choice = [16]}
optimizer = "adam"
activation = "tanh"
"""


def _tiny_csv(path):
    import numpy as np

    rng = np.random.default_rng(0)
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    pd.DataFrame(
        {
            "Date": pd.bdate_range("2012-01-02", periods=400).strftime("%Y-%m-%d"),
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": rng.integers(100, 1000, 400),
        }
    ).to_csv(path, index=False)
    return path


def test_an_experiment_file_drives_plan_run_and_resume(tmp_path, capsys):
    """``--space FILE``: the file's settings are defaults the command line overrides; the run
    saves the space itself, so it resumes after the file is gone; a second run into the same
    directory is refused unless --overwrite."""
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(TINY_EXPERIMENT)
    data = _tiny_csv(tmp_path / "prices.csv")
    assert main(["plan", "--space", str(experiment), "--data", str(data)]) == 0
    assert "Hyperband R=3 eta=3 seed=2" in capsys.readouterr().out
    assert main(["plan", "--space", str(experiment), "--data", str(data), "-R", "9"]) == 0
    assert "Hyperband R=9 eta=3 seed=2" in capsys.readouterr().out

    out = tmp_path / "run"
    assert main(["run", "--space", str(experiment), "--data", str(data), "--out", str(out), "--quiet"]) == 0
    first = pd.read_csv(out / "trials.csv")
    assert len(first) == 6 and set(first["optimizer"]) == {"adam"}  # R=3: 3x1 + 1x3, then 2x3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cost_constants"]["source"].startswith("committed default")
    assert summary["program_memory"] and all(
        m["analysed"] > 0 and m["estimated"] > 0 for m in summary["program_memory"]
    )
    assert json.loads((out / "run.json").read_text())["meta"]["cost_constants"] == summary["cost_constants"]
    experiment.unlink()
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0  # finished: nothing left to train
    pd.testing.assert_frame_equal(pd.read_csv(out / "trials.csv"), first)
    experiment.write_text(TINY_EXPERIMENT)
    assert main(["run", "--space", str(experiment), "--data", str(data), "--out", str(out), "--quiet"]) == 2
    assert "already holds an hbjax run" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--space",
                str(experiment),
                "--data",
                str(data),
                "--out",
                str(out),
                "--quiet",
                "--overwrite",
                "--seed",
                "3",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "text,message",
    [
        ("[space]\nlr = {loguniform = [0, 1]}\n", "space.lr: loguniform needs 0 < low < high"),
        ("[space]\nhidden = {choice = []}\n", "space.hidden"),
        ("[settings]\nR = 3\n[space]\nlr = {uniform = [0.1, 0.2]}\n", "unknown setting 'R'"),
        ("[space]\nlr = {loguniform = [1e-4, 1e-1]}\nwidth = {choice = [3]}\n", "missing hidden, layers, batch_size"),
        (
            "[space]\nlr = 0.01\nhidden = 8\nlayers = 1\nbatch_size = 16\nwidth = {choice = [3]}\n",
            "space.width: the LSTM backend does not know this hyperparameter",
        ),
        (
            "[settings]\ntrain_size = 100\n[space]\nlr = 0.01\nhidden = 8\nlayers = 1\nbatch_size = 256\n",
            "batch size 256 exceeds the 80 training windows",
        ),
        ("not toml at all = = =\n", "experiment.toml"),
    ],
)
def test_a_bad_experiment_file_is_one_error_line(tmp_path, capsys, text, message):
    path = tmp_path / "experiment.toml"
    path.write_text(text)
    assert main(["plan", "--space", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err


def test_rung_progress_counts_config_epochs_and_prints_a_line_per_rung():
    import io

    from rich.console import Console

    import hbjax as hb
    from hbjax.commands.progress import RungProgress

    search = hb.Hyperband(hb.Space(x=hb.Uniform(0.0, 1.0)), max_resource=27, eta=3, seed=0)
    buffer = io.StringIO()
    progress = RungProgress(search.plan, 1, Console(file=buffer, width=200), quiet=False, detail=lambda: "2 program(s)")
    assert progress.total == 357  # the run's config-epochs, as `hbjax plan` says
    state = search.initial_state()
    for losses in ([0.9] * 27, [0.5, float("nan"), 0.25] + [0.7] * 6):  # the first two rungs of s=3
        job, state = hb.scheduler.ask(state)
        state = hb.scheduler.tell(state, job, losses)
        with progress:
            progress.update(job, losses, state, 2.0)
    line = buffer.getvalue()
    assert "9 configs -> 3 epochs" in line and "best so far 0.25" in line and "9.00 config-epochs/s" in line
    assert "2 program(s)" in line
    assert progress.progress.tasks[0].completed == 27 + 18  # 27 configs x 1 epoch, then 9 x 2 more


def test_rung_progress_prints_a_line_per_wave_and_per_job():
    import io

    from rich.console import Console

    import hbjax as hb
    from hbjax.commands.progress import RungProgress

    search = hb.Hyperband(hb.Space(x=hb.Uniform(0.0, 1.0)), max_resource=9, eta=3, seed=0)
    buffer = io.StringIO()
    progress = RungProgress(search.plan, 1, Console(file=buffer, width=200), quiet=False, detail=lambda: "3 program(s)")
    jobs, state = hb.waves.ask_ready(search.initial_state(waves=True))
    losses = [[0.5] * len(j.config_ids) for j in jobs]
    for job, loss in zip(jobs, losses):
        state = hb.waves.tell(state, job, loss)
    with progress:
        progress.wave_done(jobs, losses, state, [1.0, 2.0, 3.0])
    text = buffer.getvalue()
    assert "wave 1: 3 rung(s) of 3 bracket(s), 17 configs, 6.0 s" in text and "3 program(s)" in text
    assert text.count("(its share of the wave)") == 3
    assert progress.progress.tasks[0].completed == 9 + 5 * 3 + 3 * 9


@pytest.mark.slow
def test_run_with_repeats_and_without_waves(tmp_path):
    """``--repeats 2`` keeps each seed's loss in trials.csv; ``--no-waves`` runs bracket after
    bracket with the same trials."""
    common = [
        "-R",
        "3",
        "--space",
        "demo",
        "--folds",
        "1",
        "--quiet",
        "--train-size",
        "300",
        "--val-size",
        "60",
        "--test-size",
        "60",
    ]
    assert main(["run", *common, "--out", str(tmp_path / "w"), "--repeats", "2"]) == 0
    trials = pd.read_csv(tmp_path / "w" / "trials.csv")
    assert {"loss_seed0", "loss_seed1", "loss_std"} <= set(trials.columns)
    assert main(["run", *common, "--out", str(tmp_path / "s"), "--no-waves"]) == 0
    assert main(["run", *common, "--out", str(tmp_path / "v")]) == 0
    cols = ["config_id", "bracket", "rung", "resource", "loss"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "s" / "trials.csv")[cols], pd.read_csv(tmp_path / "v" / "trials.csv")[cols]
    )


def test_the_baselines_line_names_each_baseline_with_its_skill():
    from hbjax.commands.common import baseline_skills

    baselines = {"ridge_val_skill": -0.05, "ridge_val_skill_target": -0.04, "seasonal_naive_test_skill": -3.5}
    assert baseline_skills(baselines, "val") == "ridge -0.0500"
    assert baseline_skills(baselines, "val", "_target") == "ridge -0.0400"
    assert baseline_skills(baselines, "test") == "seasonal naive -3.5000"
