"""Waves: every ready rung of every bracket at once, with the trials of sequential Hyperband."""

import math

import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax import scheduler as sched
from hbjax import waves
from hbjax.problems.testfunctions import FunctionBackend
from hbjax.runs.serialization import state_from_json, state_to_json

COLS = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]


class _Seeded:
    """Stateless and deterministic, with NaNs and ties: the loss depends on the config and resource only."""

    def train_rung(self, job):
        out = []
        for (
            _cid,
            c,
        ) in zip(job.config_ids, job.configs):
            x = round(c["x"], 1)  # ties between configs
            out.append(np.nan if c["x"] < 0.05 else (x - 0.3) ** 2 + 1.0 / (1 + job.resource))
        return np.array(out)


class _SeededWave(_Seeded):
    def __init__(self):
        self.waves = []

    def train_wave(self, jobs):
        self.waves.append([(j.bracket, j.rung) for j in jobs])
        return [self.train_rung(j) for j in jobs]


def _trials(result):
    return result.to_frame()[COLS]


@pytest.mark.parametrize("R,iterations", [(27, 1), (81, 2), (9, 3)])
def test_waves_give_the_sequential_trials(R, iterations):
    space = hb.Space(x=hb.Uniform(0.0, 1.0), k=hb.Choice(["a", "b"]))
    plain = hb.Hyperband(space, max_resource=R, eta=3, seed=7, hyperband_iterations=iterations).run(_Seeded())
    backend = _SeededWave()
    waved = hb.Hyperband(space, max_resource=R, eta=3, seed=7, hyperband_iterations=iterations).run(backend)
    assert isinstance(waved.state, waves.WaveState) and isinstance(plain.state, sched.SchedulerState)
    pd.testing.assert_frame_equal(_trials(waved), _trials(plain))
    assert waved.best_config_id == plain.best_config_id and waved.resource_spent == plain.resource_spent
    s_max = len(hb.Hyperband(space, max_resource=R, eta=3).plan) - 1
    assert len(backend.waves) == s_max + 1  # wave w: rung w of every bracket still running
    assert backend.waves[0] == [(s, 0) for s in range(s_max, -1, -1)] * iterations
    assert all(r == w for w, jobs in enumerate(backend.waves) for _, r in jobs)


def test_waves_off_and_on_by_backend():
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    search = hb.Hyperband(space, max_resource=9, eta=3, waves=False)
    assert isinstance(search.run(_SeededWave()).state, sched.SchedulerState)
    assert isinstance(hb.Hyperband(space, max_resource=9, eta=3, waves=True).run(_Seeded()).state, waves.WaveState)
    assert not hb.Hyperband(space, max_resource=9, eta=3).uses_waves(_Seeded())
    with pytest.raises(ValueError, match="waves"):
        hb.Hyperband(space, max_resource=9, eta=3, waves="yes")


def test_a_small_finite_space_shrinks_brackets_as_sequential_does():
    space = hb.Space(x=hb.Choice([0.1, 0.2, 0.3, 0.4]))
    with pytest.warns(UserWarning, match="shrinking"):
        plain = hb.Hyperband(space, max_resource=9, eta=3, seed=1).run(_Seeded())
    with pytest.warns(UserWarning, match="shrinking"):
        waved = hb.Hyperband(space, max_resource=9, eta=3, seed=1, waves=True).run(_Seeded())
    pd.testing.assert_frame_equal(_trials(waved), _trials(plain))


def test_ask_ready_and_tell_in_any_order():
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    state = waves.init(space, hb.Hyperband(space, max_resource=27, eta=3).plan, eta=3, seed=3)
    jobs, state = waves.ask_ready(state)
    assert [(j.bracket, j.rung) for j in jobs] == [(3, 0), (2, 0), (1, 0), (0, 0)]
    assert [j.config_ids[0] for j in jobs] == [0, 27, 27 + 12, 27 + 12 + 6]  # sequential ids
    again, state = waves.ask_ready(state)
    assert again == ()  # nothing is ready until a job is told
    state = waves.tell(state, jobs[2], np.arange(len(jobs[2].config_ids), dtype=float))
    with pytest.raises(ValueError, match="not pending"):
        waves.tell(state, jobs[2], np.zeros(len(jobs[2].config_ids)))
    nxt, state = waves.ask_ready(state)
    assert [(j.bracket, j.rung) for j in nxt] == [(1, 1)]  # only the told bracket moves on
    assert nxt[0].previous_resource == (jobs[2].resource,) * len(nxt[0].config_ids)
    for job in reversed(jobs[:2] + jobs[3:]):
        state = waves.tell(state, job, np.ones(len(job.config_ids)))
    # the history is in sequential order however the jobs were told
    keys = [(o.iteration, -o.bracket, o.rung) for o in state.history]
    assert keys == sorted(keys)
    with pytest.raises(ValueError, match="not pending"):
        waves.tell(state, jobs[0]._replace(config_ids=jobs[0].config_ids[:-1]), np.ones(len(jobs[0].config_ids) - 1))


def test_all_diverged_ends_only_that_bracket():
    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    state = waves.init(space, hb.Hyperband(space, max_resource=9, eta=3).plan, eta=3)
    jobs, state = waves.ask_ready(state)
    state = waves.tell(state, jobs[0], np.full(len(jobs[0].config_ids), np.nan))
    assert [r.bracket.s for r in state.runs] == [1, 0]
    for job in jobs[1:]:
        state = waves.tell(state, job, np.ones(len(job.config_ids)))
    nxt, state = waves.ask_ready(state)
    assert [(j.bracket, j.rung) for j in nxt] == [(1, 1)]
    state = waves.tell(state, nxt[0], [0.5])
    assert waves.done(state)
    with pytest.raises(RuntimeError, match="done"):
        waves.ask_ready(state)


def test_wave_state_json_round_trip():
    space = hb.Space(x=hb.Uniform(0.0, 1.0), k=hb.Choice(["a", None, 3]))
    state = waves.init(space, hb.Hyperband(space, max_resource=9, eta=3).plan, eta=3, seed=2, iterations=2)
    jobs, state = waves.ask_ready(state)
    state = waves.tell(state, jobs[1], [np.nan, 0.3, np.inf, 0.1, 0.2])
    back = state_from_json(state_to_json(state))
    assert isinstance(back, waves.WaveState)
    assert back.runs == state.runs and back.configs == state.configs and back.waves == state.waves
    assert [o.config_id for o in back.history] == [o.config_id for o in state.history]
    assert [math.isnan(o.loss) for o in back.history] == [math.isnan(o.loss) for o in state.history]


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_function_backend_waves_equal_rungs_bit_for_bit(noise):
    kw = dict(max_resource=27, eta=3, seed=5)
    backend = FunctionBackend("hartmann3", max_resource=27, noise=noise, seed=1)
    plain = hb.Hyperband(backend.space(), waves=False, **kw).run(backend)
    waved = hb.Hyperband(backend.space(), **kw).run(FunctionBackend("hartmann3", max_resource=27, noise=noise, seed=1))
    assert isinstance(waved.state, waves.WaveState)
    pd.testing.assert_frame_equal(_trials(waved), _trials(plain))


def _lstm_backend(**kw):
    from conftest import synthetic_ohlcv

    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(synthetic_ohlcv(seed=2)), train_size=150, val_size=40, test_size=40, ma_window=5)
    return LSTMBackend(task, seed=3, window=5, **kw)


LSTM_SPACE = hb.Space(
    lr=hb.LogUniform(1e-3, 1e-1),
    hidden=hb.IntChoice([4, 8]),
    layers=hb.IntChoice([1, 2]),
    batch_size=hb.IntChoice([16, 32]),
    dropout=hb.Uniform(0.1, 0.3),
    optimizer=hb.Choice(["adam", "rmsprop"]),
)


def test_lstm_run_in_waves_equals_sequential_bit_for_bit():
    """A whole Hyperband run of the LSTM engine on CPU under ``auto``: waves (configs of several
    brackets' rungs in one plan, each with its own step range) give the sequential trials exactly."""
    search = dict(max_resource=9, eta=3, seed=3)
    plain_backend = _lstm_backend()
    plain = hb.Hyperband(LSTM_SPACE, waves=False, **search).run(plain_backend)
    wave_backend = _lstm_backend()
    waved = hb.Hyperband(LSTM_SPACE, **search).run(wave_backend)
    assert isinstance(waved.state, waves.WaveState)
    pd.testing.assert_frame_equal(_trials(waved), _trials(plain))  # losses equal bit for bit
    stats = wave_backend.engine.rung_stats  # the first wave: every bracket's first rung in one plan; then each
    assert stats[0]["configs"] == 9 + 5 + 3 and stats[0]["parts"] == 3  # job is told (and its next rung
    assert len(stats) <= len(plain_backend.engine.rung_stats) == 6  # submitted) as soon as it is done
    assert wave_backend.engine.states.keys() <= set(waved.to_frame().config_id)  # released as it went


def test_wide_plan_wave_mixes_step_ranges_and_agrees():
    """The accelerator plan (forced on CPU) in one wave of two rungs with different step ranges:
    one call over the union of ranges keeps each config's own steps, bit for bit."""
    configs = [
        dict(lr=0.01, hidden=8, layers=1, batch_size=16, dropout=0.2, optimizer="adam"),
        dict(lr=0.03, hidden=8, layers=1, batch_size=16, dropout=0.1, optimizer="rmsprop"),
    ]
    together = _lstm_backend(plan="wide").engine
    val, _ = together.train([0, 1], configs, [1.0, 3.0], [0.0, 0.0])
    for cid, config, resource in ((0, configs[0], 1.0), (1, configs[1], 3.0)):
        alone = _lstm_backend(plan="wide").engine
        ref, _ = alone.train([cid], [config], resource, [0.0])
        assert val[cid] == ref[0]
        for name, a in alone.states[cid][0].items():
            np.testing.assert_array_equal(together.states[cid][0][name], a)
    assert [c.program.width for c in together.plan_rung(configs, [1.0, 3.0], [0.0, 0.0]).calls] == [2]
