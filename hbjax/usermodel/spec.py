"""``--model FILE.py:factory``: a user's model for the command line.

``factory()`` (no arguments) returns a mapping with the keywords of ``FlaxBackend``: ``model``,
``optimizer``, ``loss``, ``data`` and optionally ``metric``, ``direction``, ``batch_size``,
``traced``, ``train_flag``, plus ``space`` (the default search space, an ``hbjax.Space``; ``--space FILE``
overrides it). Loading checks all of it and names the first problem (``ValueError``: the CLI
prints one ``error:`` line and exits 2).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from ..space import Space

__all__ = ["MODEL_KEYS", "REQUIRED_KEYS", "import_factory", "load_model_spec"]

REQUIRED_KEYS = ("model", "optimizer", "loss", "data")
MODEL_KEYS = (*REQUIRED_KEYS, "metric", "direction", "batch_size", "traced", "train_flag")


def import_factory(reference: str, *, option: str = "--model"):
    """``"path/to/file.py:name"`` -> the callable ``name`` of that file, imported as ``python
    FILE.py`` runs it (its folder first on ``sys.path``, so its neighbours import)."""
    if not isinstance(reference, str) or ":" not in reference:
        raise ValueError(f"{option} must be FILE.py:FACTORY (a Python file and the function in it), got {reference!r}")
    path_text, name = reference.rsplit(":", 1)
    path = Path(path_text)
    if path.suffix != ".py":
        raise ValueError(f"{option} {reference!r}: {path} is not a .py file")
    if not path.is_file():
        raise ValueError(f"{option} {reference!r}: {path} does not exist")
    module_name = f"hbjax_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # as `python FILE.py` does: the file's neighbours import
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - the user's file: say what broke, not where inside hbjax
        raise ValueError(f"{option} {reference!r}: importing {path} failed: {type(err).__name__}: {err}") from None
    factory = getattr(module, name, None)
    if factory is None:
        raise ValueError(f"{option} {reference!r}: {path} defines no {name!r}")
    if not callable(factory):
        raise ValueError(f"{option} {reference!r}: {name} is not a function")
    return factory


def load_model_spec(reference: str) -> dict:
    """``"path/to/file.py:factory"`` -> the checked spec dict (``space`` may be None)."""
    factory = import_factory(reference, option="--model")
    name = reference.rsplit(":", 1)[1]
    try:
        out = factory()
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"--model {reference!r}: {name}() failed: {type(err).__name__}: {err}") from None
    if not isinstance(out, Mapping):
        raise ValueError(
            f"--model {reference!r}: {name}() must return a dict with {', '.join(REQUIRED_KEYS)} "
            f"(and optionally metric, direction, batch_size, traced, train_flag, space); got {type(out).__name__}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in out]
    unknown = sorted(set(out) - set(MODEL_KEYS) - {"space"})
    if missing:
        raise ValueError(f"--model {reference!r}: {name}() returned no {', '.join(missing)}")
    if unknown:
        raise ValueError(
            f"--model {reference!r}: {name}() returned unknown key(s) {unknown}; known: "
            f"{', '.join((*MODEL_KEYS, 'space'))}"
        )
    space = out.get("space")
    if space is not None and not isinstance(space, Space):
        raise ValueError(f"--model {reference!r}: 'space' must be an hbjax.Space, got {type(space).__name__}")
    return dict(out)
