"""One LSTM config's epoch: hbjax's program vs plain flax + optax vs PyTorch, with the machine's dot rate.

For each config (the peers' smallest and largest shapes and two between), in ONE process, on the
first NVDA walk-forward fold (2,980 training windows of 20 days, 480 validation windows):

  * hbjax: the engine's program for that config alone (``plan="exact"``, one device), one epoch
    from an empty compile cache (its compile seconds from the engine), then the same epoch warm
    (best of 3, new config ids);
  * plain flax + optax: ``nn.RNN(nn.OptimizedLSTMCell)`` per layer with the same inverted dropout
    after each layer (rate traced), a dense head on the last step, ``optax.adam``, MSE, the epoch
    as one ``lax.scan`` over shuffled batches, then the validation pass: what a user writes in
    JAX. Its compile is ``jit(...).lower(...).compile()``;
  * PyTorch: the benchmark's sequential loop (``_common.TorchLoop``, ``torch.nn.LSTM``, Adam,
    2 threads, ``set_flush_denormal(True)``), one epoch + validation, best of 3.

Achieved GFLOP/s counts the matmul FLOPs of the epoch (``_common.lstm_flops``) over each
column's seconds; beside it ``jnp.dot``'s and ``torch.mm``'s own rates at the config's two matmul
shapes ([B, H] x [H, 4H], the recurrent step; [B*T, in] x [in, 4H], the hoisted input
projection), timed inside a loop as the programs run them: the machine's limit at those shapes.

    JAX_PLATFORMS=cpu python benchmarks/lstm_program.py            # ~4 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    TorchLoop,
    first_fold_task,
    load_average,
    lstm_flops,
    machine_info,
    torch_version,
    wait_for_quiet,
    write_json,
)

CONFIGS = ((16, 1, 32), (16, 1, 128), (64, 2, 64), (256, 3, 64), (256, 3, 128))  # (hidden, layers, batch)


def dot_rate_jax(m: int, k: int, n: int, reps: int = 100) -> float:
    """FLOP/s of an [m, k] x [k, n] float32 dot (n >= k) repeated inside a jitted loop, each
    product feeding the next (no per-call dispatch, nothing for XLA to hoist)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32) * 0.01

    @jax.jit
    def loop(a, b):
        # each product feeds the next (as the recurrent step does): XLA cannot hoist it out of the loop
        return jax.lax.fori_loop(0, reps, lambda i, x: x + 1e-6 * (x @ b)[:, :k], a)

    loop(a, b).block_until_ready()
    best = min(_timed(lambda: loop(a, b).block_until_ready()) for _ in range(3))
    return 2.0 * m * k * n * reps / best


def dot_rate_torch(m: int, k: int, n: int, reps: int = 100) -> float:
    import torch

    x, b = torch.randn(m, k), torch.randn(k, n) * 0.01
    out = torch.empty(m, n)

    def run():
        for _ in range(reps):
            torch.mm(x, b, out=out)
            x.add_(out[:, :k], alpha=1e-6)

    run()
    return 2.0 * m * k * n * reps / min(_timed(run) for _ in range(3))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def torch_epoch(loop, config) -> float:
    """Warm seconds of one epoch (+ validation) of ``config`` in the PyTorch loop (best of 3)."""
    loop.train(config, [0.05])
    return min(_timed(lambda s=s: loop.train(config, [1.0], seed=s)) for s in range(3))


def plain_flax_epoch(arrays, hidden: int, layers: int, batch: int, rate: float = 0.2):
    """(compile seconds, warm epoch seconds) of the plain flax + optax program."""
    import jax

    compile_program, args = plain_flax_program(arrays, hidden, layers, batch, rate)
    t0 = time.perf_counter()
    compiled = compile_program()
    compile_s = time.perf_counter() - t0
    compiled(*args)[2].block_until_ready()
    warm = min(_timed(lambda: jax.block_until_ready(compiled(*args))) for _ in range(3))
    return compile_s, warm


def plain_flax_program(arrays, hidden: int, layers: int, batch: int, rate: float = 0.2):
    """(compile, args): ``compile()`` traces, lowers and compiles the plain flax + optax epoch
    program (one fold's training epoch, then its validation pass); ``args`` are its arguments."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    from hbjax.lstm.reference import dropout

    class Net(nn.Module):  # not lstm.model.LSTMRegressor: its activation is traced (computes all three)
        @nn.compact
        def __call__(self, x, key=None, rate=0.0):
            for layer in range(layers):
                x = nn.RNN(nn.OptimizedLSTMCell(hidden))(x)
                if key is not None:
                    x = dropout(x, rate, jax.random.fold_in(key, layer))
            return nn.Dense(1)(x[:, -1, :])[:, 0]

    net, tx = Net(), optax.adam(1e-3)
    xt, yt, xv, yv = (jnp.asarray(a[0]) for a in arrays)
    n = xt.shape[0]
    spe = n // batch

    def epoch(params, opt_state, key, rate):
        perm = jax.random.permutation(key, n)

        def step(carry, b):
            params, opt_state = carry
            idx = jax.lax.dynamic_slice(perm, (b * batch,), (batch,))

            def loss(p):
                return jnp.mean((net.apply(p, xt[idx], jax.random.fold_in(key, b), rate) - yt[idx]) ** 2)

            value, grads = jax.value_and_grad(loss)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(spe))
        return params, opt_state, jnp.mean((net.apply(params, xv) - yv) ** 2), losses.sum()

    params = net.init(jax.random.key(0), xt[:2])
    args = (params, tx.init(params), jax.random.key(1), rate)
    return (lambda: jax.jit(epoch).lower(*args).compile()), args


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default=None, help="comma-separated HxLxB (default: the five of the table)")
    p.add_argument("--quick", action="store_true", help="only 16x1x128 (a smoke test)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    configs = (
        [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
        if args.configs
        else [(16, 1, 128)]
        if args.quick
        else CONFIGS
    )
    load = wait_for_quiet()

    import jax

    from hbjax.lstm.engine import FoldArrays, LSTMEngine

    jax.config.update("jax_compilation_cache_dir", None)  # every compile paid
    fw = first_fold_task(1).fold_windows(20)
    arrays = FoldArrays(fw.x_train, fw.y_train, fw.x_val, fw.y_val)
    n_train, n_val, n_features = fw.x_train.shape[1], fw.x_val.shape[1], fw.x_train.shape[2]
    use_torch = not args.no_torch and torch_version() is not None
    torch_loop = (
        TorchLoop(fw.x_train[0], fw.y_train[0], fw.x_val[0], fw.y_val[0], threads=2, flush_denormal=True)
        if use_torch
        else None
    )
    info = machine_info()
    print(
        f"{info['device']} ({info['processor']}, {info['cpu_count']} CPUs), jax {info['jax']}, torch {info['torch']}; "
        f"load {load['load_average_at_start']}; {n_train} train / {n_val} val windows",
        flush=True,
    )
    rows = []
    for hidden, layers, batch in configs:
        cfg = {
            "hidden": hidden,
            "layers": layers,
            "batch_size": batch,
            "lr": 1e-3,
            "dropout": 0.2,
            "activation": "tanh",
            "optimizer": "adam",
        }
        steps = n_train // batch
        flops = lstm_flops(hidden, layers, batch, 20, n_features, steps, n_val)
        eng = LSTMEngine(lambda w: arrays, seed=0, activations=("tanh",), plan="exact", devices=jax.devices()[:1])
        cold = _timed(lambda: eng.train([0], [cfg], 1.0, [0.0]))
        engine_compile = eng.compile_seconds
        engine_warm = min(_timed(lambda i=i: eng.train([i], [cfg], 1.0, [0.0])) for i in range(1, 4))
        flax_compile, flax_warm = plain_flax_epoch(arrays, hidden, layers, batch)
        torch_warm = None if torch_loop is None else torch_epoch(torch_loop, cfg)
        shapes = {"recurrent": (batch, hidden, 4 * hidden), "input_projection": (batch * 20, hidden, 4 * hidden)}
        dots = {
            name: {
                "jnp_dot_gflops": dot_rate_jax(*s) / 1e9,
                "torch_mm_gflops": dot_rate_torch(*s) / 1e9 if use_torch else None,
            }
            for name, s in shapes.items()
        }
        row = {
            "hidden": hidden,
            "layers": layers,
            "batch_size": batch,
            "steps_per_epoch": steps,
            "matmul_gflop_per_epoch": flops / 1e9,
            "hbjax": {
                "compile_s": engine_compile,
                "cold_epoch_s": cold,
                "warm_epoch_s": engine_warm,
                "gflops": flops / engine_warm / 1e9,
            },
            "plain_flax": {"compile_s": flax_compile, "warm_epoch_s": flax_warm, "gflops": flops / flax_warm / 1e9},
            "torch": None if torch_warm is None else {"warm_epoch_s": torch_warm, "gflops": flops / torch_warm / 1e9},
            "hbjax_over_plain_flax_epoch": flax_warm / engine_warm,
            "hbjax_over_plain_flax_compile": flax_compile / engine_compile,
            "hbjax_over_torch_epoch": None if torch_warm is None else torch_warm / engine_warm,
            "dot_at_shapes": {name: dict(shape=list(shapes[name]), **d) for name, d in dots.items()},
        }
        rows.append(row)
        print(
            f"{hidden:4d}x{layers} b{batch:<4d} epoch: hbjax {engine_warm:6.3f} s ({row['hbjax']['gflops']:5.1f} GFLOP/s), "
            f"flax {flax_warm:6.3f} s, torch {torch_warm if torch_warm is None else round(torch_warm, 3)} s | "
            f"compile: hbjax {engine_compile:5.2f} s, flax {flax_compile:5.2f} s | dot at [B,H]x[H,4H] "
            f"{dots['recurrent']['jnp_dot_gflops']:.0f} GFLOP/s (torch {dots['recurrent']['torch_mm_gflops'] or 0:.0f})",
            flush=True,
        )
    out = args.out or RESULTS / f"lstm_program_{info['device'].split(':')[0]}.json"
    write_json(
        out,
        {
            "benchmark": "lstm_program",
            "machine": info,
            **load,
            "load_average_at_end": load_average(),
            "settings": {
                "train_windows": n_train,
                "val_windows": n_val,
                "window": 20,
                "folds": 1,
                "dropout": 0.2,
                "optimizer": "adam",
                "activation": "tanh",
                "torch": "2 threads, flush_denormal=True" if use_torch else "skipped",
                "warm": "best of 3",
                "compile_cache": "off",
            },
            "configs": rows,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
