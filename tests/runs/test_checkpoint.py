"""Checkpoint / resume: exact JSON round trips, npz states, corrupted dirs, and SIGKILL + resume."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax import scheduler as sched
from hbjax.runs.checkpoint import (
    CheckpointError,
    RunDirectory,
    backend_states_from_npz,
    backend_states_to_npz,
    read_run_meta,
    run_with_checkpoints,
    state_from_json,
    state_to_json,
)

ROOT = Path(__file__).resolve().parents[2]

MIXED_SPACE = hb.Space(
    lr=hb.LogUniform(1e-4, 1e-1),
    dropout=hb.Uniform(0.1, 0.6),
    layers=hb.IntUniform(1, 3),
    hidden=hb.IntChoice([8, 16]),
    kernel=hb.Choice(["rbf", 0.5, 3, None, True]),
)


def _same_state(a, b):
    """Dataclass equality, except that NaN losses compare equal to NaN."""
    nan = lambda s: s.__class__(
        **{**s.__dict__, "history": tuple(o._replace(loss=-12345.0) if math.isnan(o.loss) else o for o in s.history)}
    )
    assert nan(a) == nan(b)
    assert [math.isnan(o.loss) for o in a.history] == [math.isnan(o.loss) for o in b.history]


def _mid_run_state():
    state = sched.hyperband(MIXED_SPACE, 9, 3, seed=4, iterations=2)
    job, state = sched.ask(state)
    losses = np.linspace(0.1, 0.9, len(job.config_ids))
    losses[0], losses[1], losses[2] = np.nan, np.inf, -np.inf
    state = sched.tell(state, job, losses)
    _, state = sched.ask(state)  # leaves a pending job
    return state


def test_state_json_round_trip_is_exact():
    state = _mid_run_state()
    assert state.pending is not None and state.active is not None
    d = state_to_json(state)
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN/Infinity tokens
    back = state_from_json(json.loads(text))
    _same_state(back, state)
    assert back.space == MIXED_SPACE and back.plan == state.plan
    kinds = {k: type(v) for c in back.configs for k, v in c.items()}
    assert kinds["lr"] is float and kinds["layers"] is int and kinds["hidden"] is int
    assert {type(c["kernel"]) for c in back.configs} <= {str, float, int, type(None), bool}
    assert [c["kernel"] for c in back.configs] == [c["kernel"] for c in state.configs]
    assert [type(c["kernel"]) for c in back.configs] == [type(c["kernel"]) for c in state.configs]
    assert math.isinf(back.history[1].loss) and back.history[2].loss == -math.inf
    # and the resumed scheduler behaves identically
    job_a, _ = sched.ask(state)
    job_b, _ = sched.ask(back)
    assert job_a == job_b


def test_state_round_trip_of_fresh_and_finished_states():
    state = sched.successive_halving(hb.Space(c=hb.Choice(["a", "b", "c"])), 3, 9, 3, seed=1)
    _same_state(state_from_json(state_to_json(state)), state)
    while not sched.done(state):
        job, state = sched.ask(state)
        state = sched.tell(state, job, [1.0] * len(job.config_ids))
    _same_state(state_from_json(json.loads(json.dumps(state_to_json(state)))), state)


def test_npz_round_trip_keeps_dtype_and_structure(tmp_path):
    import jax.numpy as jnp

    tree = lambda cid: (
        {"w": jnp.zeros((2, 3), jnp.float32), "b": [jnp.zeros(3, jnp.float32)]},
        (jnp.zeros((), jnp.int32), ()),
    )
    states = {
        3: ({"w": jnp.arange(6, dtype=jnp.float32).reshape(2, 3), "b": [jnp.ones(3)]}, (jnp.asarray(7, jnp.int32), ())),
        11: ({"w": -jnp.ones((2, 3)), "b": [jnp.full(3, 2.5)]}, (jnp.asarray(1, jnp.int32), ())),
    }
    path = backend_states_to_npz(tmp_path / "s.npz", states)
    with np.load(path, allow_pickle=False) as npz:
        assert all(k.startswith(("c3/", "c11/")) for k in npz.files)
    back = backend_states_from_npz(path, tree)
    assert sorted(back) == [3, 11]
    import jax

    for cid in states:
        assert jax.tree.structure(back[cid]) == jax.tree.structure(states[cid])
        for a, b in zip(jax.tree.leaves(back[cid]), jax.tree.leaves(states[cid])):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(CheckpointError, match="lacks"):
        backend_states_from_npz(path, lambda cid: {"other": jnp.zeros(1)})
    with pytest.raises(CheckpointError, match="expected"):
        backend_states_from_npz(
            path, lambda cid: ({"w": jnp.zeros((3, 3)), "b": [jnp.zeros(3)]}, (jnp.zeros((), jnp.int32), ()))
        )


class _ToyBackend:
    """A deterministic stateless backend: loss depends on the config and the resource."""

    def train_rung(self, job):
        return np.array(
            [(c["x"] - 0.3) ** 2 + 1.0 / (1 + r) for c, r in zip(job.configs, [job.resource] * len(job.configs))]
        )


def test_run_directory_save_load_and_resume_in_process(tmp_path):
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    search = hb.Hyperband(space, max_resource=27, eta=3, seed=2)
    plain = search.run(_ToyBackend())

    class Stop(Exception):
        pass

    calls = []

    def stop_after_three(job, losses, state, seconds):
        calls.append(job)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        run_with_checkpoints(search, _ToyBackend(), tmp_path / "run", meta={"R": 27}, callbacks=[stop_after_three])
    state, seconds, meta = RunDirectory(tmp_path / "run").load()
    assert meta == {"R": 27} and not state.finished and len(seconds) == 3
    assert read_run_meta(tmp_path / "run") == {"R": 27}
    resumed = run_with_checkpoints(search, _ToyBackend(), tmp_path / "run", meta={"R": 27}, resume=True)
    cols = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]
    pd.testing.assert_frame_equal(resumed.to_frame()[cols], plain.to_frame()[cols])
    assert resumed.best_config == plain.best_config
    on_disk = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(on_disk) == len(plain.to_frame())
    # a different search refuses the directory
    with pytest.raises(CheckpointError, match="seed"):
        run_with_checkpoints(
            hb.Hyperband(space, max_resource=27, eta=3, seed=3), _ToyBackend(), tmp_path / "run", meta={}, resume=True
        )


def test_corrupted_and_foreign_directories(tmp_path):
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    search = hb.Hyperband(space, max_resource=9, eta=3, seed=0)
    run = tmp_path / "run"
    run_with_checkpoints(search, _ToyBackend(), run, meta={})
    rd = RunDirectory(run)
    rd.load()

    # empty / missing directory
    with pytest.raises(CheckpointError, match="run.json"):
        RunDirectory(tmp_path / "nothing").load()
    # garbled run.json
    good = rd.run_json.read_text()
    rd.run_json.write_text("{not json")
    with pytest.raises(CheckpointError, match="run.json.*corrupted"):
        rd.load()
    # wrong format tag
    rd.run_json.write_text(json.dumps({"format": "something-else", "version": 1, "meta": {}}))
    with pytest.raises(CheckpointError, match="not an hbjax run"):
        rd.load()
    rd.run_json.write_text(json.dumps({"format": "hbjax-run", "version": 99, "meta": {}}))
    with pytest.raises(CheckpointError, match="version"):
        rd.load()
    rd.run_json.write_text(good)
    # a new run never replaces an earlier one unless asked
    with pytest.raises(CheckpointError, match="already holds an hbjax run.*overwrite"):
        run_with_checkpoints(search, _ToyBackend(), run, meta={})
    again = run_with_checkpoints(search, _ToyBackend(), run, meta={"again": 1}, overwrite=True)
    assert read_run_meta(run) == {"again": 1} and len(again.to_frame()) > 0

    # a foreign non-empty directory is never written into
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(CheckpointError, match="not an hbjax run directory"):
        run_with_checkpoints(search, _ToyBackend(), foreign, meta={})
    with pytest.raises(CheckpointError):
        RunDirectory(foreign).save(search.initial_state(), _ToyBackend(), {}, {})
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    (foreign / "run.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="not an hbjax run"):
        run_with_checkpoints(search, _ToyBackend(), foreign, meta={})
    assert (foreign / "run.json").read_text() == json.dumps({"format": "other"})


def _damage(path: Path, how: str) -> None:
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()


@pytest.mark.parametrize(
    "name,how",
    [
        ("state.json", "truncate"),
        ("states.npz", "flip"),
        ("trials.csv", "delete"),
        ("manifest.json", "delete"),
        ("manifest.json", "truncate"),
    ],
)
def test_a_damaged_newest_checkpoint_is_skipped_for_the_previous_one(tmp_path, name, how):
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    search = hb.Hyperband(space, max_resource=27, eta=3, seed=4)
    plain = search.run(_ToyBackend())
    stops = []

    def stop_after_four(job, losses, state, seconds):
        stops.append(len(state.history))
        if len(stops) == 4:
            raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_with_checkpoints(search, _ToyBackend(), run, meta={}, callbacks=[stop_after_four])
    rd = RunDirectory(run)
    newest, previous = rd._generations()
    assert [int(newest.name), int(previous.name)] == stops[-1:] + stops[-2:-1]
    _damage(newest / name, how)
    state, _, _ = rd.load()
    assert len(state.history) == stops[-2] and [g for g, _ in rd.skipped] == [newest]
    # the resumed run redoes the lost rung and ends exactly like an uninterrupted one
    resumed = run_with_checkpoints(search, _ToyBackend(), run, meta={}, resume=True)
    cols = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]
    pd.testing.assert_frame_equal(resumed.to_frame()[cols], plain.to_frame()[cols])
    pd.testing.assert_frame_equal(pd.read_csv(run / "trials.csv")[cols], plain.to_frame()[cols])


def test_no_complete_checkpoint_is_a_clear_error(tmp_path):
    search = hb.Hyperband(hb.Space(x=hb.Uniform(0.0, 1.0)), max_resource=9, eta=3, seed=0)
    run_with_checkpoints(search, _ToyBackend(), tmp_path / "run", meta={})
    rd = RunDirectory(tmp_path / "run")
    for gen in rd._generations():
        _damage(gen / "state.json", "flip")
    with pytest.raises(CheckpointError, match="no complete checkpoint.*damaged"):
        rd.load()
    shutil.rmtree(rd.checkpoints)
    with pytest.raises(CheckpointError, match="has no checkpoint"):
        rd.load()
    rd.run_json.write_text(json.dumps({"format": "hbjax-run", "version": 1, "meta": {}}))
    with pytest.raises(CheckpointError, match="layout version 1"):
        rd.load()


KILL_DRIVER = textwrap.dedent('''
    """Fork a toy checkpointed Hyperband run that SIGKILLs itself at its k-th file-system step
    (fsync, rename, replace, rmtree), resume it in another fork, and compare the trials with an
    uninterrupted run. A fresh interpreter without JAX, so forking is safe and cheap."""
    import json, os, shutil, signal, sys
    import numpy as np
    import pandas as pd
    import hbjax as hb
    from hbjax.runs.checkpoint import CheckpointError, RunDirectory, run_with_checkpoints

    root, points = sys.argv[1], [int(k) for k in sys.argv[2].split(",")]
    calls = [0]

    class Toy:
        def train_rung(self, job):
            return np.array([(c["x"] - 0.3) ** 2 + 1.0 / (1 + job.resource) for c in job.configs])

    def in_child(out, kill_at, resume):
        pid = os.fork()
        if pid == 0:
            def deadly(fn):
                def wrapped(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return fn(*args, **kwargs)
                return wrapped
            for mod, name in ((os, "fsync"), (os, "replace"), (os, "rename"), (shutil, "rmtree")):
                setattr(mod, name, deadly(getattr(mod, name)))
            search = hb.Hyperband(hb.Space(x=hb.Uniform(0.0, 1.0)), max_resource=9, eta=3, seed=1)
            run_with_checkpoints(search, Toy(), out, meta={}, resume=resume)
            with open(os.path.join(root, "calls"), "w") as f:
                f.write(str(calls[0]))
            os._exit(0)
        return os.waitpid(pid, 0)[1]

    def trials(out):
        return pd.read_csv(os.path.join(out, "trials.csv")).drop(columns=["seconds", "rung_seconds"])

    assert in_child(os.path.join(root, "reference"), 0, False) == 0
    expected = trials(os.path.join(root, "reference"))
    report = {"operations": int(open(os.path.join(root, "calls")).read()), "points": {}}
    for kill_at in points:
        out = os.path.join(root, f"k{kill_at}")
        status = in_child(out, kill_at, False)
        outcome = "killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else f"status {status}"
        if outcome == "killed":
            try:
                RunDirectory(out).load()
            except CheckpointError as err:
                outcome = f"no checkpoint yet: {err}"
            else:
                if in_child(out, 0, True) != 0:
                    outcome = "resume failed"
                elif not trials(out).equals(expected):
                    outcome = "different trials"
                elif any(p.endswith(".partial") for p in os.listdir(os.path.join(out, "checkpoints"))):
                    outcome = "partial generation left behind"
                else:
                    outcome = "resumed identical"
        report["points"][kill_at] = outcome
    print(json.dumps(report))
''')


def _kill_sweep(tmp_path, points):
    script = tmp_path / "kill_driver.py"
    script.write_text(KILL_DRIVER)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), ",".join(map(str, points))],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    operations, outcomes = report["operations"], report["points"]
    assert 60 < operations < 120
    killed = {int(k): v for k, v in outcomes.items() if int(k) <= operations}
    early = [k for k, v in killed.items() if v.startswith("no checkpoint yet")]
    # only kills before the first generation is committed leave nothing to resume...
    tried = sorted(killed)
    assert early == tried[: len(early)] and (not early or early[-1] < 12), killed
    # ...and every later kill resumes to the identical trials table
    assert all(v == "resumed identical" for k, v in killed.items() if k not in early), killed
    return operations


def test_sigkill_at_steps_of_checkpoint_writing_then_resume(tmp_path):
    """A kill between two file-system operations of a checkpoint (inside a generation, at the
    rename that commits it, while pruning old ones) loses at most the rung being saved, and the
    resumed run's trials equal an uninterrupted run's. A toy R=9 run makes about 90 such
    operations: every fourth one of the first checkpoint and every fifth of the last are tried, two
    between (all of them: ``-m slow``)."""
    _kill_sweep(tmp_path, sorted(set(range(1, 14, 4)) | {31, 65} | set(range(82, 94, 5))))


@pytest.mark.slow
def test_sigkill_at_every_step_of_checkpoint_writing_then_resume(tmp_path):
    _kill_sweep(tmp_path, range(1, 120))


# --- SIGKILL in the middle of an LSTM run, then resume ---------------------------------------------

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import pandas as pd
    import hbjax as hb
    from hbjax.runs.checkpoint import run_with_checkpoints
    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    mode, out, plan, waves = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "waves"
    n, rng = 400, np.random.default_rng(0)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    df = pd.DataFrame({
        "Date": pd.bdate_range("2010-01-01", periods=n).strftime("%Y-%m-%d"),
        "Open": close * (1 + rng.normal(0, 0.002, n)), "High": close * 1.01, "Low": close * 0.99,
        "Close": close, "Volume": rng.integers(1_000, 10_000, n),
    })
    task = StockTask(from_frame(df), train_size=150, val_size=40, test_size=40, ma_window=5)
    shapes = dict(hidden=hb.IntChoice([8]), layers=hb.IntChoice([1])) if plan == "auto" else \
        dict(hidden=hb.IntChoice([4, 8]), layers=hb.IntChoice([1, 2]))  # wide: padding and depths mix
    space = hb.Space(lr=hb.LogUniform(1e-3, 1e-1), batch_size=hb.IntChoice([16]), dropout=hb.Uniform(0.1, 0.3),
                     optimizer=hb.Choice(["adam", "rmsprop"]), **shapes)
    search = hb.Hyperband(space, max_resource=9, eta=3, seed=5, waves=waves)
    backend = LSTMBackend(task, seed=5, window=5, configs_per_program=4, plan=plan)

    def report(job, losses, state, seconds):
        print(f"RUNG {job.iteration} {job.bracket} {job.rung} {len(job.config_ids)}", flush=True)

    if mode == "plain":
        result = search.run(backend, callbacks=[report])
        result.to_frame().to_csv(out, index=False)
    else:
        result = run_with_checkpoints(search, backend, out, meta={"data": "synthetic", "R": 9, "eta": 3, "seed": 5},
                                      callbacks=[report], resume=(mode == "resume"))
    print("BEST", result.best_config_id, repr(result.best_loss), flush=True)
""")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["HBJAX_CACHE_DIR"] = os.environ["HBJAX_CACHE_DIR"]  # shared: compiles are cached across processes
    return env


@pytest.mark.parametrize(
    "plan,waves,kill_after",
    [("auto", "waves", 4), ("wide", "waves", 2), pytest.param("auto", "sequential", 2, marks=pytest.mark.slow)],
)
def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, plan, waves, kill_after):
    """Under the CPU plan and under the accelerator plan forced on the CPU (vmapped widths, empty
    slots, padded hidden units and depth), in waves and bracket after bracket: killed right after
    its ``kill_after``-th job is told, resumed, identical trials. In waves the 2nd job is told
    inside wave 0, whose calls mix configs of its three jobs (a call can finish two jobs, the
    kill then falls between their tells: the second's states staged, not in the checkpoint); the
    4th job is wave 1's, a later wave resumed from a checkpoint written after wave 0's."""
    script = tmp_path / "run_search.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    cmd = [sys.executable, str(script)]

    # 1. uninterrupted reference (also warms the shared compile cache)
    plain = subprocess.run(
        cmd + ["plain", str(tmp_path / "plain.csv"), plan, waves],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert plain.returncode == 0, plain.stderr[-3000:]
    reference = pd.read_csv(tmp_path / "plain.csv")
    n_rungs = plain.stdout.count("RUNG ")
    assert n_rungs == 6  # R=9, eta=3: 3 + 2 + 1 rungs

    # 2. checkpointed run, SIGKILLed right after its kill_after-th rung line
    proc = subprocess.Popen(
        cmd + ["fresh", str(out), plan, waves], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    told = []  # configs of each job reported (in waves, jobs report in the order they finish)
    try:
        for line in proc.stdout:
            if line.startswith("RUNG "):
                told.append(int(line.split()[-1]))
                if len(told) == kill_after:
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-3000:]
    state, _, meta = RunDirectory(out).load()
    assert not state.finished and len(state.history) >= sum(told)  # at least the two reported rungs are saved
    assert meta["seed"] == 5

    # 3. resume in a fresh process
    resumed = subprocess.run(
        cmd + ["resume", str(out), plan, waves], env=_env(), capture_output=True, text=True, timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 0 < resumed.stdout.count("RUNG ") < n_rungs  # only the remaining rungs were trained
    final = pd.read_csv(out / "trials.csv")

    keys = ["config_id", "iteration", "bracket", "rung", "resource", "promoted"]
    pd.testing.assert_frame_equal(final[keys], reference[keys])
    np.testing.assert_allclose(final["loss"].to_numpy(), reference["loss"].to_numpy(), rtol=0, atol=1e-6)
    params = ["lr", "dropout", "optimizer"]
    pd.testing.assert_frame_equal(final[params], reference[params])
    best_plain = plain.stdout.strip().splitlines()[-1]
    best_resumed = resumed.stdout.strip().splitlines()[-1]
    assert best_plain.split()[:2] == best_resumed.split()[:2]  # same best config id
    assert abs(float(best_plain.split()[2]) - float(best_resumed.split()[2])) < 1e-6


def test_one_writer_per_run_directory(tmp_path):
    """A second run pointed at a directory in use stops with a clear error and writes nothing; the
    lock dies with its process (even a SIGKILL), so the directory is usable again."""
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from hbjax.runs.checkpoint import RunDirectory\n"
                f"with RunDirectory({str(out)!r}).lock():\n    print('locked', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError, match=r"in use by another hbjax run \(pid \d+\)"):
            run_with_checkpoints(hb.Hyperband(space, max_resource=9, eta=3, seed=0), _ToyBackend(), out, meta={})
        assert [p.name for p in out.iterdir()] == [".hbjax.lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    result = run_with_checkpoints(hb.Hyperband(space, max_resource=9, eta=3, seed=0), _ToyBackend(), out, meta={})
    assert len(result.to_frame()) > 0 and (out / "trials.csv").exists()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        run_with_checkpoints(
            hb.Hyperband(space, max_resource=9, eta=3, seed=0), _ToyBackend(), tmp_path / "none", meta={}, resume=True
        )


@pytest.mark.slow
def test_hbjax_run_killed_at_ten_random_moments_resumes_to_the_same_result(tmp_path):
    """``benchmarks/kill_resume.py``: SIGKILL ``hbjax run`` at 10 seeded moments spread over the
    run (three of them while a checkpoint is being written), resume after each; the final trials
    table and best config equal an uninterrupted run's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kill_resume", ROOT / "benchmarks" / "kill_resume.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.kill_and_resume(tmp_path, kills=10, seed=1, log=lambda *a: None)
    assert result["kills"] == 10
    assert result["trials_identical"] and result["best_config_identical"]
