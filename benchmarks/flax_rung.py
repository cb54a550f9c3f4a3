"""A user's model on the engine: a rung of 27 digits-CNN configs (``examples/digits_cnn.py``:
mixed widths, depths, batch sizes, learning rates and weight decays), 3 epochs each.

Three ways to train the same 27 configs for the same optimizer steps, in one process, back to
back: hbjax's ``FlaxBackend`` as one rung (one plan: programs per shape, configs of a shape one
after another on CPU, shapes spread over the host devices longest first); the same code one
config at a time (one ``engine.train`` call per config, as a loop over configs would); and a
plain PyTorch loop of the same CNN, AdamW, batch size and steps (2 threads, flush-denormal on).
Each hbjax way runs cold (fresh engine, compile cache off: every program compiled) and then warm
(the same configs again under new ids, programs compiled). Accuracy is reported beside, to show
the three train comparable models; it is not the point.

    python benchmarks/flax_rung.py
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, machine_info, wait_for_quiet, write_json  # noqa: E402

EPOCHS = 3.0


def torch_rung(configs, data, *, threads: int = 2, seed: int = 0) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    x_tr, y_tr, x_val, y_val = (torch.from_numpy(np.asarray(a)) for a in data)
    x_tr, x_val = x_tr.permute(0, 3, 1, 2).contiguous(), x_val.permute(0, 3, 1, 2).contiguous()
    y_tr, y_val = y_tr.long(), y_val.long()
    accuracies, t0 = [], time.perf_counter()
    for i, c in enumerate(configs):
        torch.manual_seed(seed + i)
        layers, channels = [], 1
        for _ in range(int(c["depth"])):
            layers += [torch.nn.Conv2d(channels, int(c["width"]), 3, padding=1), torch.nn.ReLU()]
            channels = int(c["width"])
        body, head = torch.nn.Sequential(*layers, torch.nn.Flatten()), torch.nn.Linear(channels * 64, 10)
        params = list(body.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=c["lr"], weight_decay=c["wd"])
        b = int(c["batch_size"])
        spe = len(x_tr) // b
        steps = int(np.floor(EPOCHS * spe + 0.5))
        g = torch.Generator().manual_seed(seed + i)
        for s in range(steps):
            if s % spe == 0:
                perm = torch.randperm(len(x_tr), generator=g)
            idx = perm[(s % spe) * b : (s % spe + 1) * b]
            logits = head(body(x_tr[idx]))
            loss = torch.nn.functional.cross_entropy(logits, y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            accuracies.append(float((head(body(x_val)).argmax(-1) == y_val).float().mean()))
    return {
        "wall_s": time.perf_counter() - t0,
        "mean_val_accuracy": float(np.mean(accuracies)),
        "threads": threads,
        "flush_denormal": True,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", type=int, default=27)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--devices", type=int, default=None, help="XLA host devices (default: one per core)")
    args = p.parse_args(argv)
    load = wait_for_quiet()
    n_devices = args.devices or os.cpu_count() or 1
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
    ).strip()
    os.environ["HBJAX_NO_COMPILE_CACHE"] = "1"  # cold means cold

    import hbjax as hb

    spec = runpy.run_path(str(HERE.parent / "examples" / "digits_cnn.py"))["spec"]()
    space = spec.pop("space")
    configs = space.sample_configs(np.random.default_rng(args.seed), args.configs)

    def fresh():
        backend = hb.FlaxBackend(**spec, seed=args.seed, compilation_cache=False)
        backend.validate_space(space)
        return backend.engine

    out = {}
    n = len(configs)
    engine = fresh()
    for phase, ids in (("cold", list(range(n))), ("warm", list(range(n, 2 * n)))):
        t0 = time.perf_counter()
        val, _ = engine.train(ids, configs, EPOCHS, [0.0] * n)
        out[f"rung_{phase}"] = {
            "wall_s": time.perf_counter() - t0,
            "mean_val_accuracy": float(np.mean(-val)),
            "programs": engine.rung_stats[-1]["programs"],
            "calls": engine.rung_stats[-1]["calls"],
            "compiles": engine.rung_stats[-1]["compiles"],
        }
        print(f"hbjax rung ({phase}): {out[f'rung_{phase}']}", flush=True)
    rung_val = val
    engine = fresh()
    for phase, base in (("cold", 0), ("warm", n)):
        t0 = time.perf_counter()
        alone = [engine.train([base + i], [c], EPOCHS, [0.0])[0][0] for i, c in enumerate(configs)]
        out[f"one_at_a_time_{phase}"] = {
            "wall_s": time.perf_counter() - t0,
            "mean_val_accuracy": float(np.mean(-np.asarray(alone))),
            "compiles": engine.compiles,
        }
        print(f"hbjax one at a time ({phase}): {out[f'one_at_a_time_{phase}']}", flush=True)
    same = bool(np.array_equal(np.asarray(alone), rung_val))
    if not args.no_torch:
        out["pytorch"] = torch_rung(configs, spec["data"], seed=args.seed)
        print(f"pytorch loop: {out['pytorch']}", flush=True)
    steps = sum(int(np.floor(EPOCHS * (len(spec["data"][0]) // int(c["batch_size"])) + 0.5)) for c in configs)
    ratios = {
        "one_at_a_time_over_rung_cold": out["one_at_a_time_cold"]["wall_s"] / out["rung_cold"]["wall_s"],
        "one_at_a_time_over_rung_warm": out["one_at_a_time_warm"]["wall_s"] / out["rung_warm"]["wall_s"],
    }
    if "pytorch" in out:
        ratios["pytorch_over_rung_cold"] = out["pytorch"]["wall_s"] / out["rung_cold"]["wall_s"]
        ratios["pytorch_over_rung_warm"] = out["pytorch"]["wall_s"] / out["rung_warm"]["wall_s"]
    import jax

    summary = {
        "benchmark": "flax_rung",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(),
        **load,
        "device": f"{jax.devices()[0].platform} x{len(jax.devices())}",
        "task": f"digits CNN (examples/digits_cnn.py), {n} configs drawn from its space (seed {args.seed}), "
        f"{EPOCHS:g} epochs each, {len(spec['data'][0])} training / {len(spec['data'][2])} validation images",
        "configs": "the same configs in every way (listed below); ratios > 1: the rung is faster",
        "optimizer_steps": steps,
        "results": out,
        "ratios": ratios,
        "rung_equals_one_at_a_time_bit_for_bit": same,
        "config_list": configs,
        "load_average_at_end": wait_for_quiet()["load_average_at_start"],
    }
    path = write_json(RESULTS / f"flax_rung_{jax.devices()[0].platform}.json", summary)
    print(f"ratios: {ratios}; identical: {same}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
