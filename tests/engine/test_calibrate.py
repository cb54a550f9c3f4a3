"""The cost model's fit (``engine.calibrate.fit``): constants recovered from step times."""

import jax
import pytest

from hbjax.engine.calibrate import fit


@pytest.mark.parametrize("serial", [False, True])
def test_fit_recovers_the_constants_that_made_the_times(serial):
    per_step, per_serial, rate = 4e-4, 2e-6, 5e10
    rows = []
    for flops, steps in ((1e6, 20), (3e7, 40), (4e8, 20), (2e9, 60)):
        n = steps if serial else 0
        rows.append(
            {
                "flops_per_step": flops,
                "serial_steps": n,
                "compile_s": 2.0,
                "step_s": per_step + per_serial * n + flops / rate,
            }
        )
    got = fit(rows, jax.local_devices()[0], source="test")
    assert got.seconds_per_step == pytest.approx(per_step, rel=1e-6)
    assert got.flops_per_s == pytest.approx(rate, rel=1e-6)
    assert got.seconds_per_serial_step == pytest.approx(per_serial if serial else 0.0, rel=1e-6, abs=1e-12)
    assert got.compile_s == 2.0 and got.source == "test"
