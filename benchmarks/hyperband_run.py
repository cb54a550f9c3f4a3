"""One whole Hyperband run of hbjax on the NVDA task, then the same work replayed with PyTorch.

Default: max_resource R=27 epochs, eta=3, seed 0, on the FIRST walk-forward fold (3000 train /
500 val rows, window 20) over layers 1..3, units {16,32,64,128,256}, batch {32,64,128},
lr log-uniform 1e-4..1e-1, dropout 0.1..0.5, tanh, Adam. ``--quick``: R=9 (17 configs, 69
config-epochs). ``--full``: R=100 on all 5 folds.

hbjax runs twice from an empty compile cache, bracket after bracket (``waves=False``) and in
waves (every ready rung of every bracket planned as one; the default), then in waves again with
the compiles the waves run wrote to a temporary persistent cache (warm: a second run on the
machine); the three trials tables are compared bit for bit. Then every config is retrained in
the same process, one by one, by a plain PyTorch loop (torch.nn.LSTM, Adam, same batch size, the same optimizer steps to each
rung's epochs as hbjax ran, validation at each rung), so both sides do the same matmul work:
once with ``torch.set_flush_denormal(True)`` and once with PyTorch's default (False).

Reports wall time, config-epochs (per fold, times folds), config-epochs/s, compile time and
share, programs and calls per plan (``engine.rung_stats``), busy time (process CPU time / cores x
wall, and the plan's device balance), best validation MSE, the persistence baseline, hbjax vs
PyTorch speed-ups, achieved FLOP/s, beside peer tools measured earlier on the same machine kind.

    python benchmarks/hyperband_run.py --quick
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


from _common import (
    RESULTS,
    CompileClock,
    TorchLoop,
    device_name,
    first_fold_task,
    lstm_flops,
    machine_info,
    matmul_flops_per_s,
    torch_version,
    wait_for_quiet,
    write_json,
)

#: Measured earlier on this project's 2-core CPU machine kind, same task (first fold, R=27, eta=3).
PEERS = [
    {
        "tool": "keras-tuner 1.4.8 Hyperband (TF 2.21 CPU)",
        "config_epochs": 375,
        "seconds": 1600,
        "config_epochs_per_s": 0.23,
        "best_val_mse": 0.0027,
    },
    {
        "tool": "Optuna 5.0 TPE + HyperbandPruner (PyTorch LSTM)",
        "config_epochs": 387,
        "seconds": 540,
        "config_epochs_per_s": 0.72,
        "best_val_mse": 0.0026,
    },
]
PEER_PERSISTENCE = 0.00256


def space():
    from hbjax import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform

    return Space(
        lr=LogUniform(1e-4, 1e-1),
        hidden=IntChoice([16, 32, 64, 128, 256]),
        layers=IntUniform(1, 3),
        dropout=Uniform(0.1, 0.5),
        activation=Choice(["tanh"]),
        optimizer=Choice(["adam"]),
        batch_size=IntChoice([32, 64, 128]),
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="R=9 (17 configs): a few minutes on 2 CPU cores")
    mode.add_argument("--full", action="store_true", help="R=100 on all 5 walk-forward folds")
    p.add_argument("--max-resource", type=float, default=None)
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--folds", type=int, default=None, help="first k walk-forward folds (default 1; --full 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch replay")
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument(
        "--naive-torch-cap-s",
        type=float,
        default=600.0,
        help="stop the PyTorch replay without flush-denormal after this long and estimate its total from "
        "its slowdown over the flush-denormal loop on the configs it replayed (0: no cap)",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        help="XLA host devices on CPU (default: one per core, as the hbjax CLI does)",
    )
    p.add_argument("--plan", choices=["auto", "exact", "wide"], default="auto")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-min load average to drop below 1.0",
    )
    args = p.parse_args(argv)
    R = args.max_resource or (9 if args.quick else 100 if args.full else 27)
    n_folds = args.folds or (5 if args.full else 1)
    variant = "quick" if args.quick else "full" if args.full else "default"
    load = wait_for_quiet(max_wait_s=args.wait_quiet)
    n_devices = args.devices or os.cpu_count() or 1
    if "jax" not in sys.modules:  # before JAX starts: one XLA host device per core (no effect on GPU)
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
        ).strip()

    import hbjax as hb
    from hbjax.lstm.backend import LSTMBackend
    from hbjax.lstm.engine import steps_for

    task = first_fold_task(n_folds)
    info = machine_info()
    search = hb.Hyperband(space(), max_resource=R, eta=args.eta, seed=args.seed)  # for its description
    print(
        f"device {info['device']} ({info['processor']}, {info['cpu_count']} CPUs), jax {info['jax']}, "
        f"flax {info['flax']}, torch {info['torch']}; load average {load['load_average_at_start']}",
        flush=True,
    )
    print(task.describe().splitlines()[0] + f"\n  first {len(task.folds)} walk-forward fold(s)", flush=True)
    print(search.describe(), flush=True)
    baselines = task.baselines(20)
    print(
        f"persistence val MSE {baselines['persistence_val_mse']:.5g}, ridge {baselines['ridge_val_mse']:.5g}",
        flush=True,
    )
    fw = task.fold_windows(20)
    persistence_mse = np.asarray(fw.persistence_mse, dtype=np.float64)
    n_train, n_val = fw.x_train.shape[1], fw.x_val.shape[1]

    peak = matmul_flops_per_s()["1024x1024x1024"]
    # A first run on a fresh machine pays every compile, and we measure that: sequential with the
    # cache off, then waves (a fresh engine) writing its compiles to an empty persistent cache in a
    # temporary folder; a third run, waves again, reads them back: the warm figure a second run shows.
    import jax
    from jax._src import compilation_cache  # reset_cache: no public way to point a running process at a new cache

    runs = {}
    with tempfile.TemporaryDirectory(prefix="hbjax-bench-cache-") as cache_dir:
        for mode in ("sequential", "waves", "waves_warm"):
            print(f"\n--- hbjax, {mode} ---", flush=True)
            if mode == "waves":
                jax.config.update("jax_compilation_cache_dir", cache_dir)
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
                compilation_cache.reset_cache()  # JAX reads the folder once per process: again, now that it is set
            runs[mode] = run_hbjax(
                search_kw=dict(max_resource=R, eta=args.eta, seed=args.seed),
                waves=mode != "sequential",
                task=task,
                args=args,
                n_folds=n_folds,
                n_devices=n_devices,
                persistence_mse=persistence_mse,
                fw=fw,
                LSTMBackend=LSTMBackend,
                hb=hb,
                steps_for=steps_for,
            )
        jax.config.update("jax_compilation_cache_dir", None)
        compilation_cache.reset_cache()
    seq, wav, warm = runs["sequential"], runs["waves"], runs["waves_warm"]
    cols = ["config_id", "iteration", "bracket", "rung", "resource", "loss", "promoted"]
    identical = bool(seq["frame"][cols].equals(wav["frame"][cols]) and wav["frame"][cols].equals(warm["frame"][cols]))
    comparison = {
        "wall_ratio_waves_over_sequential": wav["summary"]["wall_s"] / seq["summary"]["wall_s"],
        "wall_ratio_cold_over_warm_waves": wav["summary"]["wall_s"] / warm["summary"]["wall_s"],
        "trials_identical_bit_for_bit": identical,
        "target_wall_ratio_at_most": 0.8,
    }
    print(
        f"\nwaves / sequential wall: {comparison['wall_ratio_waves_over_sequential']:.3f} (target <= 0.8); "
        f"trials identical: {identical}",
        flush=True,
    )

    result, reached, flops = seq["result"], seq["reached"], seq["summary"]["matmul_flops"]
    configs = result.state.configs
    config_epochs = seq["summary"]["config_epochs"]
    torch_runs, torch_note = {}, None
    if args.no_torch:
        torch_note = "skipped (--no-torch)"
    elif torch_version() is None:
        torch_note = "skipped: torch not installed (pip install torch, or the 'bench' extra)"
    else:
        per_config: dict[str, dict] = {}
        for flush in (True, False):
            name = "flush_denormal" if flush else "default"
            cap = None if flush or not args.naive_torch_cap_s else args.naive_torch_cap_s
            print(
                f"replaying the {len(reached)} configs one by one with PyTorch ({args.torch_threads} threads, "
                f"set_flush_denormal({flush}))" + (f", at most {cap:g} s" if cap else "") + "...",
                flush=True,
            )
            best_t = math.inf
            times = per_config[name] = {}
            t0 = time.perf_counter()
            for k in range(n_folds):
                loop = TorchLoop(
                    fw.x_train[k],
                    fw.y_train[k],
                    fw.x_val[k],
                    fw.y_val[k],
                    threads=args.torch_threads,
                    flush_denormal=flush,
                )
                for cid, rs in sorted(reached.items()):
                    if cap is not None and time.perf_counter() - t0 > cap:
                        break
                    t_c = time.perf_counter()
                    vals = loop.train(configs[cid], rs, seed=cid)
                    times[(k, cid)] = time.perf_counter() - t_c
                    best_t = min([best_t] + [v for v in vals if math.isfinite(v)])
            t_torch = time.perf_counter() - t0
            done = len(times) == n_folds * len(reached)
            if not done:  # capped: the replayed configs' time beside the flush-denormal loop's on the same
                same = sum(per_config["flush_denormal"][key] for key in times)
                ratio = sum(times.values()) / same
                t_torch_full = sum(per_config["flush_denormal"].values()) * ratio
            else:
                ratio, t_torch_full = None, t_torch
            torch_runs[name] = {
                "flush_denormal": flush,
                "wall_s": t_torch_full,
                "measured_s": t_torch,
                "configs_replayed": len(times),
                "configs": n_folds * len(reached),
                "complete": done,
                "slowdown_vs_flush_on_the_replayed_configs": ratio,
                "wall_note": None
                if done
                else (
                    "capped: the wall is the flush-denormal loop's total times the "
                    "slowdown measured on the configs replayed (same configs, same order)"
                ),
                "config_epochs": config_epochs,
                "config_epochs_per_s": config_epochs / t_torch_full,
                "threads": args.torch_threads,
                "best_val_mse": best_t if done else None,
                "flops_per_s": flops / t_torch_full,
                "speedup_hbjax_sequential_over_torch": t_torch_full / seq["summary"]["wall_s"],
                "speedup_hbjax_waves_over_torch": t_torch_full / wav["summary"]["wall_s"],
                "speedup_hbjax_waves_warm_over_torch": t_torch_full / warm["summary"]["wall_s"],
            }
            print(
                f"PyTorch ({name}): {t_torch_full:.1f} s"
                + (
                    ""
                    if done
                    else f" (estimated: {len(times)} configs "
                    f"replayed in {t_torch:.0f} s, {ratio:.2f}x the flush-denormal loop on them)"
                )
                + f"; hbjax waves x{t_torch_full / wav['summary']['wall_s']:.2f} cold, "
                f"x{t_torch_full / warm['summary']['wall_s']:.2f} warm, sequential "
                f"x{t_torch_full / seq['summary']['wall_s']:.2f}",
                flush=True,
            )
            write(
                args,
                variant,
                info,
                load,
                R,
                n_folds,
                n_train,
                n_val,
                n_devices,
                baselines,
                runs,
                comparison,
                torch_runs,
                torch_note,
                peak,
            )  # after each stage: a long replay never loses the rest
    if torch_note:
        print(f"PyTorch replay {torch_note}")
    print_table(
        seq["summary"],
        wav["summary"],
        warm["summary"],
        torch_runs,
        baselines["persistence_val_mse"],
        R,
        args.eta,
        n_folds,
    )
    out = write(
        args,
        variant,
        info,
        load,
        R,
        n_folds,
        n_train,
        n_val,
        n_devices,
        baselines,
        runs,
        comparison,
        torch_runs,
        torch_note,
        peak,
    )
    print(f"wrote {out}")
    return 0


def run_hbjax(*, search_kw, waves, task, args, n_folds, n_devices, persistence_mse, fw, LSTMBackend, hb, steps_for):
    """One whole run from an empty compile cache: its summary, per-rung rows, trials and work."""
    import resource as rusage

    n_train, n_val, n_features = fw.x_train.shape[1], fw.x_val.shape[1], fw.x_train.shape[-1]
    backend = LSTMBackend(task, seed=args.seed, window=20, compilation_cache=False, plan=args.plan)
    backend.validate_space(space())
    search = hb.Hyperband(space(), waves=waves, **search_kw)
    jobs = []

    def on_rung(job, losses, state, seconds):
        finite = [x for x in losses if math.isfinite(x)]
        stats = backend.wave_stats
        jobs.append(
            {
                "iteration": job.iteration,
                "bracket": job.bracket,
                "rung": job.rung,
                "wave": stats["wave"] if waves else None,
                "n_configs": len(job.config_ids),
                "resource": job.resource,
                "seconds": seconds,
                "config_epochs": sum(job.resource - r for r in job.previous_resource) * n_folds,
                "best": min(finite) if finite else None,
            }
        )
        print(
            f"  {'wave ' + str(jobs[-1]['wave']) + ' ' if waves else ''}bracket s={job.bracket} rung {job.rung}: "
            f"{len(job.config_ids):2d} configs -> {job.resource:6.3g} epochs, {seconds:6.1f} s"
            f"{' (share)' if waves else ''}, plan: {stats['programs']} programs, {stats['calls']} calls",
            flush=True,
        )

    usage0 = rusage.getrusage(rusage.RUSAGE_SELF)
    with CompileClock() as clock:
        t0 = time.perf_counter()
        result = search.run(backend, callbacks=[on_rung])
        wall = time.perf_counter() - t0
    usage1 = rusage.getrusage(rusage.RUSAGE_SELF)
    cpu_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    stats = backend.engine.rung_stats  # one per plan: a rung, or a wave
    planned_busy = sum(sum(st["device_estimated_s"]) for st in stats)
    planned_span = sum(max(st["device_estimated_s"], default=0.0) for st in stats)
    config_epochs = result.resource_spent * n_folds
    compile_s = backend.engine.compile_seconds

    reached: dict[int, list[float]] = {}
    for o in result.state.history:
        reached.setdefault(o.config_id, []).append(o.resource)
    configs = result.state.configs
    flops = 0.0
    for cid, rs in reached.items():
        c = configs[cid]
        b = int(c["batch_size"])
        flops += lstm_flops(c["hidden"], c["layers"], b, 20, n_features, steps_for(max(rs), n_train // b), 0)
        flops += sum(lstm_flops(c["hidden"], c["layers"], b, 20, n_features, 0, n_val) for _ in rs)
    flops *= n_folds
    peak = matmul_flops_per_s()["1024x1024x1024"]
    best_val_mse = result.best_loss * float(persistence_mse[0]) if len(persistence_mse) == 1 else float("nan")
    summary = {
        "waves": waves,
        "wall_s": wall,
        "config_epochs": config_epochs,
        "config_epochs_per_s": config_epochs / wall,
        "compile_s": compile_s,
        "compile_share": compile_s / wall,
        "compile_cpu_s": backend.engine.compile_cpu_seconds,
        "compile_wait_s": sum(st["compile_wait_s"] for st in stats),
        "compile_idle_s": sum(st.get("compile_idle_s", 0.0) for st in stats),
        "compile_s_jax_events_all": clock.total,
        "xla_backend_compiles": clock.backend_compiles,
        "train_program_compiles": backend.compiles,
        "plans": len(stats),
        "programs_per_plan": [st["programs"] for st in stats],
        "calls_per_plan": [st["calls"] for st in stats],
        "plan_seconds": [st["seconds"] for st in stats],
        # busy time: the process's CPU time over every core's wall (compile threads included), and
        # the plan's own balance (cost-model seconds summed over devices / devices x busiest device)
        "cpu_busy_fraction": cpu_s / ((os.cpu_count() or 1) * wall),
        "cpu_seconds": cpu_s,
        "planned_device_busy_fraction": planned_busy / max(n_devices * planned_span, 1e-12),
        "best_val_loss": result.best_loss,
        "best_val_mse": best_val_mse,
        "best_config": result.best_config,
        "best_resource": result.best_resource,
        "n_configs": len(configs),
        "n_rungs": len(jobs),
        "matmul_flops": flops,
        "flops_per_s": flops / wall,
        "fraction_of_matmul_peak": flops / wall / peak,
    }
    print(
        f"hbjax {'waves' if waves else 'sequential'}: {config_epochs:g} config-epochs in {wall:.1f} s = "
        f"{config_epochs / wall:.3f} config-epochs/s; {len(stats)} plans, {backend.compiles} programs compiled "
        f"({compile_s:.1f} s beside training, devices idle {summary['compile_idle_s']:.1f} s for them); CPU busy "
        f"{100 * summary['cpu_busy_fraction']:.0f}%, planned device balance "
        f"{100 * summary['planned_device_busy_fraction']:.0f}%; best val MSE {best_val_mse:.5g}",
        flush=True,
    )
    return {"summary": summary, "rungs": jobs, "result": result, "reached": reached, "frame": result.to_frame()}


def write(
    args,
    variant,
    info,
    load,
    R,
    n_folds,
    n_train,
    n_val,
    n_devices,
    baselines,
    runs,
    comparison,
    torch_runs,
    torch_note,
    peak,
) -> Path:
    out = args.out or RESULTS / f"hyperband_run_{device_name()}_{variant}.json"
    write_json(
        out,
        {
            "benchmark": "hyperband_run",
            "variant": variant,
            "created": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": info,
            **load,
            "load_average_at_end": wait_for_quiet()["load_average_at_start"],
            "settings": {
                "max_resource": R,
                "eta": args.eta,
                "seed": args.seed,
                "folds": n_folds,
                "folds_note": "the FIRST walk-forward folds (train 3000 / val 500 rows)",
                "window": 20,
                "train_windows": n_train,
                "val_windows": n_val,
                "space": repr(space()),
                "jax_compilation_cache": "sequential: off; waves: an empty persistent cache in a temporary "
                "folder (every compile paid, and written); waves_warm: that cache "
                "read back (the second run on a machine)",
                "torch_threads": args.torch_threads,
                "plan": args.plan,
                "xla_host_devices": n_devices,
                "order": "hbjax sequential, hbjax waves (cold), hbjax waves (warm), PyTorch flush-denormal, "
                "PyTorch default",
                "same_configs": "the three hbjax runs and both PyTorch replays train the same configs to the same "
                "resources (same seed); figures compare only within this file",
                "compile_s": "wall time of the compile threads (they share the cores with training)",
                "compile_wait_s": "time the dispatch waited for a compile (also while the devices had work)",
                "compile_idle_s": "time the devices sat idle waiting for a compile (mean over devices: "
                "training's wait; recorded from issue 28's stop on)",
                "config_epochs": "epochs trained per config (survivors continue), summed, times folds",
            },
            "hbjax_sequential": runs["sequential"]["summary"],
            "hbjax_waves": runs["waves"]["summary"],
            "hbjax_waves_warm": runs["waves_warm"]["summary"],
            "comparison": comparison,
            "torch_replay": torch_runs or None,
            "torch_note": torch_note,
            "persistence_val_mse": baselines["persistence_val_mse"],
            "ridge_val_mse": baselines["ridge_val_mse"],
            "rungs_sequential": runs["sequential"]["rungs"],
            "rungs_waves": runs["waves"]["rungs"],
            "matmul_peak_flops_per_s": peak,
            "peers_measured_earlier": {
                "note": "same machine kind (2-core CPU), first fold, R=27, eta=3; not rerun here",
                "tools": PEERS,
                "persistence_val_mse": PEER_PERSISTENCE,
            },
        },
    )
    return out


def print_table(seq, wav, warm, torch_runs, persistence, R, eta, n_folds) -> None:
    rows = [
        (
            f"hbjax sequential (R={R:g}, eta={eta}, {n_folds} fold(s))",
            seq["config_epochs"],
            seq["wall_s"],
            seq["config_epochs_per_s"],
            seq["best_val_mse"],
        ),
        (
            "hbjax waves (same configs)",
            wav["config_epochs"],
            wav["wall_s"],
            wav["config_epochs_per_s"],
            wav["best_val_mse"],
        ),
        (
            "hbjax waves, warm compile cache",
            warm["config_epochs"],
            warm["wall_s"],
            warm["config_epochs_per_s"],
            warm["best_val_mse"],
        ),
    ]
    for name, tr in torch_runs.items():
        rows.append(
            (
                f"PyTorch sequential replay, {name} ({tr['threads']} threads)",
                tr["config_epochs"],
                tr["wall_s"],
                tr["config_epochs_per_s"],
                tr["best_val_mse"],
            )
        )
    rows += [
        (f"{p['tool']} [earlier, R=27]", p["config_epochs"], p["seconds"], p["config_epochs_per_s"], p["best_val_mse"])
        for p in PEERS
    ]
    head = f"{'':66s} {'config-epochs':>13s} {'seconds':>8s} {'ce/s':>6s} {'best val MSE':>12s}"
    print("\n" + head + "\n" + "-" * len(head))
    for name, ce, s, rate, best in rows:
        best = "-" if best is None else f"{best:.5g}"  # a capped replay has no best of its own
        print(f"{name:66s} {ce:13.0f} {s:8.1f} {rate:6.3f} {best:>12s}")
    print(f"{'persistence (this task)':66s} {'':13s} {'':8s} {'':6s} {persistence:12.5g}")
    print(f"{'persistence (peers, earlier)':66s} {'':13s} {'':8s} {'':6s} {PEER_PERSISTENCE:12.5g}")


if __name__ == "__main__":
    sys.exit(main())
