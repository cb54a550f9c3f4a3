"""Compiles on background threads: how many at once, and what a run reports of their wait."""

import pytest
from test_lstm_engine import cfg, engine

from hbjax.engine.settings import default_compile_threads


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_one_compile_thread_per_two_cores_at_most_four(cores, threads):
    assert default_compile_threads(cores) == threads


def test_compile_threads_from_the_setting_or_the_environment(monkeypatch):
    assert engine(compile_threads=3).compile_threads == 3
    monkeypatch.setenv("HBJAX_COMPILE_THREADS", "2")
    assert engine().compile_threads == 2
    for bad in (0, -1):
        with pytest.raises(ValueError, match="compile_threads"):
            engine(compile_threads=bad)
    monkeypatch.setenv("HBJAX_COMPILE_THREADS", "two")
    with pytest.raises(ValueError, match="HBJAX_COMPILE_THREADS"):
        engine()


def test_devices_idle_while_the_first_program_compiles_count_as_training_waiting():
    """Nothing is in flight while a fresh engine's first program compiles: every second the
    dispatch waits, the devices sit idle. A second rung of the same program waits for nothing."""
    eng = engine()
    eng.train([0], [cfg(hidden=6)], 1, [0.0])
    first = eng.rung_stats[-1]
    assert first["compiles"] == 1 and first["compile_wait_s"] > 0.05
    assert first["compile_idle_s"] == pytest.approx(first["compile_wait_s"], rel=0.05, abs=0.02)
    eng.train([1], [cfg(hidden=6)], 1, [0.0])
    assert eng.rung_stats[-1]["compile_idle_s"] == 0.0
