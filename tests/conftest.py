import os
import tempfile

# A per-session XLA compile cache: engines built in different tests reuse each other's compiles.
os.environ.setdefault("HBJAX_CACHE_DIR", tempfile.mkdtemp(prefix="hbjax-xla-"))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from hbjax.lstm.backend import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
