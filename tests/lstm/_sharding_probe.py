"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/lstm/test_sharding.py)."""

import json
import sys

import jax

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))  # the tests' conftest
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))  # its neighbours
from test_lstm_engine import IDS, MIXED, engine

assert len(jax.devices()) == 4, jax.devices()
spread = engine(width=1)
assert spread.n_devices == 4
plan = spread.plan_rung(MIXED, 1.0, [0.0] * len(IDS))
busy = [d for d, s in enumerate(plan.device_seconds()) if s > 0]
val_s, _ = spread.train(IDS, MIXED, 1.0, [0.0] * len(IDS))
val_s2, _ = spread.train(IDS[:3], MIXED[:3], 2.0, [1.0] * 3)  # survivors continue, wherever they land
single = engine(width=1, devices=jax.devices()[:1])
assert single.n_devices == 1
val_1, _ = single.train(IDS, MIXED, 1.0, [0.0] * len(IDS))
val_12, _ = single.train(IDS[:3], MIXED[:3], 2.0, [1.0] * 3)
print(
    json.dumps(
        {
            "spread": [*val_s.tolist(), *val_s2.tolist()],
            "single": [*val_1.tolist(), *val_12.tolist()],
            "busy_devices": busy,
            "calls": len(plan.calls),
            "programs": len(plan.programs),
        }
    )
)
