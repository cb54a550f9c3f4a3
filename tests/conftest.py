import os
import tempfile

# A per-session XLA compile cache: engines built in different tests reuse each other's compiles.
os.environ.setdefault("HBJAX_CACHE_DIR", tempfile.mkdtemp(prefix="hbjax-xla-"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# calibrated cost constants change plans (and so floats): tests plan with the committed defaults
os.environ["HBJAX_CONSTANTS_DIR"] = tempfile.mkdtemp(prefix="hbjax-constants-")

from hbjax.lstm.backend import enable_compilation_cache  # noqa: E402

enable_compilation_cache()


def synthetic_ohlcv(n=400, seed=0):
    """A small daily OHLCV frame (a random walk) for the LSTM's end-to-end tests."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({
        "Date": pd.bdate_range("2010-01-01", periods=n).strftime("%Y-%m-%d"),
        "Open": close * (1 + rng.normal(0, 0.002, n)), "High": close * 1.01, "Low": close * 0.99,
        "Close": close, "Volume": rng.integers(1_000, 10_000, n),
    })
