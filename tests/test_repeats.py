"""Repeats: N seeds of every config side by side; the scheduler sees their mean."""

import numpy as np
import pandas as pd
import pytest

import hbjax as hb
from hbjax.problems.testfunctions import FunctionBackend
from hbjax.repeats import SEED_STRIDE, Repeats
from hbjax.runs.checkpoint import run_with_checkpoints
from hbjax.strategies import HyperbandStrategy

COLS = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]


def _backend(**kw):
    return FunctionBackend("hartmann3", max_resource=27, noise=0.2, seed=4, **kw)


def test_one_repeat_is_the_backend_itself():
    space = _backend().space()
    plain = hb.Hyperband(space, max_resource=27, eta=3, seed=1).run(_backend())
    once = hb.Hyperband(space, max_resource=27, eta=3, seed=1).run(Repeats(_backend(), 1))
    pd.testing.assert_frame_equal(once.to_frame()[COLS], plain.to_frame()[COLS])
    assert (once.to_frame()["loss_seed0"] == plain.to_frame()["loss"]).all()


def test_the_loss_is_the_mean_of_the_seeds_and_the_table_keeps_each():
    space = _backend().space()
    backend = _backend()
    result = hb.Hyperband(space, max_resource=27, eta=3, seed=1).run(Repeats(backend, 4))
    frame = result.to_frame()
    seeds = frame[[f"loss_seed{r}" for r in range(4)]].to_numpy()
    np.testing.assert_allclose(frame["loss"], seeds.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(frame["loss_std"], seeds.std(axis=1, ddof=1), rtol=1e-12)
    assert (frame["loss_std"] > 0).all()  # the seeds draw their own noise
    # seed 0 is the config itself: its first-rung losses are the plain run's
    plain = hb.Hyperband(space, max_resource=27, eta=3, seed=1).run(_backend()).to_frame()
    first = (frame.rung == 0) & (frame.bracket == 3)
    np.testing.assert_array_equal(
        frame.loc[first, "loss_seed0"].to_numpy(),
        plain.loc[(plain.rung == 0) & (plain.bracket == 3), "loss"].to_numpy(),
    )
    assert backend.evaluations == 4 * len(frame)  # every seed evaluated, in one call per wave


def test_a_seed_that_diverges_stops_its_config():
    class Half:
        def train_rung(self, job):
            return np.array(
                [
                    np.nan if cid >= SEED_STRIDE and c["x"] < 0.5 else c["x"]
                    for cid, c in zip(job.config_ids, job.configs)
                ]
            )

    space = hb.Space(x=hb.Uniform(0.0, 1.0))
    result = hb.Hyperband(space, max_resource=9, eta=3, seed=0).run(Repeats(Half(), 2))
    frame = result.to_frame()
    assert frame.loc[frame.x < 0.5, "diverged"].all() and not frame.loc[frame.x < 0.5, "promoted"].any()
    assert frame.loc[frame.x >= 0.5, "loss"].equals(frame.loc[frame.x >= 0.5, "x"])


def test_repeats_at_equal_budget_spend_no_more():
    space = _backend().space()
    budget = 3 * 10 * 27
    plain = HyperbandStrategy(space, max_resource=27, seed=2).run(_backend(), budget=budget)
    backend = _backend()
    four = HyperbandStrategy(space, max_resource=27, seed=2, repeats=4).run(backend, budget=budget)
    assert four.resource_spent <= budget and plain.resource_spent <= budget
    assert four.resource_spent > budget / 2 and four.extras["repeats"] == 4
    assert len(four.to_frame()) < len(plain.to_frame())  # fewer configs for the same budget
    with pytest.raises(ValueError, match="repeats"):
        HyperbandStrategy(space, max_resource=27, repeats=0)


def test_bad_repeats_are_clear_errors():
    with pytest.raises(ValueError, match="repeats"):
        Repeats(_backend(), 0)
    with pytest.raises(ValueError, match="repeats"):
        Repeats(_backend(), 2.5)
    with pytest.raises(ValueError, match="not a backend"):
        Repeats(object(), 2)


def _lstm(**kw):
    from conftest import synthetic_ohlcv

    from hbjax.data import StockTask, from_frame
    from hbjax.lstm.backend import LSTMBackend

    task = StockTask(from_frame(synthetic_ohlcv(seed=4)), train_size=150, val_size=40, test_size=40, ma_window=5)
    return LSTMBackend(task, seed=2, window=5, **kw)


LSTM_SPACE = hb.Space(
    lr=hb.LogUniform(1e-3, 1e-1),
    hidden=hb.IntChoice([4, 8]),
    layers=hb.IntChoice([1]),
    batch_size=hb.IntChoice([16]),
    dropout=hb.Uniform(0.1, 0.3),
)


def test_lstm_seeds_share_the_wave_and_seed_zero_is_the_config(tmp_path):
    """Two seeds per config in the same plans as the configs themselves; seed 0 trains exactly as
    the config does without repeats; killed after the first wave and resumed, the same trials."""
    search = hb.Hyperband(LSTM_SPACE, max_resource=3, eta=3, seed=1)
    plain = search.run(_lstm()).to_frame()
    inner = _lstm()
    repeated = search.run(Repeats(inner, 2)).to_frame()
    assert len(inner.engine.rung_stats) == 2  # two waves, every seed inside them
    assert inner.engine.rung_stats[0]["configs"] == 2 * (3 + 2)
    first = plain.rung == 0
    np.testing.assert_array_equal(repeated.loc[first, "loss_seed0"], plain.loc[first, "loss"])
    assert (repeated.loss_seed0 != repeated.loss_seed1).all()

    class Stop(Exception):
        pass

    def stop(job, losses, state, seconds):
        raise Stop

    with pytest.raises(Stop):
        run_with_checkpoints(search, Repeats(_lstm(), 2), tmp_path / "run", meta={}, callbacks=[stop])
    resumed = run_with_checkpoints(search, Repeats(_lstm(), 2), tmp_path / "run", meta={}, resume=True).to_frame()
    columns = COLS + ["loss_seed0", "loss_seed1", "loss_std"]
    pd.testing.assert_frame_equal(resumed[columns], repeated[columns])
