"""Writes the notebooks from the cells below and executes them, so they are committed WITH their
outputs (plots visible on a code host): `python notebooks/build.py` (a few minutes on 2 CPU cores;
`--no-execute` writes them without outputs). The test suite re-executes them with the small
settings written here (tests/test_notebooks.py)."""
import sys
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent

NOTEBOOKS = {
    "quickstart.ipynb": [
        ("md", "# hbjax quickstart: Hyperband over LSTMs on NVDA\n"
               "Every rung is planned as a few compiled programs that configs of different shapes share; "
               "survivors continue from their weights.\n"
               "The target is scale-free: each input window is divided by its last close, and the model predicts "
               "the next day's log return. Results are given as **skill** against persistence (tomorrow = today): "
               "1 - MSE / persistence's MSE, so 0 is doing nothing and > 0 is better.\n"
               "Small settings so this runs on a laptop CPU in about a minute: R=3 epochs, the most recent "
               "walk-forward fold. For the reference task use `max_resource=100` and all 5 folds (on a GPU)."),
        ("code", "%matplotlib inline\nimport hbjax as hb\nfrom hbjax.data import SeriesTask, load_delhi_climate, load_nvda\n"
                 "from hbjax.lstm.backend import LSTMBackend, demo_space\n\n"
                 "task = SeriesTask(load_nvda(), max_folds=1)\nprint(task.describe())"),
        ("md", "Naive baselines first: persistence and ridge regression on the same windows, as skill."),
        ("code", "baselines = task.baselines(20)\n{k: round(v, 4) for k, v in baselines.items() if 'skill' in k and isinstance(v, float)}"),
        ("code", "search = hb.Hyperband(demo_space(), max_resource=3, eta=3, seed=0)\nprint(search.describe())\n"
                 "backend = LSTMBackend(task, seed=0)\nresult = search.run(backend)\nprint(result.summary())\n"
                 "print(f'best validation skill {1 - result.best_loss:+.4f} (the loss is MSE / persistence MSE)')\n"
                 "print('compiles:', backend.compiles)"),
        ("code", "result.to_frame().head(10)"),
        ("code", "from hbjax.plots import plot_brackets, plot_losses\nplot_losses(result.to_frame());\n"
                 "plot_brackets(search.plan);"),
        ("code", "test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)\n"
                 "print(f\"test skill {test['test_skill']:+.4f} (ridge {baselines['ridge_test_skill']:+.4f}); \"\n"
                 "      f\"Diebold-Mariano p vs persistence {test['vs_persistence_p']:.2g}\")"),
        ("md", "## A series with signal: daily temperature in Delhi\n"
               "Day-to-day stock returns are close to unpredictable, so a tuned LSTM can at best match persistence. "
               "A temperature series has structure; the same code on it:"),
        ("code", "climate = SeriesTask(load_delhi_climate(), max_folds=2)\nprint(climate.describe())\n"
                 "base = climate.baselines(20)\n"
                 "climate_backend = LSTMBackend(climate, seed=0)\n"
                 "climate_result = hb.Hyperband(demo_space(), max_resource=3, eta=3, seed=0).run(climate_backend)\n"
                 "climate_test = climate_backend.evaluate_on_test(climate_result.best_config, climate_result.best_resource,\n"
                 "                                                config_id=climate_result.best_config_id)\n"
                 "print(f\"validation skill {1 - climate_result.best_loss:+.3f} (ridge {base['ridge_val_skill_target']:+.3f}, \"\n"
                 "      f\"seasonal naive {base['seasonal_naive_val_skill']:+.3f}); test skill {climate_test['test_skill']:+.3f} \"\n"
                 "      f\"(ridge {base['ridge_test_skill']:+.3f}), Diebold-Mariano p {climate_test['vs_persistence_p']:.2g}\")"),
    ],
    "svc_walkthrough.ipynb": [
        ("md", "# The scikit-learn fallback: SVC over C x gamma, R=81, eta=3\n"
               "Resource = training samples (R units = the whole training set), as `HalvingGridSearchCV`."),
        ("code", "import time\nfrom sklearn.datasets import load_digits\nfrom sklearn.experimental import enable_halving_search_cv  # noqa: F401\n"
                 "from sklearn.model_selection import HalvingGridSearchCV, train_test_split\nfrom sklearn.svm import SVC\n"
                 "from hbjax.sklearn_backend import HyperbandSearchCV\n\n"
                 "X, y = load_digits(return_X_y=True)\nX_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)\n"
                 "grid = {'C': [0.1, 1, 10, 100], 'gamma': ['scale', 'auto', 0.1, 1, 10]}"),
        ("code", "t0 = time.perf_counter()\nhb_search = HyperbandSearchCV(SVC(), grid, max_resource=81, eta=3, cv=3, random_state=0).fit(X_train, y_train)\n"
                 "hb_seconds = time.perf_counter() - t0\nt0 = time.perf_counter()\n"
                 "halving = HalvingGridSearchCV(SVC(), grid, factor=3, cv=3, random_state=0).fit(X_train, y_train)\n"
                 "halving_seconds = time.perf_counter() - t0\n"
                 "for name, s, sec in [('hbjax Hyperband', hb_search, hb_seconds), ('HalvingGridSearchCV', halving, halving_seconds)]:\n"
                 "    print(f'{name:20s} {s.best_params_} cv {s.best_score_:.4f} test {s.score(X_test, y_test):.4f} {sec:.1f} s')"),
        ("code", "import pandas as pd\npd.DataFrame(hb_search.cv_results_)[['bracket', 'rung', 'resource', 'param_C', 'param_gamma', 'mean_test_score', 'promoted']].head(12)"),
    ],
    "method_comparison.ipynb": [
        ("md", "# Methods at equal budget\nHyperband, random search, GP Bayesian optimisation, a genetic algorithm and BOHB, "
               "each with the same budget, over seeds, on the cheap SVC task. The LSTM comparison runs the same way: "
               "`hbjax compare --task lstm`."),
        ("code", "%matplotlib inline\nfrom sklearn.datasets import load_digits\nfrom sklearn.svm import SVC\n"
                 "from hbjax.sklearn_backend import SklearnBackend, as_space\nfrom hbjax.strategies import compare, stats_markdown, summarize_stats\n"
                 "from hbjax.plots import plot_comparison\n\nX, y = load_digits(return_X_y=True)\n"
                 "space = as_space({'C': [0.1, 1, 10, 100], 'gamma': ['scale', 'auto', 0.1, 1, 10]})\n"
                 "make_backend = lambda seed: SklearnBackend(SVC(), X / 16, y, max_resource=81, cv=3, random_state=seed)"),
        ("code", "raw = compare(['hyperband', 'random', 'bo', 'ga', 'bohb'], make_backend, space, budget=1000, seeds=[0, 1], max_resource=81)\n"
                 "summary = summarize_stats(raw)  # mean, 95% interval, mean rank, Wilcoxon vs Hyperband\n"
                 "summary[['method', 'best_loss_mean', 'best_loss_ci95', 'mean_rank', 'verdict']]"),
        ("md", "Two seeds keep this notebook fast, and they cannot rank the methods: the paired tests say "
               "'not tested'. The committed comparisons (`benchmarks/results/`) run 10 to 30 seeds."),
        ("code", "plot_comparison(raw);"),
    ],
}


def build(execute: bool = True) -> None:
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook()
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        if execute:
            import nbclient

            nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3",
                                    resources={"metadata": {"path": str(HERE)}}).execute()
        nbf.write(nb, HERE / name)
        print(f"wrote {HERE / name}" + (" (executed)" if execute else ""))


if __name__ == "__main__":
    build(execute="--no-execute" not in sys.argv[1:])
