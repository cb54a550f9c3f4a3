"""One public API: every name of ``hb.__all__`` resolves, ``dir(hb)`` lists the lazy ones, and
``import hbjax`` stays free of JAX (the scikit-learn fallback needs none)."""

from __future__ import annotations

import subprocess
import sys

import hbjax as hb


def test_every_public_name_resolves_and_is_listed():
    assert set(hb.__all__) <= set(dir(hb))
    missing = [name for name in hb.__all__ if getattr(hb, name, None) is None]
    assert not missing
    assert hb.engine.Engine is hb.engine.core.Engine and hb.engine.Model is hb.engine.client.Model


def test_import_hbjax_loads_no_jax():
    code = "import sys, hbjax; hbjax.Hyperband, hbjax.Space; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
