import os
import tempfile

# A per-session XLA compile cache: engines built in different tests reuse each other's compiles.
os.environ.setdefault("HBJAX_CACHE_DIR", tempfile.mkdtemp(prefix="hbjax-xla-"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# calibrated cost constants change plans (and so floats): tests plan with the committed defaults
os.environ["HBJAX_CONSTANTS_DIR"] = tempfile.mkdtemp(prefix="hbjax-constants-")

from hbjax.lstm.backend import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
