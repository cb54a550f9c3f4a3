"""Configs spread over 4 (forced host) devices: every device busy, each config's result its
single-device one (to float rounding: a 4-device program is compiled apart from a 1-device one;
1.5e-8 seen on one of 10 values)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_four_devices_equal_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    probe = Path(__file__).parent / "_sharding_probe.py"
    proc = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["spread"], out["single"], rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(out["single"]))
    assert out["busy_devices"] == [0, 1, 2, 3]  # 7 configs, 3 programs: no device idles
    assert out["programs"] == 3
