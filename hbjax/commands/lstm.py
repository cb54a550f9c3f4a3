"""``hbjax demo | run | plan``: Hyperband over LSTMs on a series, with checkpoints, a progress
bar, and the best config's skill against persistence on held-out days."""
from __future__ import annotations

import logging
import math
from pathlib import Path

from .common import (UsageError, _baseline_skills, _skill, _space, _task, _write_json, apply_resume, compile_wait,
                     programs_detail)
from .progress import RungProgress

log = logging.getLogger("hbjax")


def _verdict_vs_persistence(test: dict) -> str:
    """What the held-out test days say, no more: better or worse only when the Diebold-Mariano
    test says the difference is more than noise (p < 0.05)."""
    skill, p = test["test_skill"], test.get("vs_persistence_p", float("nan"))
    if not math.isfinite(skill):
        return f"[bold]no test score: {test['invalid_reason']}[/]"
    if math.isfinite(p) and p < 0.05:
        return (f"the LSTM beats persistence (Diebold-Mariano p={p:.2g})" if skill > 0 else
                f"[bold]the LSTM is worse than persistence[/] (Diebold-Mariano p={p:.2g})")
    return f"[bold]no significant difference from persistence[/] (Diebold-Mariano p={p:.2g})"


RESUMABLE = ("data", "max_resource", "eta", "seed", "hyperband_iterations", "space", "window", "folds",
             "train_size", "val_size", "test_size", "target", "configs_per_program", "plan", "precision", "waves",
             "repeats")


def run_lstm(args, console) -> int:
    import hbjax as hb
    from ..checkpoint import read_run_meta, run_with_checkpoints
    from ..lstm.backend import LSTMBackend
    from ..spacefile import check_for_lstm, space_to_dict

    if getattr(args, "model", None) or (args.resume and read_run_meta(args.resume).get("model")):
        from .model import run_model

        return run_model(args, console)
    if getattr(args, "verify_sharing", 0):
        raise UsageError("--verify-sharing checks the programs a --model run shares; the LSTM's sharing is by "
                         "construction (tested in tests/test_lstm_engine.py)")
    cost = apply_resume(args, RESUMABLE)
    space = _space(args.space)  # validate the cheap things before loading data
    search = hb.Hyperband(space, max_resource=args.max_resource, eta=args.eta, seed=args.seed,
                          hyperband_iterations=args.hyperband_iterations, waves=getattr(args, "waves", True))
    task = _task(args)
    check_for_lstm(space, train_size=task.train_size, window=args.window,
                   source=args.space if isinstance(args.space, str) else "the saved run")
    backend = LSTMBackend(task, seed=args.seed, window=args.window, configs_per_program=args.configs_per_program,
                          plan=args.plan, cost=cost, precision=getattr(args, "precision", "highest"))
    backend.validate_space(space)
    if getattr(args, "repeats", 1) > 1:  # every config's seeds side by side in the same programs
        backend = hb.Repeats(backend, args.repeats)
    out = Path(args.out)

    import jax

    if args.command == "plan" or getattr(args, "dry_run", False):
        return preview(args, search, task, backend, console)

    console.print(f"[bold]hbjax[/] Hyperband over LSTMs on {args.data} ({jax.default_backend()}, "
                  f"{len(jax.devices())} device(s))" + (f", resuming {out}" if args.resume else ""))
    console.print(task.describe())
    console.print(f"space: {space}")
    console.print(search.describe())
    baselines = task.baselines(args.window)
    console.print("loss = validation MSE / persistence's (tomorrow = today), mean over folds: 1 is persistence; "
                  "skill = 1 - loss, > 0 beats it")
    console.print(f"baselines' validation skill: persistence +0, {_baseline_skills(baselines, 'val', '_target')}")

    trials_csv = out / "trials.csv"

    progress = RungProgress(search.plan, args.hyperband_iterations, console, quiet=args.quiet,
                            detail=programs_detail(backend))
    meta = {key: getattr(args, key) for key in RESUMABLE}
    meta["space"] = space_to_dict(space)  # the space itself: a resume must not depend on a file
    meta["cost_constants"] = backend.engine.cost.to_dict()  # calibrated or default: a resume plans the same
    with progress:  # checkpoints (state, survivors' weights, trials.csv) after every rung
        result = run_with_checkpoints(search, backend, out, meta=meta, callbacks=[progress.update],
                                      resume=bool(args.resume), overwrite=args.overwrite)
    console.print(result.summary())  # trials.csv was written with the last checkpoint
    # epochs each config trained, summed (survivors continue), every seed counted
    config_epochs = result.resource_spent * getattr(backend, "repeats", 1)
    n_folds = len(task.folds)
    engine = backend.engine
    compiles, waits = compile_wait(engine, result.seconds)
    console.print(f"{config_epochs:g} config-epochs on {n_folds} fold(s) in {result.seconds:.1f} s = "
                  f"{config_epochs / max(result.seconds, 1e-9):.2f} config-epochs/s; {compiles}")
    if result.best_config is None:
        console.print("[red]every configuration diverged[/]")
        return 1
    best_val_skill = 1.0 - result.best_loss
    console.print(f"[bold]best validation skill {_skill(best_val_skill)}[/] (persistence +0, "
                  f"{_baseline_skills(baselines, 'val', '_target')})")
    test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)
    unit = test["unit"]
    verdict = _verdict_vs_persistence(test)
    console.print(
        f"held-out test ({task.test_size} days) of the best config retrained on the {task.train_size + task.val_size} "
        f"days before it: [bold]skill {_skill(test['test_skill'])}[/] (MSE {test['test_mse_price']:.5g} {unit}^2 vs "
        f"persistence {test['persistence_test_mse_price']:.5g}); {_baseline_skills(baselines, 'test')} -> {verdict}")
    _write_json(out / "summary.json", {
        "best_config": result.best_config, "best_val_loss": result.best_loss, "best_val_skill": best_val_skill,
        "best_resource": result.best_resource,
        "compiles": backend.compiles, "seconds": result.seconds, "config_epochs": config_epochs,
        "folds": n_folds, "fold_epochs": config_epochs * n_folds,
        "baselines": baselines, "test": test, "max_resource": args.max_resource, "eta": args.eta, "seed": args.seed,
        "cost_constants": engine.cost.to_dict(),
        # per program (width included): the memory estimate beside XLA's memory_analysis()
        "program_memory": [{"program": p.describe(), **m} for p, m in engine.program_memory.items()],
        **waits,
    })
    console.print(f"trials: {trials_csv}; summary: {out / 'summary.json'}")
    return 0


def preview(args, search, task, backend, console) -> int:
    """``hbjax plan`` / ``run --dry-run``: brackets, programs and estimated cost; nothing trained."""
    import jax

    from ..lstm.preview import format_preview, preview_run

    console.print(f"[bold]hbjax plan[/] for {args.data} ({jax.default_backend()}, {len(jax.devices())} device(s), "
                  f"plan {backend.engine.plan}): nothing is trained; cost constants: {backend.engine.cost.source}")
    console.print(task.describe())
    console.print(search.describe())
    rows = preview_run(search, backend, seed=args.seed)
    console.print(format_preview(rows, device_kind=backend.engine.device_kind, n_devices=backend.engine.n_devices,
                                 memory_bytes=backend.engine.memory_limit_bytes, folds=len(task.folds),
                                 cost=backend.engine.cost))
    console.print("(which configs survive is drawn at random here; the programs of later rungs depend on it)")
    return 0
