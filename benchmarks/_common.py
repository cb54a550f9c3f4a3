"""Shared pieces of the benchmarks: machine info, load-average gate, the first NVDA fold, analytic
LSTM FLOPs, a matmul roofline, JAX compile-time accounting and the plain sequential PyTorch loop
that stands for "what a user writes by hand".

Not part of the hbjax package: run the scripts from the repository root
(``python benchmarks/rung_throughput.py``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


# --- machine ---------------------------------------------------------------------------------


def load_average() -> list[float] | None:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def wait_for_quiet(threshold: float = 1.0, poll_s: float = 30.0, max_wait_s: float = 0.0, log=print) -> dict:
    """Poll the 1-minute load average until it is below ``threshold`` (at most ``max_wait_s``);
    returns what was seen, for the JSON. ``max_wait_s=0``: just record it."""
    t0 = time.monotonic()
    load = load_average()
    while load is not None and load[0] >= threshold and time.monotonic() - t0 < max_wait_s:
        log(f"load average {load[0]:.2f} >= {threshold}; waiting ({time.monotonic() - t0:.0f}/{max_wait_s:.0f} s)")
        time.sleep(poll_s)
        load = load_average()
    return {
        "load_average_at_start": load,
        "waited_s": round(time.monotonic() - t0, 1),
        "quiet": load is not None and load[0] < threshold,
    }


def device_name() -> str:
    import jax

    d = jax.devices()[0]
    return d.platform if d.platform == "cpu" else f"{d.platform}-{d.device_kind}".replace(" ", "_").lower()


def machine_info() -> dict:
    import flax
    import jax

    d = jax.devices()[0]
    info = {
        "device": str(d),
        "device_kind": d.device_kind,
        "platform": d.platform,
        "n_devices": len(jax.devices()),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "torch": torch_version(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
    }
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def write_json(path: Path, obj) -> Path:
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, np.integer)):
            return clean(v.item())
        return v

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(obj), indent=2, default=str) + "\n")
    return path


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


# --- data ------------------------------------------------------------------------------------


def first_fold_task(n_folds: int = 1):
    """The NVDA task restricted to its FIRST ``n_folds`` walk-forward folds (3000 train / 500 val
    rows each). ``StockTask(max_folds=k)`` keeps the LAST k folds, so the fold tuple is cut here;
    the held-out test block (last 800 rows) is unchanged."""
    from hbjax.data import StockTask, load_nvda

    task = StockTask(load_nvda(), target="close")  # the price-level target of the peers' figures
    if n_folds < len(task.folds):
        task.folds = task.folds[:n_folds]
    return task


# --- FLOPs -----------------------------------------------------------------------------------


def lstm_flops(hidden: int, layers: int, batch: int, window: int, n_features: int, steps: int, n_val: int) -> float:
    """Matmul FLOPs of training ``steps`` optimizer steps plus one validation pass.

    Per step and layer the forward pass is 2*B*T*(in+H)*4H (input and recurrent projections of the
    four gates), the backward pass ~2x that; the head adds 2*B*H forward. Elementwise gate maths,
    optimizer updates and the permutation are not counted (they are not matmuls)."""
    fwd_per_sample = 0.0
    inputs = n_features
    for _ in range(layers):
        fwd_per_sample += 2.0 * window * (inputs + hidden) * 4 * hidden
        inputs = hidden
    fwd_per_sample += 2.0 * hidden
    return 3.0 * fwd_per_sample * batch * steps + fwd_per_sample * n_val


def matmul_flops_per_s(shapes: Sequence[tuple[int, int, int]] = ((1024, 1024, 1024),), repeats: int = 7) -> dict:
    """Best-of-``repeats`` float32 jnp.dot throughput for each (m, k, n): achievable FLOP/s."""
    import jax
    import jax.numpy as jnp

    out = {}
    for m, k, n in shapes:
        a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32)
        f = jax.jit(jnp.dot)
        f(a, b).block_until_ready()
        inner = max(1, int(2e8 // (2 * m * k * n)))  # ~0.2 GFLOP per timing: short shapes loop
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                r = f(a, b)
            r.block_until_ready()
            best = min(best, (time.perf_counter() - t0) / inner)
        out[f"{m}x{k}x{n}"] = 2.0 * m * k * n / best
    return out


class CompileClock:
    """Sums JAX's own compile events (tracing, lowering, XLA backend compile) while installed."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        self.seconds = {e.rsplit("/", 1)[1]: 0.0 for e in self.EVENTS}
        self.backend_compiles = 0

    def __call__(self, event, duration_secs, **kwargs):
        if event in self.EVENTS:
            name = event.rsplit("/", 1)[1]
            self.seconds[name] += float(duration_secs)
            if name == "backend_compile_duration":
                self.backend_compiles += 1

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def __enter__(self):
        from jax import monitoring

        monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        from jax._src import monitoring as _m

        try:
            _m.unregister_event_duration_listener(self)
        except Exception:  # noqa: BLE001 - older/newer jax: leave it registered, it only adds
            pass
        return False


# --- the plain PyTorch loop --------------------------------------------------------------------


class TorchLoop:
    """A sequential PyTorch trainer of the kind a user writes: ``torch.nn.LSTM`` (same layers and
    hidden units, dropout between layers and on the last layer's output as hbjax does), a linear
    head on the last step, Adam, MSE, the same batch size and the same number of optimizer steps
    (``hbjax.lstm.engine.steps_for``), reshuffling each epoch and dropping the last partial batch,
    then one validation pass. One config at a time; ``torch.set_num_threads(threads)``.
    ``flush_denormal``: ``torch.set_flush_denormal`` (False, PyTorch's default, is how a user first
    writes it: CPU arithmetic on denormal floats is then many times slower; XLA flushes them)."""

    def __init__(self, x_train, y_train, x_val, y_val, threads: int = 2, flush_denormal: bool = False):
        import torch

        torch.set_num_threads(threads)
        torch.set_flush_denormal(flush_denormal)
        self.torch = torch
        self.x_train = torch.from_numpy(np.array(x_train, np.float32))
        self.y_train = torch.from_numpy(np.array(y_train, np.float32))
        self.x_val = torch.from_numpy(np.array(x_val, np.float32))
        self.y_val = torch.from_numpy(np.array(y_val, np.float32))

    def build(self, config: Mapping, seed: int):
        torch = self.torch
        nn = torch.nn
        torch.manual_seed(seed)
        layers, hidden, rate = int(config["layers"]), int(config["hidden"]), float(config.get("dropout", 0.0))

        class Net(nn.Module):
            def __init__(self, n_features):
                super().__init__()
                self.lstm = nn.LSTM(
                    n_features, hidden, num_layers=layers, batch_first=True, dropout=rate if layers > 1 else 0.0
                )
                self.drop = nn.Dropout(rate)
                self.head = nn.Linear(hidden, 1)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(self.drop(out[:, -1, :]))[:, 0]

        model = Net(self.x_train.shape[-1])
        opt = torch.optim.Adam(model.parameters(), lr=float(config["lr"]))
        return model, opt

    def train(self, config: Mapping, resources: Sequence[float], seed: int = 0) -> list[float]:
        """Train to each resource (epochs) in turn, continuing; validation MSE at each."""
        from hbjax.lstm.engine import steps_for

        torch = self.torch
        model, opt = self.build(config, seed)
        n = self.x_train.shape[0]
        batch = int(config["batch_size"])
        spe = n // batch
        gen = torch.Generator().manual_seed(seed)
        step, perm, epoch, out = 0, None, -1, []
        for r in resources:
            stop = steps_for(r, spe)
            model.train()
            while step < stop:
                if step // spe != epoch:
                    epoch = step // spe
                    perm = torch.randperm(n, generator=gen)
                idx = perm[(step % spe) * batch : (step % spe + 1) * batch]
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((model(self.x_train[idx]) - self.y_train[idx]) ** 2)
                loss.backward()
                opt.step()
                step += 1
            model.eval()
            with torch.no_grad():
                out.append(float(torch.mean((model(self.x_val) - self.y_val) ** 2)))
        return out
