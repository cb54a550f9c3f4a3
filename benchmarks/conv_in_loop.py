"""Why a CNN rung is slow on XLA CPU: one training step of the digits CNN (width 16, depth 2,
batch 32, AdamW) jitted alone and called 100 times from Python, against the same 100 steps in one
``lax.fori_loop`` (how every engine program trains). On XLA CPU the convolutions' weight
gradients inside a while loop keep a layout (``f01b_i01o->01bf``) that is not run by the fast
Eigen convolution, so the loop is several times slower than the step alone (JAX issue #12868,
open). The LSTM (matmuls only) does not have this problem.

    python benchmarks/conv_in_loop.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, machine_info, wait_for_quiet, write_json  # noqa: E402

STEPS = 100


def main() -> int:
    load = wait_for_quiet()
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    class CNN(nn.Module):
        width: int
        depth: int

        @nn.compact
        def __call__(self, x):
            for _ in range(self.depth):
                x = nn.relu(nn.Conv(self.width, (3, 3))(x))
            return nn.Dense(10)(x.reshape(x.shape[0], -1))

    model = CNN(16, 2)
    x, y = jnp.ones((32, 8, 8, 1)), jnp.zeros((32,), jnp.int32)
    params = model.init(jax.random.PRNGKey(0), x)
    tx = optax.adamw(1e-3)
    state = tx.init(params)

    def step(p, s):
        loss, g = jax.value_and_grad(
            lambda p: optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()
        )(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def loop(p, s):
        return jax.lax.fori_loop(0, STEPS, lambda i, c: step(c[0], c[1]), (p, s, jnp.float32(0)))

    one = jax.jit(step).lower(params, state).compile()
    many = jax.jit(loop).lower(params, state).compile()
    jax.block_until_ready(one(params, state))
    jax.block_until_ready(many(params, state))
    timings = {}
    for name in ("alone", "loop"):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            if name == "alone":
                p, s = params, state
                for _ in range(STEPS):
                    p, s, loss = one(p, s)
                jax.block_until_ready(loss)
            else:
                jax.block_until_ready(many(params, state))
            best = min(best, time.perf_counter() - t0)
        timings[name] = best / STEPS * 1e3
    layouts = {
        name: sorted(
            {
                line.split("dim_labels=")[1].split(",")[0]
                for line in text.splitlines()
                if "convolution(" in line and "dim_labels=" in line
            }
        )
        for name, text in (("alone", one.as_text()), ("loop", many.as_text()))
    }
    summary = {
        "benchmark": "conv_in_loop",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "model": "digits CNN width 16 depth 2, batch 32, AdamW",
        "ms_per_step_jitted_alone": timings["alone"],
        "ms_per_step_in_fori_loop": timings["loop"],
        "loop_over_alone": timings["loop"] / timings["alone"],
        "convolution_dim_labels": layouts,
        "see": "https://github.com/jax-ml/jax/issues/12868",
    }
    path = write_json(RESULTS / f"conv_in_loop_{jax.devices()[0].platform}.json", summary)
    print(
        f"{timings['alone']:.2f} ms a step alone, {timings['loop']:.2f} ms in a fori_loop "
        f"({summary['loop_over_alone']:.1f}x); convolution layouts {layouts}; wrote {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
