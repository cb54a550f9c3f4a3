import os
import tempfile

# A per-session XLA compile cache: engines built in different tests reuse each other's compiles.
os.environ.setdefault("HBJAX_CACHE_DIR", tempfile.mkdtemp(prefix="hbjax-xla-"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# calibrated cost constants change plans (and so floats): tests plan with the committed defaults
os.environ["HBJAX_CONSTANTS_DIR"] = tempfile.mkdtemp(prefix="hbjax-constants-")

from hbjax.lstm.backend import enable_compilation_cache

enable_compilation_cache()


def synthetic_ohlcv(n=400, seed=0, *, start="2010-01-01", price=50.0, daily_sd=0.01, open_sd=0.002, max_volume=10_000):
    """A daily OHLCV frame of business days (a random walk from ``price``) for the end-to-end and
    input-fuzzing tests."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, daily_sd, n)))
    return pd.DataFrame(
        {
            "Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"),
            "Open": close * (1 + rng.normal(0, open_sd, n)),
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": rng.integers(1_000, max_volume, n),
        }
    )
