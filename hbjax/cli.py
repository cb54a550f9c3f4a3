"""Command line: ``hbjax demo | run | plan | calibrate | svc | compare | report``: argument parsing
and dispatch.
With the commands in ``hbjax.commands``, the one layer that prints, writes files and exits.

Bad input ends with one line ``error: ...`` and exit code 2, never a traceback; the run directory
(state, survivors' weights, trials) is saved after every rung, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

from .commands.compare import compare_defaults, run_compare
from .commands.lstm import run_lstm


def _console():
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 160  # tables in logs and CI output stay readable
    return console


# --- scikit-learn walkthrough -----------------------------------------------------------------


def run_svc(args, console) -> int:
    from .sklearn.walkthrough import svc_walkthrough

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    svc_walkthrough(
        dataset=args.dataset,
        max_resource=args.max_resource,
        eta=args.eta,
        seed=args.seed,
        cv=args.cv,
        out_csv=out,
        log=console.print,
    )
    console.print(f"trials: {out}")
    return 0


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
    p.add_argument(
        "--data",
        default="nvda",
        help="'nvda' (bundled NVDA daily prices), 'delhi' (bundled daily Delhi "
        "temperature) or a CSV: OHLCV, or a date and one value column",
    )
    p.add_argument(
        "--model",
        metavar="FILE.py:FACTORY",
        default=None,
        help="tune your own flax model instead of the LSTM: FACTORY() returns a dict of FlaxBackend's "
        "keywords (model, optimizer, loss, data, ...) and a default space (see examples/). FILE.py "
        "is imported as `python FILE.py` runs it: its folder first on sys.path, so modules beside "
        "it import",
    )
    p.add_argument(
        "--verify-sharing",
        type=int,
        default=0,
        metavar="N",
        help="with --model: after every rung, train up to N configs of each shared program again alone "
        "and stop with an error if any differs (default 0: off; sharing is proven per config "
        "either way, this checks the proof)",
    )
    p.add_argument("--max-resource", "-R", type=_number, default=9 if demo else 100, help="R: max epochs per config")
    p.add_argument("--eta", type=_eta, default=3, help="reduction factor (integer >= 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hyperband-iterations", type=_positive_int, default=1, help="repeat all brackets k times")
    p.add_argument(
        "--space",
        default="demo" if demo else "default",
        help="'demo' (small, CPU-friendly), 'default', or an experiment file (.toml/.json/.yaml: the "
        "space and, optionally, settings; options given here override the file's settings)",
    )
    p.add_argument("--window", type=_positive_int, default=20, help="input window in days")
    p.add_argument("--folds", type=_positive_int, default=None, help="use only the most recent N walk-forward folds")
    p.add_argument(
        "--train-size",
        type=_positive_int,
        default=None,
        help="training rows per fold (default 3000, or half of a short series)",
    )
    p.add_argument("--val-size", type=_positive_int, default=None, help="validation rows per fold (default 500)")
    p.add_argument("--test-size", type=_positive_int, default=None, help="held-out test rows (default 800)")
    p.add_argument(
        "--target",
        choices=["relative", "close", "return", "level"],
        default="relative",
        help="relative (default): next-day log return of a price / change of a value, inputs scaled "
        "per window; close / level: the raw next-day value (the seed article's price-level "
        "target, which extrapolates badly; see README)",
    )
    p.add_argument(
        "--configs-per-program",
        type=_positive_int,
        default=None,
        help="configs per program call (default: by plan; on CPU it never changes results)",
    )
    p.add_argument(
        "--plan",
        choices=["auto", "exact", "wide"],
        default="auto",
        help="how configs of different shapes share programs: auto (by device), exact (one program "
        "per shape), wide (the accelerator plan: configs side by side, widths and padding by the cost model)",
    )
    p.add_argument(
        "--precision",
        choices=["highest", "default"],
        default="highest",
        help="matmul precision: highest (full float32, comparable across devices) or default "
        "(the device's own: TF32 on recent NVIDIA GPUs, faster; no effect on CPU)",
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        default=1,
        help="train every config with this many seeds side by side (the loss is their mean; the "
        "trials table keeps each seed's loss and the spread); each seed costs its epochs",
    )
    p.add_argument(
        "--waves",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train every ready rung of every bracket together as one plan (default; the trials are "
        "those of sequential Hyperband) or, with --no-waves, bracket after bracket",
    )
    p.add_argument("--out", default="hbjax-runs/demo" if demo else "hbjax-runs/run", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument(
        "--overwrite",
        action="store_true",
        default=demo,
        help="replace an earlier run in --out (the demo always replaces its own)"
        if demo
        else "replace an earlier run in --out instead of refusing",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the interrupted run saved in DIR (its settings are used)",
    )


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
    cmp.add_argument(
        "--task",
        choices=["lstm", "svc", "mfh3", "mfh6", "counting-ones"],
        default="lstm",
        help="lstm, svc, or a shared research benchmark run by DEHB's protocol (MFHartmann-3/6 of "
        "mf-prior-bench, Counting Ones): --fevals evaluations, incumbents at 20..100%% of them",
    )
    cmp.add_argument(
        "--preset",
        choices=["default", "good", "moderate", "bad", "terrible"],
        default="default",
        help="MFHartmann's bias / noise preset (mf-prior-bench's)",
    )
    cmp.add_argument(
        "--min-fidelity",
        type=_number,
        default=None,
        help="MFHartmann's lowest z (default 1: DEHB's published protocol, mf-prior-bench 1.9.0; 3 is "
        "mf-prior-bench 1.8.x's range)",
    )
    cmp.add_argument(
        "--fevals",
        type=_positive_int,
        default=300,
        help="function evaluations per run for the research benchmarks (DEHB's protocol: 300)",
    )
    cmp.add_argument(
        "--model",
        metavar="FILE.py:FACTORY",
        default=None,
        help="compare on your own flax model (as `hbjax run --model`) instead of --task",
    )
    cmp.add_argument("--methods", default="hyperband,random,bo,ga,bohb", help="comma-separated strategy names")
    cmp.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="FILE.py:FACTORY",
        help="add your own search method (repeatable): FACTORY(space, *, max_resource, seed, eta) returns "
        "an object with ask() -> (configs, resource) | None and tell(configs, resource, losses); "
        "it runs beside --methods under the same budget, seeds, protocol and tests "
        "(examples/my_method.py; FILE.py imports as `python FILE.py`)",
    )
    cmp.add_argument("--seeds", type=_positive_int, default=3, help="number of seeds (0..N-1)")
    cmp.add_argument(
        "--budget",
        type=_number,
        default=None,
        help="resource per method and seed (default: 2 Hyperband iterations' worth: 138 for R=9)",
    )
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
    cal = sub.add_parser(
        "calibrate",
        help="measure this device's cost-model constants (compile, step latency, "
        "FLOP rate, memory) and store them for every later plan",
    )
    cal.add_argument("--quick", action="store_true", help="fewer, shorter measurements (a smoke test)")
    cal.add_argument("--no-save", action="store_true", help="measure and print only")
    cal.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    cal.add_argument(
        "--model",
        metavar="FILE.py:FACTORY",
        default=None,
        help="calibrate your own model (as `hbjax run --model`) instead of the LSTM: its configs are "
        "trained and timed, and its runs plan with what they measure",
    )
    cal.add_argument(
        "--space", default=None, help="with --model: an experiment file whose space to draw from (default: the spec's)"
    )
    parser.commands = {
        "demo": demo,
        "run": run,
        "plan": plan,
        "svc": svc,
        "compare": cmp,
        "report": report,
        "calibrate": cal,
    }
    return parser


def parse_arguments(argv=None) -> argparse.Namespace:
    """Parse ``argv``; an experiment file given as ``--space`` supplies defaults for the options
    it sets, and options on the command line win. ``args.ignored_settings``: the file's settings
    this command has no option for (e.g. ``plan`` for ``compare``)."""
    from .runs.spacefile import is_space_file, load_experiment

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
    from .reports.report import write_report

    for path in write_report(args.run_dir):
        console.print(f"wrote {path}")
    return 0


def run_calibrate(args, console) -> int:
    import json

    if args.model:
        from .commands.model import calibrate_user_model

        report = calibrate_user_model(args, console)
    else:
        from .lstm.calibrate import calibrate

        report = calibrate(quick=args.quick, save=not args.no_save, log=console.print)
    c = report["constants"]
    memory = "unknown" if c["memory_bytes"] is None else f"{c['memory_bytes'] / 2**30:.1f} GiB"
    console.print(
        f"{report['device_kind']}: compile {c['compile_s']:.2f} s a program, step floor "
        f"{c['seconds_per_step'] * 1e3:.3f} ms + {c['seconds_per_serial_step'] * 1e6:.2f} us per serial step, "
        f"{c['flops_per_s'] / 1e9:.1f} GFLOP/s, memory {memory} (measured in {report['seconds']:.0f} s)"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    console.print(f"stored in {report['path']}" if "path" in report else "not stored (--no-save)")
    return 0


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
            console.print(
                f"note: {args.space} sets {', '.join(args.ignored_settings)}, which `hbjax {args.command}` does not use"
            )
        if args.command == "compare":
            compare_defaults(args)
        commands = {
            "demo": run_lstm,
            "run": run_lstm,
            "plan": run_lstm,
            "svc": run_svc,
            "compare": run_compare,
            "report": run_report,
            "calibrate": run_calibrate,
        }
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
