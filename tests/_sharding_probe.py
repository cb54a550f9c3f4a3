"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/test_sharding.py)."""
import json
import sys

import jax

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from test_lstm_engine import IDS, MIXED, engine  # noqa: E402

assert len(jax.devices()) == 4, jax.devices()
sharded = engine(width=8)
assert sharded.n_devices == 4
val_s, _ = sharded.train(IDS, MIXED, 1.0, [0.0] * len(IDS))
val_s2, _ = sharded.train(IDS[:3], MIXED[:3], 2.0, [1.0] * 3)  # survivors continue on the mesh
single = engine(width=8, devices=jax.devices()[:1])
assert single.n_devices == 1
val_1, _ = single.train(IDS, MIXED, 1.0, [0.0] * len(IDS))
val_12, _ = single.train(IDS[:3], MIXED[:3], 2.0, [1.0] * 3)
print(json.dumps({"sharded": [*val_s.tolist(), *val_s2.tolist()], "single": [*val_1.tolist(), *val_12.tolist()]}))
