"""The command line: help, clear one-line errors with exit code 2, outputs written."""
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
    proc = subprocess.run([sys.executable, "-m", "hbjax.cli", "run", *flag, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
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
    assert "programs to compile" in out and "estimated wall time" in out and "MiB/program" in out
    assert len([line for line in out.splitlines() if line.strip().startswith("0 ")]) == 10  # R=27: 10 rungs
    target = tmp_path / "dry"
    assert main(["run", "-R", "9", "--space", "demo", "--folds", "1", "--dry-run", "--out", str(target)]) == 0
    assert not target.exists()
