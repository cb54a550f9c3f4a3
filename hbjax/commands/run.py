"""The one walk of ``hbjax demo | run | plan`` for every model: a preview (``plan`` /
``--dry-run``), or a run with progress, checkpoints after every rung, the run's figures and its
``summary.json``. What differs between the LSTM and a user's model (what they tune, the lines
they print, what they add to the summary) comes in a ``RunJob``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .common import compile_wait, programs_detail, write_json

__all__ = ["RunJob", "walk"]


@dataclass
class RunJob:
    """``subject``: what is tuned (the header's words); ``backend`` (possibly ``Repeats``);
    ``meta``: the settings a resume restores; ``header``: lines after the header of a run;
    ``preview_header`` / ``preview_footer``: lines around a preview's table; ``folds``: shown in
    the figures (None: not); ``finish(result) -> dict``: after a run with a best config, prints
    its own lines and returns its own summary fields."""

    subject: str
    search: object
    backend: object
    meta: dict
    finish: Callable[[object], dict]
    header: list[str] = field(default_factory=list)
    preview_header: list[str] = field(default_factory=list)
    preview_footer: Callable[[], list[str]] = list
    folds: int | None = None


def walk(args, console, job: RunJob) -> int:
    import jax

    from ..runs.checkpoint import run_with_checkpoints
    from .preview import format_preview, preview_run
    from .progress import RungProgress

    backend, search = job.backend, job.search
    engine = backend.engine
    devices = f"{jax.default_backend()}, {len(jax.devices())} device(s)"
    if args.command == "plan" or getattr(args, "dry_run", False):
        console.print(
            f"[bold]hbjax plan[/] for {job.subject} ({devices}, plan {engine.plan}): nothing is trained; "
            f"cost constants: {engine.cost.source}"
        )
        for line in [*job.preview_header, search.describe()]:
            console.print(line)
        rows = preview_run(search, backend, seed=args.seed)
        console.print(
            format_preview(
                rows,
                device_kind=engine.device_kind,
                n_devices=engine.n_devices,
                memory_bytes=engine.memory_limit_bytes,
                folds=job.folds or 1,
                cost=engine.cost,
            )
        )
        console.print("(which configs survive is drawn at random here; the programs of later rungs depend on it)")
        for line in job.preview_footer():
            console.print(line)
        return 0

    out = Path(args.out)
    console.print(
        f"[bold]hbjax[/] Hyperband over {job.subject} ({devices})" + (f", resuming {out}" if args.resume else "")
    )
    for line in job.header:
        console.print(line)
    progress = RungProgress(
        search.plan, args.hyperband_iterations, console, quiet=args.quiet, detail=programs_detail(backend)
    )
    meta = {**job.meta, "cost_constants": engine.cost.to_dict()}  # calibrated or default: a resume plans the same
    with progress:  # checkpoints (state, survivors' weights, trials.csv) after every rung
        result = run_with_checkpoints(
            search,
            backend,
            out,
            meta=meta,
            callbacks=[progress.update],
            resume=bool(args.resume),
            overwrite=args.overwrite,
        )
    console.print(result.summary())  # trials.csv was written with the last checkpoint
    # epochs each config trained, summed (survivors continue), every seed counted
    config_epochs = result.resource_spent * getattr(backend, "repeats", 1)
    compiles, waits = compile_wait(engine, result.seconds)
    on_folds = f" on {job.folds} fold(s)" if job.folds else ""
    console.print(
        f"{config_epochs:g} config-epochs{on_folds} in {result.seconds:.1f} s = "
        f"{config_epochs / max(result.seconds, 1e-9):.2f} config-epochs/s; {compiles}"
    )
    if result.best_config is None:
        console.print("[red]every configuration diverged[/]")
        return 1
    own = job.finish(result)
    write_json(
        out / "summary.json",
        {
            "best_config": result.best_config,
            "best_val_loss": result.best_loss,
            "best_resource": result.best_resource,
            **own,
            "compiles": engine.compiles,
            "seconds": result.seconds,
            "config_epochs": config_epochs,
            "max_resource": args.max_resource,
            "eta": args.eta,
            "seed": args.seed,
            "cost_constants": engine.cost.to_dict(),
            # per program (width included): the memory estimate beside XLA's memory_analysis()
            "program_memory": [
                {"program": p.describe(), **m, "compile_s": engine.program_compile_s.get(p)}
                for p, m in engine.program_memory.items()
            ],
            **waits,
        },
    )
    console.print(f"trials: {out / 'trials.csv'}; summary: {out / 'summary.json'}")
    return 0
