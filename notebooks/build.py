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
               "Small settings so this runs on a laptop CPU in about a minute: R=3 epochs, the most recent "
               "walk-forward fold. For the reference task use `max_resource=100` and all 5 folds (on a GPU)."),
        ("code", "%matplotlib inline\nimport hbjax as hb\nfrom hbjax.data import StockTask, load_nvda\n"
                 "from hbjax.lstm.backend import LSTMBackend, demo_space\n\n"
                 "task = StockTask(load_nvda(), max_folds=1)\nprint(task.describe())"),
        ("md", "Naive baselines first: persistence (tomorrow's close = today's) and ridge on the same windows."),
        ("code", "baselines = task.baselines(20)\n{k: round(v, 5) for k, v in baselines.items() if isinstance(v, float)}"),
        ("code", "search = hb.Hyperband(demo_space(), max_resource=3, eta=3, seed=0)\nprint(search.describe())\n"
                 "backend = LSTMBackend(task, seed=0)\nresult = search.run(backend)\nprint(result.summary())\n"
                 "print('compiles:', backend.compiles)"),
        ("code", "result.to_frame().head(10)"),
        ("code", "from hbjax.plots import plot_brackets, plot_losses\nplot_losses(result.to_frame());\n"
                 "plot_brackets(search.plan);"),
        ("code", "test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)\n"
                 "print(f\"best config test MSE {test['test_mse']:.4g} vs persistence {test['persistence_test_mse']:.4g} (standardised)\")"),
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
                 "from hbjax.sklearn_backend import SklearnBackend, as_space\nfrom hbjax.strategies import compare, summarize\n"
                 "from hbjax.plots import plot_comparison\n\nX, y = load_digits(return_X_y=True)\n"
                 "space = as_space({'C': [0.1, 1, 10, 100], 'gamma': ['scale', 'auto', 0.1, 1, 10]})\n"
                 "make_backend = lambda seed: SklearnBackend(SVC(), X / 16, y, max_resource=81, cv=3, random_state=seed)"),
        ("code", "raw = compare(['hyperband', 'random', 'bo', 'ga', 'bohb'], make_backend, space, budget=1000, seeds=[0, 1], max_resource=81)\n"
                 "summarize(raw)"),
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
