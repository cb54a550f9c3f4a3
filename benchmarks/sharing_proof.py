"""What proving program sharing costs, and what it prevents, in one run.

1. **Cost**: the 27 digits-CNN configs of ``benchmarks/flax_rung.py`` (same space and seed): the
   seconds ``FlaxModel.program_id`` takes to prove every config (its factories called, then its
   init, loss and gradient, validation, optimizer init and update traced to jaxprs and
   fingerprinted: every config traced, since only its own trace proves what it runs), beside the
   rung's own cold and warm wall time (3 epochs, the same configs) measured right after.
2. **What it prevents** (the case that issue 27 found): an MLP on scikit-learn's diabetes data with
   ``adam`` (injected lr) or ``sgd`` (lr and momentum baked in) per config, 24 configs, 3 epochs.
   Trained once with programs shared the old way (the hyperparameters one probe config injected,
   lr and momentum, left out of every config's key) and once with proven sharing; every config is
   also trained alone, and the configs whose loss differs from alone are counted.

    python benchmarks/sharing_proof.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, machine_info, wait_for_quiet, write_json  # noqa: E402

EPOCHS = 3.0


def proof_cost(seed: int = 0, n: int = 27) -> dict:
    from hbjax.commands.model import model_backend
    from hbjax.usermodel.spec import load_model_spec

    spec = load_model_spec(str(HERE.parent / "examples" / "digits_cnn.py") + ":spec")
    configs = spec["space"].sample_configs(np.random.default_rng(seed), n)
    backend = model_backend(spec, seed=seed, compilation_cache=False)
    backend.model.check_fit(configs[0])  # JAX's own first-trace warm-up, outside the timing
    t0 = time.perf_counter()
    ids = [backend.model.program_id(c) for c in configs]
    proof_s = time.perf_counter() - t0
    out = {
        "configs": n,
        "proof_s": proof_s,
        "proof_per_config_s": proof_s / n,
        "traced_configs": len(backend.model.seen),
        "programs": len(set(ids)),
    }
    engine = backend.engine
    for phase, cids in (("cold", list(range(n))), ("warm", list(range(n, 2 * n)))):
        t0 = time.perf_counter()
        engine.train(cids, configs, EPOCHS, [0.0] * n)
        out[f"rung_{phase}_s"] = time.perf_counter() - t0
    out["proof_over_rung_cold"] = proof_s / out["rung_cold_s"]
    out["proof_over_rung_warm"] = proof_s / out["rung_warm_s"]
    return out


def branch_case(seed: int = 0, n: int = 24) -> dict:
    import flax.linen as nn
    import jax.numpy as jnp
    import optax
    from sklearn.datasets import load_diabetes

    import hbjax as hb
    from hbjax.usermodel.backend import FlaxBackend
    from hbjax.usermodel.client import FlaxModel

    x, y = load_diabetes(return_X_y=True)
    x, y = x.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32)
    data = (x[:340], y[:340], x[340:], y[340:])

    class MLP(nn.Module):
        width: int

        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.relu(nn.Dense(self.width)(x)))[..., 0]

    def optimizer(c):
        if c["opt"] == "adam":
            return optax.inject_hyperparams(optax.adam)(learning_rate=c["lr"])
        return optax.sgd(learning_rate=c["lr"], momentum=c["momentum"])

    space = hb.Space(
        width=hb.IntChoice([16, 32]),
        opt=hb.Choice(["adam", "sgd"]),
        lr=hb.LogUniform(1e-3, 1e-1),
        momentum=hb.Uniform(0.5, 0.95),
        batch_size=hb.IntChoice([32]),
    )
    configs = space.sample_configs(np.random.default_rng(seed), n)

    def make(share=True):
        b = FlaxBackend(
            model=lambda c: MLP(c["width"]),
            optimizer=optimizer,
            loss=lambda p, t: jnp.mean((p - t) ** 2),
            data=data,
            seed=seed,
            compilation_cache=False,
        )
        b.model.share = share
        return b

    proven = FlaxModel.program_id

    def old_rule(self, c):  # the probe config was an adam one: lr and momentum "injected" for every config
        if not self.share:
            return proven(self, c)
        return repr((c["width"], c["opt"], c["batch_size"]))

    out = {}
    alone = make(share=False)
    t0 = time.perf_counter()
    ref = np.asarray(alone.engine.train(list(range(n)), configs, EPOCHS, [0.0] * n)[0])
    out["alone_s"] = time.perf_counter() - t0
    for name, rule in (("probe_config_rule_before", old_rule), ("proven_sharing_now", proven)):
        FlaxModel.program_id = rule
        try:
            backend = make()
            t0 = time.perf_counter()
            val = np.asarray(backend.engine.train(list(range(n)), configs, EPOCHS, [0.0] * n)[0])
            seconds = time.perf_counter() - t0
            programs = len({backend.engine.shape(c) for c in configs})
        finally:
            FlaxModel.program_id = proven
        rel = np.abs(val - ref) / np.maximum(np.abs(ref), 1e-12)
        out[name] = {
            "programs": programs,
            "wall_s": seconds,
            "configs_differing_from_alone": int(np.sum(rel > 0)),
            "largest_relative_difference": float(rel.max()),
            "differing_by_optimizer": {
                o: int(np.sum((rel > 0) & np.array([c["opt"] == o for c in configs]))) for o in ("adam", "sgd")
            },
        }
    out["configs_by_optimizer"] = {o: sum(c["opt"] == o for c in configs) for o in ("adam", "sgd")}
    return out


def main() -> int:
    import jax

    load = wait_for_quiet()
    cost = proof_cost()
    print(f"proof cost: {cost}", flush=True)
    case = branch_case()
    print(f"adam/sgd branches: {case}", flush=True)
    summary = {
        "benchmark": "sharing_proof",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "device": f"{jax.devices()[0].platform} x{len(jax.devices())}",
        "configs": "digits CNN: the 27 configs of flax_rung.py (seed 0), 3 epochs; diabetes MLP: 24 configs drawn "
        "with seed 0, 3 epochs; every figure of a part from the same configs in the same run",
        "proof_cost_digits_cnn": cost,
        "adam_sgd_branches_diabetes_mlp": case,
        "load_average_at_end": wait_for_quiet()["load_average_at_start"],
    }
    path = write_json(RESULTS / f"sharing_proof_{jax.devices()[0].platform}.json", summary)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
