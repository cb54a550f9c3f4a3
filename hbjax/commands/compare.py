"""``hbjax compare``: every method at equal budget over seeds, with ranks and paired tests."""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, space_of, task_of, write_json


def run_compare(args, console) -> int:
    import pandas as pd

    from ..strategies import STRATEGIES, compare, load_method, method_label, summarize_stats

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in STRATEGIES]
    if unknown:
        raise UsageError(f"unknown method(s) {unknown}; choose from {', '.join(STRATEGIES)}")
    methods += [load_method(reference) for reference in getattr(args, "method", None) or []]
    labels = [method_label(m) for m in methods]
    if len(set(labels)) != len(labels):
        raise UsageError(f"two methods share a name: {labels}")
    seeds = list(range(args.seeds))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.task in ("mfh3", "mfh6", "counting-ones") and not args.model:
        return _run_protocol(args, methods, seeds, out, console)
    baselines = {}
    if args.model:
        from ..usermodel.spec import load_model_spec
        from .model import model_backend, model_space

        spec = load_model_spec(args.model)
        space = model_space(spec, None if args.space in ("demo", "default") else args.space)

        def make_backend(seed):
            return model_backend(spec, seed=seed)

        evaluate = None  # no held-out split in a model spec: the validation metric is the score
        unit = "config-epochs"
        args.task = args.model
    elif args.task == "svc":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        from ..sklearn.cv import SklearnBackend, as_space

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
        from ..lstm.backend import LSTMBackend
        from ..lstm.spacecheck import check_for_lstm

        space = space_of(args.space)
        task = task_of(args)
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
    console.print(
        f"comparing {', '.join(labels)} on {args.task} over seeds {seeds}, "
        f"budget {args.budget:g} {unit}, R={args.max_resource:g}, eta={args.eta}"
    )

    def progress(job, losses, state, seconds):
        if not args.quiet:
            console.print(f"  {len(job.config_ids)} configs -> {job.resource:.4g}: {seconds:.1f} s")

    curves: list = []
    raw = compare(
        methods,
        make_backend,
        space,
        budget=args.budget,
        seeds=seeds,
        max_resource=args.max_resource,
        eta=args.eta,
        evaluate=evaluate,
        callbacks=[progress],
        curves=curves,
    )
    summary = summarize_stats(raw)  # mean, 95% interval, mean rank, Wilcoxon vs Hyperband (Holm)
    raw.to_csv(out / "compare_raw.csv", index=False)
    summary.to_csv(out / "compare_summary.csv", index=False)
    data = args.data if args.task == "lstm" else "digits" if args.task == "svc" else "its own data"
    title = f"{args.task} ({data}): {len(seeds)} seeds, budget {args.budget:g}"
    (out / "compare_summary.md").write_text(summary_markdown(raw, title))
    curves = pd.DataFrame(curves)
    curves.to_csv(out / "compare_curves.csv", index=False)
    _print_summary(console, summary, baselines)
    for _, row in summary.iterrows():
        if row["verdict"] != "reference":
            console.print(f"  {row['method']}: {row['verdict']}")
    try:
        from ..reports.plots import plot_anytime

        ridge = baselines.get("ridge_val_skill_target")
        lines = {"persistence (val)": 1.0 if baselines else None, "ridge (val)": None if ridge is None else 1 - ridge}
        fig = plot_anytime(curves, baselines={k: v for k, v in lines.items() if v is not None})
        fig.savefig(out / "compare.png", dpi=120)
    except ImportError as err:
        console.print(f"(no plot: {err})")
    write_json(out / "baselines.json", baselines)
    console.print(f"results: {out / 'compare_summary.md'}, {out / 'compare_summary.csv'}, {out / 'compare_raw.csv'}")
    return 0


def _run_protocol(args, methods, seeds, out, console) -> int:
    """A research benchmark by DEHB's protocol (``hbjax.strategies.protocol``), with DEHB's
    published rows beside hbjax's, and its pictures."""
    import pandas as pd

    from ..problems.mfbench import MFBenchmarkBackend
    from ..strategies import method_label
    from ..strategies.protocol import (
        CHECKPOINTS,
        PUBLISHED,
        PUBLISHED_FIDELITY,
        protocol_markdown,
        protocol_options,
        run_protocol,
    )

    if args.task == "counting-ones" and args.preset != "default":
        raise UsageError("--preset is MFHartmann's; counting-ones has none")
    low = getattr(args, "min_fidelity", None)
    if low is None and args.task != "counting-ones":
        low = PUBLISHED_FIDELITY[args.task][0]  # DEHB's protocol: mf-prior-bench 1.9.0's z from 1
    if args.task == "counting-ones" and low is not None:
        raise UsageError("--min-fidelity is MFHartmann's z; counting-ones runs DEHB's budgets")
    probe = MFBenchmarkBackend(args.task, preset=args.preset, min_fidelity=low)
    checkpoints = tuple(round(args.fevals * f) for f in (0.2, 0.4, 0.6, 0.8, 1.0))
    console.print(
        f"{probe.describe()}: {', '.join(map(method_label, methods))} over seeds {seeds}, {args.fevals} "
        f"function evaluations each, eta {args.eta}"
    )
    options = protocol_options(probe)  # DEHB's sequential schedule; GP-BO in batches of 32
    curves: list = []
    raw = run_protocol(
        methods,
        lambda s: MFBenchmarkBackend(args.task, preset=args.preset, seed=s, min_fidelity=low),
        probe.space(),
        seeds=seeds,
        max_resource=probe.max_resource,
        eta=args.eta,
        fevals=args.fevals,
        options=options,
        checkpoints=checkpoints,
        curves=curves,
    )
    published = (
        PUBLISHED.get(args.task, {})
        if args.preset == "default" and checkpoints == CHECKPOINTS and args.eta == 3
        else {}
    )
    scale = 100.0 if args.task == "counting-ones" else 1.0  # DEHB reports Counting Ones' mean / 100
    text = protocol_markdown(
        args.task,
        raw,
        published=published,
        scale=scale,
        title=probe.describe(),
        checkpoints=checkpoints,
        fidelity=(probe.min_fidelity, probe.max_fidelity),
    )
    raw.to_csv(out / "protocol_raw.csv", index=False)
    (out / "protocol_summary.md").write_text(text)
    curves = pd.DataFrame(curves)
    curves.to_csv(out / "protocol_curves.csv", index=False)
    console.print(text, markup=False, highlight=False)
    pictures = protocol_pictures(
        curves, raw, out, title=probe.describe(), published=published, checkpoints=checkpoints, scale=scale
    )
    console.print(
        f"results: {out / 'protocol_summary.md'}, {out / 'protocol_raw.csv'}" + "".join(f", {p}" for p in pictures)
    )
    return 0


def protocol_pictures(curves, raw, out: Path, *, title: str, published, checkpoints, scale: float) -> list:
    """``protocol_anytime.png``: the incumbent vs function evaluations (mean and 95% band per
    method, DEHB's published checkpoints marked); ``protocol_ranks.png``: mean ranks at the last
    checkpoint with Nemenyi's critical difference (``plots.plot_critical_difference``). -> the
    paths written (none without matplotlib)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # the plots extra is not installed
        return []
    from ..reports.plots import plot_anytime, plot_critical_difference

    frame = curves.assign(best_loss=curves["best_loss"] / scale)
    marks = {
        f"DEHB {v}, published (mean ± std)": (list(checkpoints), [m / scale for m in means], list(stds))
        for v, (means, stds) in (published or {}).items()
    }
    fig = plot_anytime(
        frame,
        marks=marks,
        xlabel="function evaluations",
        ylabel="incumbent (mean, 95% band over seeds)" + (" / 100" if scale != 1.0 else ""),
        title=title,
    )
    paths = [out / "protocol_anytime.png"]
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)
    last = f"inc_{checkpoints[-1]}"
    if raw["method"].nunique() > 1:
        fig = plot_critical_difference(
            raw.pivot(index="seed", columns="method", values=last),
            title=f"{title}: ranks after {checkpoints[-1]} evaluations",
        )
        paths.append(out / "protocol_ranks.png")
        fig.savefig(paths[1], dpi=120)
        plt.close(fig)
    return paths


def _print_summary(console, summary, baselines) -> None:
    from rich.table import Table

    table = Table(title="mean +- 95% interval over seeds; mean rank (95% bootstrap interval)")
    cols = [c[:-5] for c in summary.columns if c.endswith("_mean") and c != "mean_rank"]
    table.add_column("method")
    for c in cols:
        table.add_column(c)
    table.add_column("mean rank")
    for _, row in summary.iterrows():
        table.add_row(
            str(row["method"]),
            *(f"{row[c + '_mean']:.5g} +- {row.get(c + '_ci95', float('nan')):.2g}" for c in cols),
            f"{row['mean_rank']:.2f} ({row['mean_rank_low']:.2f}-{row['mean_rank_high']:.2f})",
        )
    if "ridge_val_skill_target" in baselines:  # the LSTM task: loss 1 is persistence, 1 - skill for ridge
        for name, loss, test in (
            ("persistence", 1.0, 0.0),
            ("ridge", 1 - baselines["ridge_val_skill_target"], baselines["ridge_test_skill"]),
        ):
            cells = {"best_loss": f"{loss:.5g}", "test_skill": f"{test:+.4f}"}
            table.add_row(f"[italic]{name} baseline[/]", *(cells.get(c, "-") for c in cols), "")
    console.print(table)


def compare_defaults(args) -> None:
    if args.max_resource is None:
        args.max_resource = 81 if args.task == "svc" else 9
    if args.budget is None:
        from ..brackets import continued_budget, hyperband_plan

        args.budget = 2 * continued_budget(hyperband_plan(args.max_resource, args.eta))


def summary_markdown(raw, title: str) -> str:
    """Markdown tables of a comparison's raw rows: the best validation loss, and the held-out
    score of each run's best config (test skill or accuracy, higher is better) when there is one.
    ``python benchmarks/summarize_compare.py DIR`` re-renders a committed comparison with it."""
    from ..strategies import stats_markdown, summarize_stats

    tables = [stats_markdown(summarize_stats(raw), title=f"{title}: best validation loss")]
    test_metric = next((m for m in ("test_skill", "test_accuracy") if m in raw and raw[m].notna().any()), None)
    if test_metric is not None:
        on_test = summarize_stats(raw, metric=test_metric, higher_is_better=True)
        tables.append(stats_markdown(on_test, title=f"{title}: {test_metric} of each run's best config"))
    return "\n\n".join(tables) + "\n"
