"""``hbjax demo | run | plan``: Hyperband over LSTMs on a series, with checkpoints, a progress
bar, and the best config's skill against persistence on held-out days."""

from __future__ import annotations

import logging
import math

from .common import UsageError, apply_resume, baseline_skills, format_skill, space_of, task_of

log = logging.getLogger("hbjax")


def _verdict_vs_persistence(test: dict) -> str:
    """What the held-out test days say, no more: better or worse only when the Diebold-Mariano
    test says the difference is more than noise (p < 0.05)."""
    skill, p = test["test_skill"], test.get("vs_persistence_p", float("nan"))
    if not math.isfinite(skill):
        return f"[bold]no test score: {test['invalid_reason']}[/]"
    if math.isfinite(p) and p < 0.05:
        return (
            f"the LSTM beats persistence (Diebold-Mariano p={p:.2g})"
            if skill > 0
            else f"[bold]the LSTM is worse than persistence[/] (Diebold-Mariano p={p:.2g})"
        )
    return f"[bold]no significant difference from persistence[/] (Diebold-Mariano p={p:.2g})"


RESUMABLE = (
    "data",
    "max_resource",
    "eta",
    "seed",
    "hyperband_iterations",
    "space",
    "window",
    "folds",
    "train_size",
    "val_size",
    "test_size",
    "target",
    "configs_per_program",
    "plan",
    "precision",
    "waves",
    "repeats",
)


def run_lstm(args, console) -> int:
    import hbjax as hb

    from ..lstm.backend import LSTMBackend
    from ..lstm.spacecheck import check_for_lstm
    from ..runs.checkpoint import read_run_meta
    from ..runs.spacefile import space_to_dict
    from .run import RunJob, walk

    if getattr(args, "model", None) or (args.resume and read_run_meta(args.resume).get("model")):
        from .model import run_model

        return run_model(args, console)
    if getattr(args, "verify_sharing", 0):
        raise UsageError(
            "--verify-sharing checks the programs a --model run shares; the LSTM's sharing is by "
            "construction (tested in tests/lstm/test_lstm_engine.py)"
        )
    cost = apply_resume(args, RESUMABLE)
    space = space_of(args.space)  # validate the cheap things before loading data
    search = hb.Hyperband(
        space,
        max_resource=args.max_resource,
        eta=args.eta,
        seed=args.seed,
        hyperband_iterations=args.hyperband_iterations,
        waves=getattr(args, "waves", True),
    )
    task = task_of(args)
    check_for_lstm(
        space,
        train_size=task.train_size,
        window=args.window,
        source=args.space if isinstance(args.space, str) else "the saved run",
    )
    backend = LSTMBackend(
        task,
        seed=args.seed,
        window=args.window,
        configs_per_program=args.configs_per_program,
        plan=args.plan,
        cost=cost,
        precision=getattr(args, "precision", "highest"),
    )
    backend.validate_space(space)
    if getattr(args, "repeats", 1) > 1:  # every config's seeds side by side in the same programs
        backend = hb.Repeats(backend, args.repeats)
    meta = {key: getattr(args, key) for key in RESUMABLE}
    meta["space"] = space_to_dict(space)  # the space itself: a resume must not depend on a file
    job = RunJob(
        f"LSTMs on {args.data}",
        search,
        backend,
        meta,
        finish=None,
        preview_header=[task.describe()],
        folds=len(task.folds),
    )
    if args.command != "plan" and not getattr(args, "dry_run", False):
        baselines = task.baselines(args.window)
        job.header = [
            task.describe(),
            f"space: {space}",
            search.describe(),
            "loss = validation MSE / persistence's (tomorrow = today), mean over folds: 1 is persistence; "
            "skill = 1 - loss, > 0 beats it",
            f"baselines' validation skill: persistence +0, {baseline_skills(baselines, 'val', '_target')}",
        ]
        job.finish = lambda result: _held_out_test(result, backend, task, baselines, console)
    return walk(args, console, job)


def _held_out_test(result, backend, task, baselines: dict, console) -> dict:
    """The best config's validation skill, then its skill on the held-out test days retrained on
    the days before them; -> the LSTM's summary fields."""
    best_val_skill = 1.0 - result.best_loss
    console.print(
        f"[bold]best validation skill {format_skill(best_val_skill)}[/] (persistence +0, "
        f"{baseline_skills(baselines, 'val', '_target')})"
    )
    test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)
    console.print(
        f"held-out test ({task.test_size} days) of the best config retrained on the {task.train_size + task.val_size} "
        f"days before it: [bold]skill {format_skill(test['test_skill'])}[/] (MSE {test['test_mse_price']:.5g} "
        f"{test['unit']}^2 vs persistence {test['persistence_test_mse_price']:.5g}); "
        f"{baseline_skills(baselines, 'test')} -> {_verdict_vs_persistence(test)}"
    )
    folds = len(task.folds)
    return {
        "best_val_skill": best_val_skill,
        "folds": folds,
        "fold_epochs": result.resource_spent * getattr(backend, "repeats", 1) * folds,
        "baselines": baselines,
        "test": test,
    }
