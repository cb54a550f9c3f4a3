"""``hbjax run | plan | demo --model FILE.py:factory``: Hyperband over a user's flax model, with
the same checkpoints, progress, preview and trials table as the LSTM runs."""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, apply_resume

RESUMABLE = (
    "model",
    "max_resource",
    "eta",
    "seed",
    "hyperband_iterations",
    "space",
    "configs_per_program",
    "plan",
    "precision",
    "waves",
    "repeats",
    "verify_sharing",
)


def model_space(spec: dict, space_arg):
    """The space: an experiment file or a saved run's space when given, else the spec's."""
    from ..runs.spacefile import is_space_file, load_experiment, space_from_dict

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
    lines = [
        f"sharing: {report['configs']} configs in {report['programs']} programs ({report['compiles']} compiled "
        f"so far); a hyperparameter is traced where configs of different values share a program"
    ]
    for name, h in report["hyperparameters"].items():
        if h["traced_in"]:
            where = f"traced in {h['traced_in']} program(s)" + (
                f", static in {h['static_in']}" if h["static_in"] else ""
            )
            lines.append(f"  {name}: {where} ({h['how']})")
        else:
            lines.append(f"  {name}: static ({h['values']} value(s), one per program)")
    if report.get("traced_configs"):
        lines.append(
            f"  proof: {report['traced_configs']} config(s) traced in {report['trace_seconds']:.2f} s (each "
            f"config's own functions, right after its factory calls; shared programs run those jaxprs)"
        )
    verified = report.get("verified")
    if verified is not None:
        worst = max((r["max_relative_difference"] for r in verified), default=0.0)
        lines.append(
            f"  verified: {len(verified)} config(s) of shared programs trained again alone, largest "
            f"difference {worst:.3g}"
        )
    return "\n".join(lines)


def model_cost_kind(reference: str) -> str:
    """The calibration a ``--model FILE.py:FACTORY`` plans with: one per file and factory."""
    path, _, factory = reference.rpartition(":")
    return f"model-{Path(path).stem}-{factory}"


def model_backend(spec: dict, *, seed: int, reference: str | None = None, **engine):
    from ..usermodel.backend import FlaxBackend
    from ..usermodel.spec import MODEL_KEYS

    return FlaxBackend(
        **{k: spec[k] for k in MODEL_KEYS if k in spec},
        seed=seed,
        cost_kind=model_cost_kind(reference) if reference else "flax",
        **engine,
    )


def calibrate_user_model(args, console) -> dict:
    """``hbjax calibrate --model FILE.py:FACTORY``: up to four (``--quick``: two) of the space's
    programs trained and timed on this device; -> the report (``engine.calibrate``)."""
    import numpy as np

    from ..engine.calibrate import calibrate_model
    from ..engine.core import Engine
    from ..usermodel.spec import load_model_spec

    spec = load_model_spec(args.model)
    space = model_space(spec, args.space)
    backend = model_backend(spec, seed=0, reference=args.model)
    backend.validate_space(space)
    by_program: dict = {}
    for config in space.sample_configs(np.random.default_rng(0), 32):
        by_program.setdefault(backend.engine.shape(config), config)
    configs = list(by_program.values())[: 2 if args.quick else 4]
    console.print(f"calibrating {args.model} ({len(configs)} of its programs) on {backend.engine.device_kind}")
    return calibrate_model(
        lambda: Engine(backend.model, backend.engine.settings),
        configs,
        model_kind=backend.model.cost_kind,
        epochs=0.5 if args.quick else 2.0,
        save=not args.no_save,
        log=console.print,
    )


def run_model(args, console) -> int:
    import hbjax as hb

    from ..runs.spacefile import space_to_dict
    from ..usermodel.spec import load_model_spec
    from .run import RunJob, walk

    cost = apply_resume(args, RESUMABLE)
    spec = load_model_spec(args.model)
    space_arg = args.space if (isinstance(args.space, dict) or args.space not in ("demo", "default")) else None
    space = model_space(spec, space_arg)
    search = hb.Hyperband(
        space,
        max_resource=args.max_resource,
        eta=args.eta,
        seed=args.seed,
        hyperband_iterations=args.hyperband_iterations,
        waves=getattr(args, "waves", True),
    )
    verify = getattr(args, "verify_sharing", 0) or 0
    if verify < 0:
        raise UsageError(f"--verify-sharing must be >= 0, got {verify}")
    backend = model_backend(
        spec,
        seed=args.seed,
        reference=args.model,
        configs_per_program=args.configs_per_program,
        plan=args.plan,
        cost=cost,
        precision=getattr(args, "precision", "highest"),
        verify=verify,
    )
    backend.validate_space(space)
    flax_backend = backend
    if getattr(args, "repeats", 1) > 1:
        backend = hb.Repeats(backend, args.repeats)
    maximise = spec.get("direction", "min") == "max"
    meta = {key: getattr(args, key) for key in RESUMABLE}
    meta["space"] = space_to_dict(space)

    def finish(result) -> dict:
        best_metric = -result.best_loss if maximise else result.best_loss
        console.print(
            f"[bold]best validation metric {best_metric:.5g}[/] at {result.best_resource:g} epochs: "
            f"{result.best_config}"
        )
        sharing = flax_backend.sharing()
        console.print(format_sharing(sharing))
        return {
            "model": args.model,
            "best_val_metric": best_metric,
            "direction": spec.get("direction", "min"),
            "sharing": sharing,
        }

    header = [
        f"space: {space}",
        search.describe(),
        "loss = " + ("-metric (the metric is maximised)" if maximise else "the validation metric"),
    ]
    return walk(
        args,
        console,
        RunJob(
            args.model,
            search,
            backend,
            meta,
            finish,
            header=header,
            preview_footer=lambda: [format_sharing(flax_backend.sharing())],
        ),
    )
