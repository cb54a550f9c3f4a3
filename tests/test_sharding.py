"""The config axis sharded over 4 (forced host) devices gives each config's single-device result."""
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
    np.testing.assert_allclose(out["sharded"], out["single"], rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(out["single"]))
