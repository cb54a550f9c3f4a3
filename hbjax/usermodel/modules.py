"""A user's module as pure functions: ``flax.linen`` modules, ``flax.nnx`` modules, and nnx modules
wrapped for linen by ``nnx.bridge.to_linen``, all with the train flag reaching them.

``adapt(module, traced, train_flag)`` gives a ``Forward``: ``apply(params, x, hp, train, rng)``
(``rng``: the step's dropout key when training) and, for linen, ``init(rng, x, hp) -> params``.
The train flag is the ``__call__`` parameter named ``train``, ``training`` or ``is_training``
(passed True while training), or ``deterministic``, ``eval``, ``evaluation``, ``inference``,
``is_eval`` or ``eval_mode`` (passed False while training), or the one ``train_flag`` names
(``"use_dropout"``, or ``"not frozen"`` for a flag that is False while training). An nnx module
is also put in ``.train()`` / ``.eval()`` mode (nnx's ``deterministic`` attributes) and its RNG
streams are reseeded from the step's key, so its dropout draws the engine's per-step masks; its
own constructor made its initial parameters (every fold of a config starts from them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

__all__ = ["EVAL_NAMES", "TRAIN_NAMES", "Forward", "TrainFlag", "adapt"]

TRAIN_NAMES = ("train", "training", "is_training")
EVAL_NAMES = ("deterministic", "eval", "evaluation", "inference", "is_eval", "eval_mode")


class TrainFlag(NamedTuple):
    """The ``__call__`` keyword that says training (None: the module takes none)."""

    name: str | None
    negated: bool = False

    def kwargs(self, train: bool) -> dict:
        return {} if self.name is None else {self.name: (not train) if self.negated else train}

    def describe(self) -> str:
        if self.name is None:
            return "no train flag (its __call__ takes none hbjax knows)"
        return f"{self.name}={'False' if self.negated else 'True'} while training"


class Forward(NamedTuple):
    """A module's forward pass and initialisation as pure functions (see the module doc)."""

    kind: str  # "linen" | "nnx"
    apply: Callable  # (params, x, hp, train, rng=None) -> predictions
    init: Callable | None  # linen: (rng, x, hp) -> params; nnx: None (the module's own parameters)
    params: Any  # nnx: the module's own parameters (a dict of arrays); linen: None
    flag: TrainFlag
    extra: Callable  # (x, hp) -> variable collections or kinds besides the trained parameters (refused)


def _signature(fn) -> tuple[set, bool]:
    """(parameter names, whether it takes **kwargs) of a ``__call__``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return set(), True
    return set(params), any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def find_flag(call, train_flag: str | None) -> tuple[TrainFlag, bool]:
    """The train flag of a ``__call__`` (``train_flag`` names it, else the known names), and
    whether it declares ``hparams``."""
    names, var_kw = _signature(call)
    takes_hparams = "hparams" in names or var_kw
    if train_flag is not None:
        text = str(train_flag).strip()
        negated = text.startswith("not ")
        name = text[4:].strip() if negated else text
        if not name.isidentifier():
            raise ValueError(
                f"train_flag must name a keyword of the module's __call__ (e.g. 'training', or "
                f"'not deterministic' for one that is False while training), got {train_flag!r}"
            )
        if name not in names and not var_kw:
            raise ValueError(
                f"train_flag={train_flag!r}: the module's __call__ takes no {name!r} (it takes "
                f"{sorted(names - {'self'})})"
            )
        return TrainFlag(name, negated), takes_hparams
    for name in TRAIN_NAMES:
        if name in names:
            return TrainFlag(name, False), takes_hparams
    for name in EVAL_NAMES:
        if name in names:
            return TrainFlag(name, True), takes_hparams
    return TrainFlag(None), takes_hparams


def adapt(module, traced: tuple, train_flag: str | None = None) -> Forward:
    """``module`` (what ``model(config)`` returned) as a ``Forward``; ``ValueError`` if it is no
    flax module."""
    from flax import nnx

    if isinstance(module, nnx.Module):
        return _nnx(module, traced, train_flag)
    if not hasattr(module, "init") or not hasattr(module, "apply"):
        raise ValueError(f"model(config) must return a flax.linen or flax.nnx Module, got {type(module).__name__}")
    call = type(module).__call__
    if isinstance(module, nnx.bridge.ToLinen):  # the bridge's __call__(*args, **kwargs) passes them on
        call = module.nnx_class.__call__  # type: ignore[operator]
    flag, takes_hparams = find_flag(call, train_flag)
    _check_hparams(traced, takes_hparams, module)

    def kwargs(hp, train: bool, rng=None) -> dict:
        kw = flag.kwargs(train)
        if traced:
            kw["hparams"] = hp
        if rng is not None:
            kw["rngs"] = {"dropout": rng}
        return kw

    def apply(params, x, hp, train: bool, rng=None):
        return module.apply({"params": params}, x, **kwargs(hp, train, rng))

    def init(rng, x, hp):
        return module.init({"params": rng, "dropout": jax.random.fold_in(rng, 1)}, x, **kwargs(hp, False))["params"]

    def extra(x, hp) -> tuple:
        variables = jax.eval_shape(
            lambda x, hp: module.init(
                {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, x, **kwargs(hp, False)
            ),
            x,
            hp,
        )
        return tuple(sorted(k for k in variables if k != "params"))

    return Forward("linen", apply, init, None, flag, extra)


def _check_hparams(traced: tuple, takes_hparams: bool, module) -> None:
    if traced and not takes_hparams:
        raise ValueError(
            f"traced={list(traced)} is given but {type(module).__name__}.__call__ takes no `hparams` "
            f"argument: add `hparams=None` to it and read hparams[name], or leave traced= out"
        )


def _nnx(module, traced: tuple, train_flag: str | None) -> Forward:
    from flax import nnx

    flag, takes_hparams = find_flag(type(module).__call__, train_flag)
    _check_hparams(traced, takes_hparams, module)
    graph, param_state, rest = nnx.split(module, nnx.Param, ...)  # type: ignore[misc]
    kinds = {type(v).__name__ for _, v in nnx.iter_graph(module) if isinstance(v, nnx.Variable)}
    extra = tuple(sorted(kinds - {"Param", "RngKey", "RngCount"}))

    def apply(params, x, hp, train: bool, rng=None):
        state = jax.tree.map(lambda a: a, param_state)  # fresh variables inside this trace
        nnx.replace_by_pure_dict(state, params)
        model = nnx.merge(graph, state, jax.tree.map(lambda a: a, rest))
        if rng is not None:  # every RNG stream from the step's key: dropout draws the engine's masks
            tags = sorted({v.tag for _, v in nnx.iter_graph(model) if isinstance(v, nnx.RngKey)})
            keys = {tag: jax.random.fold_in(rng, i) for i, tag in enumerate(tags)}
            nnx.reseed(model, **keys)  # type: ignore[arg-type]
        if train:
            model.train()
        else:
            model.eval()
        kw = flag.kwargs(train)
        if traced:
            kw["hparams"] = hp
        return model(x, **kw)

    params = jax.tree.map(lambda a: a, nnx.to_pure_dict(param_state))
    return Forward("nnx", apply, None, params, flag, lambda x, hp: extra)
