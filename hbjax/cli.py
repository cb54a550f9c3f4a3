"""Command line: ``hbjax demo | run | svc | compare | report``. The one place that prints, writes files, exits.

Bad input ends with one line ``error: ...`` and exit code 2, never a traceback; the run directory
(state, survivors' weights, trials) is saved after every rung, so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

log = logging.getLogger("hbjax")


class UsageError(ValueError):
    pass


def _console():
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 160  # tables in logs and CI output stay readable
    return console


# --- LSTM runs ---------------------------------------------------------------------------------

def _load(data: str):
    from .data import load_csv, load_delhi_climate, load_nvda

    presets = {"nvda": load_nvda, "delhi": load_delhi_climate}
    return presets[data.lower()]() if data.lower() in presets else load_csv(data)


def _task(args):
    """The walk-forward task of ``--data`` (sizes left unset fit the series' length)."""
    from .data import SeriesTask

    return SeriesTask(_load(args.data), train_size=args.train_size, val_size=args.val_size,
                      test_size=args.test_size, max_folds=args.folds, target=args.target)


def _skill(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.4f}"


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


def _baseline_skills(baselines: dict, split: str, suffix: str = "") -> str:
    """'ridge +0.0027, seasonal naive -3.5466' for the baselines a task reports."""
    names = [("ridge", "ridge"), ("seasonal_naive", "seasonal naive")]
    return ", ".join(f"{label} {_skill(baselines[f'{key}_{split}_skill{suffix}'])}" for key, label in names
                     if f"{key}_{split}_skill{suffix}" in baselines)


def _space(name):
    """A preset name, an experiment file (.toml/.json/.yaml), or a saved run's space (a dict)."""
    from .lstm.backend import default_space, demo_space
    from .spacefile import is_space_file, load_experiment, space_from_dict

    if isinstance(name, dict):
        return space_from_dict(name, source="the saved run's space")
    if is_space_file(name):
        return load_experiment(name).space
    spaces = {"default": default_space, "demo": demo_space}
    if name not in spaces:
        raise UsageError(f"unknown --space {name!r}; choose one of {sorted(spaces)} or give a .toml, .json or "
                         f".yaml file (see examples/experiment.toml)")
    return spaces[name]()


RESUMABLE = ("data", "max_resource", "eta", "seed", "hyperband_iterations", "space", "window", "folds",
             "train_size", "val_size", "test_size", "target", "configs_per_program", "plan")


def run_lstm(args, console) -> int:
    import hbjax as hb
    from .checkpoint import read_run_meta, run_with_checkpoints
    from .lstm.backend import LSTMBackend
    from .spacefile import check_for_lstm, space_to_dict

    if args.resume:
        args.out = args.resume
        for key, value in read_run_meta(args.resume).items():  # the saved run's settings win
            if key in RESUMABLE:
                setattr(args, key, value)
    space = _space(args.space)  # validate the cheap things before loading data
    search = hb.Hyperband(space, max_resource=args.max_resource, eta=args.eta, seed=args.seed,
                          hyperband_iterations=args.hyperband_iterations)
    task = _task(args)
    check_for_lstm(space, train_size=task.train_size, window=args.window,
                   source=args.space if isinstance(args.space, str) else "the saved run")
    backend = LSTMBackend(task, seed=args.seed, window=args.window, configs_per_program=args.configs_per_program,
                          plan=args.plan)
    backend.validate_space(space)
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
    def programs():
        stats = backend.engine.rung_stats[-1]
        return (f"{stats['programs']} program(s), {stats['compiles']} compiled in {stats['compile_s']:.1f} s "
                f"(training waited {stats['compile_wait_s']:.1f} s for them)")

    progress = RungProgress(search.plan, args.hyperband_iterations, console, quiet=args.quiet, detail=programs)
    meta = {key: getattr(args, key) for key in RESUMABLE}
    meta["space"] = space_to_dict(space)  # the space itself: a resume must not depend on a file
    with progress:  # checkpoints (state, survivors' weights, trials.csv) after every rung
        result = run_with_checkpoints(search, backend, out, meta=meta, callbacks=[progress.update],
                                      resume=bool(args.resume), overwrite=args.overwrite)
    frame = result.to_frame()
    frame.to_csv(trials_csv, index=False)

    console.print(result.summary())
    config_epochs = result.resource_spent  # epochs each config trained, summed (survivors continue)
    n_folds = len(task.folds)
    engine = backend.engine
    console.print(f"{config_epochs:g} config-epochs on {n_folds} fold(s) in {result.seconds:.1f} s = "
                  f"{config_epochs / max(result.seconds, 1e-9):.2f} config-epochs/s; {engine.compiles} programs "
                  f"compiled on background threads ({engine.compile_seconds:.1f} s beside training)")
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
    })
    console.print(f"trials: {trials_csv}; summary: {out / 'summary.json'}")
    return 0


def preview(args, search, task, backend, console) -> int:
    """``hbjax plan`` / ``run --dry-run``: brackets, programs and estimated cost; nothing trained."""
    import jax

    from .lstm.preview import format_preview, preview_run

    console.print(f"[bold]hbjax plan[/] for {args.data} ({jax.default_backend()}, {len(jax.devices())} device(s), "
                  f"plan {backend.engine.plan}): nothing is trained")
    console.print(task.describe())
    console.print(search.describe())
    rows = preview_run(search, backend, seed=args.seed)
    console.print(format_preview(rows, device_kind=backend.engine.device_kind, n_devices=backend.engine.n_devices,
                                 memory_bytes=backend.engine.memory_limit_bytes, folds=len(task.folds)))
    console.print("(which configs survive is drawn at random here; the programs of later rungs depend on it)")
    return 0


def _write_json(path: Path, obj) -> None:
    import json

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(clean(obj), indent=2, default=float))
    tmp.replace(path)


def _rung_config_epochs(job) -> float:
    """Config-epochs a rung trains: survivors continue, so only the increment counts."""
    return float(sum(job.resource - p for p in job.previous_resource))


class RungProgress:
    """A rich progress bar over the run's config-epochs (elapsed time and an ETA from the rate so
    far), and one summary line per rung: configs, epochs, best so far, config-epochs/s, and the
    engine's programs and compile time. Only the lines when quiet or not on a terminal."""

    def __init__(self, plan, iterations: int, console, *, quiet: bool, detail=None):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        per_iteration = sum(r.n_configs * (r.resource - (b.rungs[r.index - 1].resource if r.index else 0.0))
                            for b in plan for r in b.rungs)
        self.total = iterations * per_iteration
        self.best = math.inf
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f} config-epochs"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                                 disable=not self.live)
        self.task = self.progress.add_task("starting", total=self.total)
        self.detail = detail  # () -> extra text for a rung's line (the engine's programs and compiles)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, job, losses, state, seconds):
        finite = [x for x in losses if math.isfinite(x)]
        if finite:
            self.best = min(self.best, min(finite))
        done = _rung_config_epochs(job)
        line = (f"iter {job.iteration} bracket s={job.bracket} rung {job.rung}: {len(job.config_ids)} configs -> "
                f"{job.resource:.4g} epochs, rung best {min(finite) if finite else float('nan'):.5g}, "
                f"best so far {self.best:.5g}, {seconds:.1f} s, {done / max(seconds, 1e-9):.2f} config-epochs/s"
                + (f", {self.detail()}" if self.detail else ""))
        log.info(line)
        from .scheduler import total_resource

        # from the state, not by adding up: a resumed run's bar starts where the run stopped
        self.progress.update(self.task, completed=total_resource(state, continued=True),
                             description=f"s={job.bracket} rung {job.rung} best {self.best:.4g}")
        if not self.quiet:
            self.console.print(line)


# --- scikit-learn walkthrough -----------------------------------------------------------------

def run_svc(args, console) -> int:
    from .sklearn_backend import svc_walkthrough

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    svc_walkthrough(dataset=args.dataset, max_resource=args.max_resource, eta=args.eta, seed=args.seed,
                    cv=args.cv, out_csv=out, log=console.print)
    console.print(f"trials: {out}")
    return 0


# --- method comparison at equal budget ----------------------------------------------------------

def run_compare(args, console) -> int:
    import pandas as pd

    from .strategies import STRATEGIES, compare, stats_markdown, summarize_stats

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in STRATEGIES]
    if unknown:
        raise UsageError(f"unknown method(s) {unknown}; choose from {', '.join(STRATEGIES)}")
    seeds = list(range(args.seeds))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    baselines = {}
    if args.task == "svc":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        from .sklearn_backend import SklearnBackend, as_space

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
        space = as_space({"C": [0.1, 1, 10, 100], "gamma": ["scale", "auto", 0.1, 1, 10]})

        def make_backend(seed):
            return SklearnBackend(SVC(), X_train, y_train, max_resource=args.max_resource, cv=3, random_state=seed)

        def evaluate(backend, result):
            if result.best_config is None:
                return {"test_accuracy": float("nan")}
            model = SVC(**result.best_config).fit(X_train, y_train)
            return {"test_accuracy": float(model.score(X_test, y_test))}

        unit = "resource units (1/R of the training set each)"
    else:
        from .lstm.backend import LSTMBackend
        from .spacefile import check_for_lstm

        space = _space(args.space)
        task = _task(args)
        check_for_lstm(space, train_size=task.train_size, window=args.window, source=args.space)
        baselines = task.baselines(args.window)

        def make_backend(seed):
            return LSTMBackend(task, seed=seed, window=args.window)

        def evaluate(backend, result):
            if result.best_config is None:
                return {"test_skill": float("nan"), "test_mse_price": float("nan")}
            test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)
            return {"test_skill": test["test_skill"], "test_mse_price": test["test_mse_price"]}

        unit = f"config-epochs (each on {len(task.folds)} fold(s))"
    console.print(f"comparing {', '.join(methods)} on {args.task} over seeds {seeds}, "
                  f"budget {args.budget:g} {unit}, R={args.max_resource:g}, eta={args.eta}")

    def progress(job, losses, state, seconds):
        if not args.quiet:
            console.print(f"  {len(job.config_ids)} configs -> {job.resource:.4g}: {seconds:.1f} s")

    curves: list = []
    raw = compare(methods, make_backend, space, budget=args.budget, seeds=seeds, max_resource=args.max_resource,
                  eta=args.eta, evaluate=evaluate, callbacks=[progress], curves=curves)
    summary = summarize_stats(raw)  # mean, 95% interval, mean rank, Wilcoxon vs Hyperband (Holm)
    raw.to_csv(out / "compare_raw.csv", index=False)
    summary.to_csv(out / "compare_summary.csv", index=False)
    title = f"{args.task} ({args.data if args.task == 'lstm' else 'digits'}): {len(seeds)} seeds, budget {args.budget:g}"
    (out / "compare_summary.md").write_text(stats_markdown(summary, title=title))
    curves = pd.DataFrame(curves)
    curves.to_csv(out / "compare_curves.csv", index=False)
    _print_summary(console, summary, baselines)
    for _, row in summary.iterrows():
        if row["verdict"] != "reference":
            console.print(f"  {row['method']}: {row['verdict']}")
    try:
        from .plots import plot_anytime

        ridge = baselines.get("ridge_val_skill_target")
        lines = {"persistence (val)": 1.0 if baselines else None, "ridge (val)": None if ridge is None else 1 - ridge}
        fig = plot_anytime(curves, baselines={k: v for k, v in lines.items() if v is not None})
        fig.savefig(out / "compare.png", dpi=120)
    except ImportError as err:
        console.print(f"(no plot: {err})")
    _write_json(out / "baselines.json", baselines)
    console.print(f"results: {out / 'compare_summary.md'}, {out / 'compare_summary.csv'}, {out / 'compare_raw.csv'}")
    return 0


def _print_summary(console, summary, baselines) -> None:
    from rich.table import Table

    table = Table(title="mean +- 95% interval over seeds; mean rank (95% bootstrap interval)")
    cols = [c[:-5] for c in summary.columns if c.endswith("_mean") and c != "mean_rank"]
    table.add_column("method")
    for c in cols:
        table.add_column(c)
    table.add_column("mean rank")
    for _, row in summary.iterrows():
        table.add_row(str(row["method"]), *(f"{row[c + '_mean']:.5g} +- {row.get(c + '_ci95', float('nan')):.2g}"
                                            for c in cols),
                      f"{row['mean_rank']:.2f} ({row['mean_rank_low']:.2f}-{row['mean_rank_high']:.2f})")
    if "ridge_val_skill_target" in baselines:  # the LSTM task: loss 1 is persistence, 1 - skill for ridge
        for name, loss, test in (("persistence", 1.0, 0.0),
                                 ("ridge", 1 - baselines["ridge_val_skill_target"], baselines["ridge_test_skill"])):
            cells = {"best_loss": f"{loss:.5g}", "test_skill": f"{test:+.4f}"}
            table.add_row(f"[italic]{name} baseline[/]", *(cells.get(c, "-") for c in cols), "")
    console.print(table)


# --- argument parsing ---------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error: ...`` line (exit 2), like every other error."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int, message: str):
    """An argparse type: an integer >= ``minimum``, else ``message`` with the given text."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{message}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "expected a positive integer")
_eta = _int_at_least(2, "eta must be an integer >= 2")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return int(value) if value.is_integer() else value


def _add_lstm_args(p: argparse.ArgumentParser, *, demo: bool) -> None:
    p.add_argument("--data", default="nvda", help="'nvda' (bundled NVDA daily prices), 'delhi' (bundled daily Delhi "
                   "temperature) or a CSV: OHLCV, or a date and one value column")
    p.add_argument("--max-resource", "-R", type=_number, default=9 if demo else 100, help="R: max epochs per config")
    p.add_argument("--eta", type=_eta, default=3, help="reduction factor (integer >= 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hyperband-iterations", type=_positive_int, default=1, help="repeat all brackets k times")
    p.add_argument("--space", default="demo" if demo else "default",
                   help="'demo' (small, CPU-friendly), 'default', or an experiment file (.toml/.json/.yaml: the "
                        "space and, optionally, settings; options given here override the file's settings)")
    p.add_argument("--window", type=_positive_int, default=20, help="input window in days")
    p.add_argument("--folds", type=_positive_int, default=None, help="use only the most recent N walk-forward folds")
    p.add_argument("--train-size", type=_positive_int, default=None,
                   help="training rows per fold (default 3000, or half of a short series)")
    p.add_argument("--val-size", type=_positive_int, default=None, help="validation rows per fold (default 500)")
    p.add_argument("--test-size", type=_positive_int, default=None, help="held-out test rows (default 800)")
    p.add_argument("--target", choices=["relative", "close", "return", "level"], default="relative",
                   help="relative (default): next-day log return of a price / change of a value, inputs scaled "
                        "per window; close / level: the raw next-day value (the seed article's price-level "
                        "target, which extrapolates badly; see README)")
    p.add_argument("--configs-per-program", type=_positive_int, default=None,
                   help="configs per program call (default: by plan; on CPU it never changes results)")
    p.add_argument("--plan", choices=["auto", "exact", "wide"], default="auto",
                   help="how configs of different shapes share programs: auto (by device), exact (one program "
                        "per shape), wide (the accelerator plan: one padded program per batch size)")
    p.add_argument("--out", default="hbjax-runs/demo" if demo else "hbjax-runs/run", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--overwrite", action="store_true", default=demo,
                   help="replace an earlier run in --out (the demo always replaces its own)" if demo else
                   "replace an earlier run in --out instead of refusing")
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the interrupted run saved in DIR (its settings are used)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hbjax", description="Vectorised Hyperband (JAX) and its scikit-learn fallback")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="Hyperband over LSTMs on NVDA, small CPU-sized default (R=9, eta=3)")
    _add_lstm_args(demo, demo=True)
    run = sub.add_parser("run", help="the full task: Hyperband over LSTMs (default R=100, eta=3), any OHLCV CSV")
    _add_lstm_args(run, demo=False)
    run.add_argument("--dry-run", action="store_true", help="print the plan and its estimated cost; train nothing")
    plan = sub.add_parser("plan", help="preview a run: brackets, rungs, programs to compile, memory, estimated time")
    _add_lstm_args(plan, demo=False)
    svc = sub.add_parser("svc", help="scikit-learn fallback: SVC over C x gamma, R=81, eta=3, vs HalvingGridSearchCV")
    svc.add_argument("--dataset", choices=["digits", "breast_cancer"], default="digits")
    svc.add_argument("--max-resource", "-R", type=_positive_int, default=81)
    svc.add_argument("--eta", type=_eta, default=3)
    svc.add_argument("--seed", type=int, default=0)
    svc.add_argument("--cv", type=_positive_int, default=3)
    svc.add_argument("--out", default="hbjax-runs/svc/trials.csv", help="CSV of the Hyperband trials")
    cmp = sub.add_parser("compare", help="Hyperband vs random, grid, BO, GA, SH, BOHB at equal budget over seeds")
    cmp.add_argument("--task", choices=["lstm", "svc"], default="lstm")
    cmp.add_argument("--methods", default="hyperband,random,bo,ga,bohb", help="comma-separated strategy names")
    cmp.add_argument("--seeds", type=_positive_int, default=3, help="number of seeds (0..N-1)")
    cmp.add_argument("--budget", type=_number, default=None,
                     help="resource per method and seed (default: 2 Hyperband iterations' worth: 138 for R=9)")
    cmp.add_argument("--max-resource", "-R", type=_number, default=None, help="R (default 9 for lstm, 81 for svc)")
    cmp.add_argument("--eta", type=_eta, default=3)
    cmp.add_argument("--data", default="nvda")
    cmp.add_argument("--space", default="demo")
    cmp.add_argument("--window", type=_positive_int, default=20)
    cmp.add_argument("--folds", type=_positive_int, default=1, help="most recent N walk-forward folds (lstm)")
    cmp.add_argument("--target", choices=["relative", "close", "return", "level"], default="relative")
    cmp.add_argument("--train-size", type=_positive_int, default=None)
    cmp.add_argument("--val-size", type=_positive_int, default=None)
    cmp.add_argument("--test-size", type=_positive_int, default=None)
    cmp.add_argument("--out", default="hbjax-runs/compare")
    cmp.add_argument("--quiet", action="store_true")
    report = sub.add_parser("report", help="plots (losses with prune points, brackets) and a Markdown summary of a run")
    report.add_argument("run_dir", help="a directory written by `hbjax demo` or `hbjax run`")
    parser.commands = {"demo": demo, "run": run, "plan": plan, "svc": svc, "compare": cmp, "report": report}
    return parser


def parse_arguments(argv=None) -> argparse.Namespace:
    """Parse ``argv``; an experiment file given as ``--space`` supplies defaults for the options
    it sets, and options on the command line win. ``args.ignored_settings``: the file's settings
    this command has no option for (e.g. ``plan`` for ``compare``)."""
    from .spacefile import is_space_file, load_experiment

    parser = build_parser()
    args = parser.parse_args(argv)
    args.ignored_settings = []
    space = getattr(args, "space", None)
    if isinstance(space, str) and is_space_file(space):
        settings = load_experiment(space).settings
        command = parser.commands[args.command]
        options = {action.dest for action in command._actions}
        command.set_defaults(**{k: v for k, v in settings.items() if k in options})
        args = parser.parse_args(argv)
        args.ignored_settings = sorted(set(settings) - options)
    return args


def run_report(args, console) -> int:
    from .plots import write_report

    for path in write_report(args.run_dir):
        console.print(f"wrote {path}")
    return 0


def _compare_defaults(args) -> None:
    if args.max_resource is None:
        args.max_resource = 81 if args.task == "svc" else 9
    if args.budget is None:
        from .brackets import hyperband_plan

        plan = hyperband_plan(args.max_resource, args.eta)
        per_iteration = sum(sum(r.n_configs * (r.resource - (b.rungs[r.index - 1].resource if r.index else 0))
                                for r in b.rungs) for b in plan)
        args.budget = 2 * per_iteration


def use_all_cpu_cores() -> None:
    """Expose every CPU core as a JAX host device before JAX starts, so the engine shards each
    rung's configs over them: one XLA CPU program keeps about one of 2 cores busy, two shards run
    in parallel (measured 1.9x, benchmarks/results/device_scaling_forced_cpu.json). Results are the
    same (tested). No effect on GPU/TPU runs; HBJAX_CPU_DEVICES=1 turns it off."""
    if "jax" in sys.modules or os.environ.get("HBJAX_CPU_DEVICES") == "1":
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = int(os.environ.get("HBJAX_CPU_DEVICES") or os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def main(argv=None) -> int:
    use_all_cpu_cores()
    try:
        args = parse_arguments(argv)
    except ValueError as err:  # a bad experiment file
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = _console()
    warnings.filterwarnings("once", category=UserWarning)  # a shrunk bracket is said once, not per seed
    from .data import DataError

    try:
        t0 = time.perf_counter()
        if args.ignored_settings:
            console.print(f"note: {args.space} sets {', '.join(args.ignored_settings)}, which `hbjax {args.command}` "
                          f"does not use")
        if args.command == "compare":
            _compare_defaults(args)
        commands = {"demo": run_lstm, "run": run_lstm, "plan": run_lstm, "svc": run_svc, "compare": run_compare,
                    "report": run_report}
        code = commands[args.command](args, console)
        console.print(f"done in {time.perf_counter() - t0:.1f} s")
        return code
    except (ValueError, TypeError, DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the trials of finished rungs are in the output directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
