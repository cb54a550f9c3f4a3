"""``hbjax run | plan | compare | report --model FILE.py:factory``."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from hbjax.cli import main

SPEC = """
import flax.linen as nn
import numpy as np
import optax
import hbjax as hb


class MLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.tanh(nn.Dense(self.width)(x)))


def spec():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    return dict(model=lambda c: MLP(c["width"]),
                optimizer=lambda c: optax.inject_hyperparams(optax.sgd)(learning_rate=c["lr"]),
                loss=lambda p, y: optax.softmax_cross_entropy_with_integer_labels(p, y).mean(),
                metric=lambda p, y: (p.argmax(-1) == y).mean(), direction="max",
                data=(x[:120], y[:120], x[120:], y[120:]), batch_size=OUT_BATCH,
                space=hb.Space(width=hb.IntChoice([4, 8]), lr=hb.LogUniform(0.01, 0.5)))


def wrong_output():
    s = spec()
    s["model"] = lambda c: nn.Dense(7)
    s["metric"] = lambda p, y: (p == y).mean(axis=0)
    return s


def raises():
    raise RuntimeError("no data here")


def column_output():  # one output per row as [N, 1] against targets [N]: an MSE would broadcast to [N, N]
    s = spec()
    s["model"] = lambda c: nn.Dense(1)
    s["loss"] = s["metric"] = lambda p, y: ((p - y) ** 2).mean()
    s["data"] = tuple(a.astype(np.float32) for a in s["data"])
    s.pop("direction")
    return s


class FlaxDrop(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False, hparams=None):
        return nn.Dense(3)(nn.Dropout(rate=hparams["dropout"], deterministic=not train)(x))


def flax_dropout():
    s = spec()
    s["model"] = lambda c: FlaxDrop()
    s["traced"] = ("dropout",)
    s["space"] = hb.Space(width=hb.IntChoice([4]), lr=hb.LogUniform(0.01, 0.5), dropout=hb.Uniform(0.0, 0.5))
    return s


class BatchNormNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(3)(nn.BatchNorm(use_running_average=not train)(x))


def batch_norm():
    s = spec()
    s["model"] = lambda c: BatchNormNet()
    return s


def nan_targets():  # a NaN label among float targets: refused by array and row before anything trains
    s = spec()
    x, y, xv, yv = s["data"]
    y = y.astype(np.float32)
    y[3] = np.nan
    s["data"] = (x, y, xv, yv.astype(np.float32))
    return s


class SilentDrop(nn.Module):  # reads its traced rate only under a flag hbjax cannot know by name
    @nn.compact
    def __call__(self, x, use_dropout: bool = False, hparams=None):
        if use_dropout:
            x = hb.nn.Dropout(rate=hparams["dropout"], deterministic=False)(x)
        return nn.Dense(3)(x)


def unread_traced():
    s = flax_dropout()
    s["model"] = lambda c: SilentDrop()
    return s


def named_flag():
    s = unread_traced()
    s["train_flag"] = "use_dropout"
    return s


def neighbour():
    from my_neighbour import WIDTHS  # a module beside this file, imported as `python FILE.py` would

    s = spec()
    s["space"] = hb.Space(width=hb.IntChoice(WIDTHS), lr=hb.LogUniform(0.01, 0.5))
    return s
"""


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(textwrap.dedent(SPEC).replace("OUT_BATCH", "16"))
    return path


def test_run_report_and_resume_of_a_user_model(tmp_path, spec_file):
    out = tmp_path / "run"
    assert main(["run", "--model", f"{spec_file}:spec", "-R", "9", "--out", str(out), "--quiet"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert len(trials) == 22 and summary["direction"] == "max"
    assert summary["best_val_metric"] == pytest.approx(-trials.loss.min()) and 0 < summary["best_val_metric"] <= 1
    assert main(["report", str(out)]) == 0 and (out / "report.md").exists()
    # a finished run resumes to the same trials (the spec is loaded again from the saved --model)
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "trials.csv")[["config_id", "loss"]], trials[["config_id", "loss"]])
    assert main(["plan", "--model", f"{spec_file}:spec", "-R", "9", "--quiet"]) == 0


def test_compare_on_a_user_model(tmp_path, spec_file):
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--model",
                f"{spec_file}:spec",
                "--methods",
                "hyperband,random",
                "--seeds",
                "2",
                "--budget",
                "30",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    raw = pd.read_csv(out / "compare_raw.csv")
    assert sorted(raw.method.unique()) == ["hyperband", "random"] and len(raw) == 4


@pytest.mark.parametrize(
    "factory, message",
    [
        ("wrong_output", "does not fit training targets|must be a scalar"),
        ("raises", "raises\\(\\) failed: RuntimeError: no data here"),
        ("nothing", "defines no 'nothing'"),
        (
            "column_output",
            r"broadcasts the model's predictions \[16, 1\] against training targets float32\[16\] to \[16, 16\]",
        ),
        ("flax_dropout", r"flax's nn.Dropout cannot take a traced rate.*hbjax.nn.Dropout"),
        ("batch_norm", r"\['batch_stats'\] besides 'params'.*use nn.LayerNorm or nn.GroupNorm"),
        ("nan_targets", r"y_train \(float32\[120\]\) holds NaN in 1 row\(s\), the first at row 3"),
        ("unread_traced", r"traced hyperparameter\(s\) \['dropout'\] are never read.*train_flag="),
    ],
)
def test_a_bad_factory_is_one_error_line(tmp_path, spec_file, capsys, factory, message):
    code = main(["run", "--model", f"{spec_file}:{factory}", "-R", "3", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert pytest.importorskip("re").search(message, err[0]), err[0]


@pytest.mark.parametrize("example", ["digits_cnn", "delhi_mlp"])
def test_the_examples_load_and_plan(example, capsys):
    """The committed examples are valid model specs: ``hbjax plan --model`` reads, checks and
    plans them (their notebooks train them)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / f"{example}.py"
    assert main(["plan", "--model", f"{path}:spec", "-R", "9", "--quiet"]) == 0
    assert "programs to compile" in capsys.readouterr().out


def test_a_model_file_imports_its_neighbours_and_reports_sharing(tmp_path, spec_file, capsys, monkeypatch):
    """``--model FILE.py`` puts FILE's folder on the path (from any working directory); ``plan``
    and ``run`` say per hyperparameter traced or static; ``--verify-sharing`` checks shared
    programs against configs alone and records them in summary.json."""
    (spec_file.parent / "my_neighbour.py").write_text("WIDTHS = [4, 8]\n")
    monkeypatch.chdir(tmp_path.parent)
    assert main(["plan", "--model", f"{spec_file}:neighbour", "-R", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "lr: traced in" in out and "inject_hyperparams" in out and "width: static" in out
    run = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "--model",
                f"{spec_file}:neighbour",
                "-R",
                "3",
                "--out",
                str(run),
                "--quiet",
                "--verify-sharing",
                "2",
            ]
        )
        == 0
    )
    sharing = json.loads((run / "summary.json").read_text())["sharing"]
    assert sharing["hyperparameters"]["lr"]["traced_in"] >= 1 and sharing["hyperparameters"]["width"]["traced_in"] == 0
    assert sharing["verified"] and all(r["max_relative_difference"] == 0 for r in sharing["verified"])
    assert sharing["compiles"] >= 1 and sharing["programs"] >= 2
    assert main(["run", "--verify-sharing", "2", "-R", "3", "--out", str(tmp_path / "lstm"), "--quiet"]) == 2


def test_a_user_model_calibrates_and_its_plans_use_it(tmp_path, spec_file, capsys, monkeypatch):
    """``hbjax calibrate --model``: the model's own programs trained and timed, the constants
    stored for that model on this device kind; its plans (and no other model's) use them."""
    monkeypatch.setenv("HBJAX_CONSTANTS_DIR", str(tmp_path / "constants"))
    assert main(["calibrate", "--model", f"{spec_file}:spec", "--quick", "--json", str(tmp_path / "cal.json")]) == 0
    stored = list((tmp_path / "constants").glob("cpu-*-model-*-spec-jax*.json"))
    assert len(stored) == 1, list((tmp_path / "constants").iterdir())
    report = json.loads((tmp_path / "cal.json").read_text())
    assert len(report["points"]) == 2 and all(p["step_s"] > 0 and p["compile_s"] > 0 for p in report["points"])
    assert report["constants"]["flops_per_s"] > 0
    capsys.readouterr()
    assert main(["plan", "--model", f"{spec_file}:spec", "-R", "3"]) == 0
    assert "cost constants: calibrated" in capsys.readouterr().out
    assert main(["plan", "-R", "3", "--space", "demo", "--folds", "1", "--quiet"]) == 0  # the LSTM: not its
    assert "cost constants: committed default" in capsys.readouterr().out


def test_a_train_flag_named_in_the_spec_reaches_the_module(spec_file):
    assert main(["plan", "--model", f"{spec_file}:named_flag", "-R", "3", "--quiet"]) == 0
