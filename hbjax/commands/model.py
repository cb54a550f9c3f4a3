"""``hbjax run | plan | demo --model FILE.py:factory``: Hyperband over a user's flax model, with
the same checkpoints, progress, preview and trials table as the LSTM runs."""
from __future__ import annotations

from pathlib import Path

from .common import UsageError, _write_json, apply_resume, compile_wait, programs_detail

RESUMABLE = ("model", "max_resource", "eta", "seed", "hyperband_iterations", "space", "configs_per_program", "plan",
             "precision", "waves", "repeats", "verify_sharing")


def model_space(spec: dict, space_arg):
    """The space: an experiment file or a saved run's space when given, else the spec's."""
    from ..spacefile import is_space_file, load_experiment, space_from_dict

    if isinstance(space_arg, dict):
        return space_from_dict(space_arg, source="the saved run's space")
    if isinstance(space_arg, str) and is_space_file(space_arg):
        return load_experiment(space_arg).space
    if spec.get("space") is None:
        raise UsageError("the model spec has no 'space' and no experiment file was given with --space")
    return spec["space"]


def format_sharing(report: dict) -> str:
    """``FlaxBackend.sharing()`` as lines: per hyperparameter traced (in how many programs, how)
    or static."""
    lines = [f"sharing: {report['configs']} configs in {report['programs']} programs ({report['compiles']} compiled "
             f"so far); a hyperparameter is traced where configs of different values share a program"]
    for name, h in report["hyperparameters"].items():
        if h["traced_in"]:
            where = f"traced in {h['traced_in']} program(s)" + (f", static in {h['static_in']}" if h["static_in"] else "")
            lines.append(f"  {name}: {where} ({h['how']})")
        else:
            lines.append(f"  {name}: static ({h['values']} value(s), one per program)")
    verified = report.get("verified")
    if verified is not None:
        worst = max((r["max_relative_difference"] for r in verified), default=0.0)
        lines.append(f"  verified: {len(verified)} config(s) of shared programs trained again alone, largest "
                     f"difference {worst:.3g}")
    return "\n".join(lines)


def model_backend(spec: dict, *, seed: int, **engine):
    from ..flaxbackend import FlaxBackend
    from ..usermodel import MODEL_KEYS

    return FlaxBackend(**{k: spec[k] for k in MODEL_KEYS if k in spec}, seed=seed, **engine)


def run_model(args, console) -> int:
    import jax

    import hbjax as hb
    from ..checkpoint import run_with_checkpoints
    from ..spacefile import space_to_dict
    from ..usermodel import load_model_spec
    from .progress import RungProgress

    cost = apply_resume(args, RESUMABLE)
    spec = load_model_spec(args.model)
    space_arg = args.space if (isinstance(args.space, dict) or args.space not in ("demo", "default")) else None
    space = model_space(spec, space_arg)
    search = hb.Hyperband(space, max_resource=args.max_resource, eta=args.eta, seed=args.seed,
                          hyperband_iterations=args.hyperband_iterations, waves=getattr(args, "waves", True))
    verify = getattr(args, "verify_sharing", 0) or 0
    if verify < 0:
        raise UsageError(f"--verify-sharing must be >= 0, got {verify}")
    backend = model_backend(spec, seed=args.seed, configs_per_program=args.configs_per_program, plan=args.plan,
                            cost=cost, precision=getattr(args, "precision", "highest"), verify=verify)
    backend.validate_space(space)
    flax_backend = backend
    if getattr(args, "repeats", 1) > 1:
        backend = hb.Repeats(backend, args.repeats)
    maximise = spec.get("direction", "min") == "max"
    if args.command == "plan" or getattr(args, "dry_run", False):
        from ..lstm.preview import format_preview, preview_run

        engine = backend.engine
        console.print(f"[bold]hbjax plan[/] for {args.model} ({jax.default_backend()}, {len(jax.devices())} device(s), "
                      f"plan {engine.plan}): nothing is trained; cost constants: {engine.cost.source}")
        console.print(search.describe())
        rows = preview_run(search, backend, seed=args.seed)
        console.print(format_preview(rows, device_kind=engine.device_kind, n_devices=engine.n_devices,
                                     memory_bytes=engine.memory_limit_bytes, folds=1, cost=engine.cost))
        console.print("(which configs survive is drawn at random here; the programs of later rungs depend on it)")
        console.print(format_sharing(flax_backend.sharing()))
        return 0

    out = Path(args.out)
    console.print(f"[bold]hbjax[/] Hyperband over {args.model} ({jax.default_backend()}, {len(jax.devices())} "
                  f"device(s))" + (f", resuming {out}" if args.resume else ""))
    console.print(f"space: {space}")
    console.print(search.describe())
    console.print("loss = " + ("-metric (the metric is maximised)" if maximise else "the validation metric"))

    progress = RungProgress(search.plan, args.hyperband_iterations, console, quiet=args.quiet,
                            detail=programs_detail(backend))
    meta = {key: getattr(args, key) for key in RESUMABLE}
    meta["space"] = space_to_dict(space)
    meta["cost_constants"] = backend.engine.cost.to_dict()
    with progress:
        result = run_with_checkpoints(search, backend, out, meta=meta, callbacks=[progress.update],
                                      resume=bool(args.resume), overwrite=args.overwrite)
    console.print(result.summary())
    config_epochs = result.resource_spent * getattr(backend, "repeats", 1)
    engine = backend.engine
    compiles, waits = compile_wait(engine, result.seconds)
    console.print(f"{config_epochs:g} config-epochs in {result.seconds:.1f} s = "
                  f"{config_epochs / max(result.seconds, 1e-9):.2f} config-epochs/s; {compiles}")
    if result.best_config is None:
        console.print("[red]every configuration diverged[/]")
        return 1
    best_metric = -result.best_loss if maximise else result.best_loss
    sharing = flax_backend.sharing()
    console.print(f"[bold]best validation metric {best_metric:.5g}[/] at {result.best_resource:g} epochs: "
                  f"{result.best_config}")
    _write_json(out / "summary.json", {
        "model": args.model, "best_config": result.best_config, "best_val_loss": result.best_loss,
        "best_val_metric": best_metric, "direction": spec.get("direction", "min"),
        "best_resource": result.best_resource, "compiles": engine.compiles, "seconds": result.seconds,
        "config_epochs": config_epochs, "max_resource": args.max_resource, "eta": args.eta, "seed": args.seed,
        "cost_constants": engine.cost.to_dict(),
        "program_memory": [{"program": p.describe(), **m} for p, m in engine.program_memory.items()],
        **waits,
        "sharing": sharing,
    })
    console.print(format_sharing(sharing))
    console.print(f"trials: {out / 'trials.csv'}; summary: {out / 'summary.json'}")
    return 0
