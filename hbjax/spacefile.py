"""Experiment files: a search space and optional run settings in one TOML, JSON or YAML file.

The format is chosen by the suffix (``.toml``, ``.json``, ``.yaml``/``.yml``; YAML needs PyYAML)::

    [settings]                  # optional; names of the `hbjax run` options, with underscores
    max_resource = 9
    eta = 3

    [space]                     # one line per hyperparameter
    lr = {loguniform = [1e-4, 1e-1]}    # exp(U(log low, log high)), needs 0 < low < high
    dropout = {uniform = [0.0, 0.5]}    # U(low, high), needs low < high
    layers = {int = [1, 3]}             # an integer in low..high, both included (low <= high)
    hidden = {choice = [16, 32]}        # one of the options (numbers, strings or booleans)
    activation = "tanh"                 # a bare value is a constant: choice = ["tanh"]

A ``choice`` whose options are all integers is an ``IntChoice``, otherwise a ``Choice``. A bare
list is refused (it could mean options or bounds). JSON and YAML hold the same tables:
``{"space": {"lr": {"loguniform": [0.0001, 0.1]}}}``. Every problem raises ``SpaceFileError``
with one line naming the file, the entry and the problem.
"""
from __future__ import annotations

import difflib
import functools
import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, NoReturn


from .space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform, python_scalar

__all__ = ["SpaceFileError", "Experiment", "SETTINGS", "DISTRIBUTIONS", "SUFFIXES", "is_space_file",
           "space_to_dict", "space_from_dict", "check_settings", "load_experiment", "dump_experiment",
           "check_for_lstm"]

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SUFFIXES = (".toml", ".json", ".yaml", ".yml")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML bare key; other names are quoted
_EXAMPLE = "lr = {loguniform = [1e-4, 1e-1]}"


class SpaceFileError(ValueError):
    """A search-space or experiment file (or dict) that cannot be used; the message is one line."""


def _fail(source: str, where: str | None, problem: str) -> NoReturn:
    raise SpaceFileError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def _show(value) -> str:
    """A short one-line repr for messages (junk can be huge or recursive)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        text = "<a very large number>"
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} (a boolean)" if isinstance(value, bool) else text


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return _is_number(value) and isinstance(value, numbers.Integral)


def _is_finite(value) -> bool:
    return _is_int(value) or (_is_number(value) and math.isfinite(value))


def _kind(value) -> str:
    names = {dict: "a table", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _entry(name: str) -> str:
    """``space.lr``; an odd name is quoted so the message stays one line."""
    return f"space.{name}" if _BARE_KEY.fullmatch(name) else f"space[{name!r}]"


# ------------------------------------------------------------------------------ settings
class Setting(NamedTuple):
    requires: str  # said in the error message: "must be <requires>"
    accepts: Callable[[Any], bool]


def _int_at_least(low: int) -> Setting:
    return Setting(f"an integer >= {low}", lambda v: _is_int(v) and v >= low)


def _one_of(*names: str) -> Setting:
    return Setting("one of " + ", ".join(names), lambda v: v in names)


_TEXT = Setting("a non-empty string", lambda v: isinstance(v, str) and v != "")

#: The run settings a file may hold: the `hbjax run` option names (argparse dests), with their rules.
SETTINGS: dict[str, Setting] = {
    "max_resource": Setting("a number > 0", lambda v: _is_finite(v) and v > 0),
    "eta": _int_at_least(2),
    "seed": _int_at_least(0),  # NumPy generators refuse negative seeds
    "hyperband_iterations": _int_at_least(1),
    "data": _TEXT,
    "target": _one_of("relative", "close", "return", "level"),
    "window": _int_at_least(1),
    "folds": _int_at_least(1),
    "train_size": _int_at_least(1),
    "val_size": _int_at_least(1),
    "test_size": _int_at_least(1),
    "plan": _one_of("auto", "exact", "wide"),
    "precision": _one_of("highest", "default"),
    "configs_per_program": _int_at_least(1),
    "waves": Setting("true or false", lambda v: isinstance(v, bool)),
    "repeats": _int_at_least(1),
    "out": _TEXT,
}


def _unknown(what: str, name, allowed) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75) if isinstance(name, str) else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {_show(name)}{hint}; allowed: {', '.join(allowed)}"


def check_settings(settings, *, source: str = "<settings>") -> dict:
    """The settings as a plain dict, each checked against ``SETTINGS``."""
    if not isinstance(settings, Mapping):
        _fail(source, "settings", f"must be a table of run settings, got {_kind(settings)}")
    for name, value in settings.items():
        if name not in SETTINGS:
            _fail(source, None, _unknown("setting", name, list(SETTINGS)))
        if not SETTINGS[name].accepts(value):
            _fail(source, f"settings.{name}", f"must be {SETTINGS[name].requires}, got {_show(value)}")
    return {name: python_scalar(value) for name, value in settings.items()}


# ------------------------------------------------------------------------------ space <-> dict
def space_to_dict(space: Space) -> dict:
    """``{name: {distribution: [...]}}``, plain Python scalars, in the space's order."""
    out = {}
    for name, dim in space.dims.items():
        if isinstance(dim, Choice):
            options = [python_scalar(o) for o in dim.options]
            bad = [o for o in options if not (isinstance(o, (str, bool)) or _is_finite(o))]
            if bad:
                _fail("<space>", _entry(name), f"choice option {_show(bad[0])} cannot be written to a file "
                                                  "(only numbers, strings and booleans)")
            out[name] = {"choice": options}
        else:
            kind = {Uniform: "uniform", LogUniform: "loguniform", IntUniform: "int"}[type(dim)]
            out[name] = {kind: [python_scalar(dim.low), python_scalar(dim.high)]}
    return out


def _bounds(kind: str, value, source: str, where: str) -> tuple:
    if not (isinstance(value, list) and len(value) == 2):
        _fail(source, where, f"{kind} needs [low, high], got {_show(value)}")
    low, high = value
    if kind == "int" and not (_is_int(low) and _is_int(high)):
        _fail(source, where, f"int needs integer bounds [low, high], got {_show(value)}")
    if not (_is_number(low) and _is_number(high)):
        _fail(source, where, f"{kind} bounds must be numbers, got {_show(value)}")
    if not (_is_finite(low) and _is_finite(high)):
        _fail(source, where, f"{kind} bounds must be finite, got {_show(value)}")
    rule = {"uniform": ("low < high", low < high), "int": ("low <= high", low <= high),
            "loguniform": ("0 < low < high", 0 < low < high)}[kind]
    if not rule[1]:
        _fail(source, where, f"{kind} needs {rule[0]}, got {_show(value)}")
    return low, high


def _choice(options, source: str, where: str) -> Choice:
    if not isinstance(options, list):
        _fail(source, where, f"choice needs a list of options, got {_show(options)}")
    if not options:
        _fail(source, where, "choice needs at least one option, got []")
    for option in options:
        if not (isinstance(option, (str, bool)) or _is_finite(option)):
            _fail(source, where, f"choice options must be finite numbers, strings or booleans, got {_show(option)}")
    seen = [repr(o) for o in options]  # space.py's notion of distinct: 1 and 1.0 differ
    twice = next((o for o, r in zip(options, seen) if seen.count(r) > 1), None)
    if twice is not None:
        _fail(source, where, f"choice options must be distinct, got {_show(twice)} twice")
    return IntChoice(options) if all(_is_int(o) for o in options) else Choice(options)


def _dimension(value, source: str, where: str):
    if isinstance(value, (str, bool)) or _is_number(value):  # a bare value is a constant
        return _choice([value], source, where)
    if isinstance(value, list):
        _fail(source, where, f"a bare list is ambiguous: write {{choice = [...]}} or {{uniform = [low, high]}}, "
                             f"got {_show(value)}")
    if not isinstance(value, dict):
        _fail(source, where, f"must be a distribution such as {{uniform = [0, 1]}}, got {_kind(value)}")
    if len(value) != 1:
        names = ", ".join(map(_show, value)) or "none"
        _fail(source, where, f"give exactly one distribution ({', '.join(DISTRIBUTIONS)}), got {names}")
    (kind, args), = value.items()
    if kind not in DISTRIBUTIONS:
        _fail(source, where, _unknown("distribution", kind, DISTRIBUTIONS))
    if kind == "choice":
        return _choice(args, source, where)
    low, high = _bounds(kind, args, source, where)
    return {"uniform": Uniform, "loguniform": LogUniform, "int": IntUniform}[kind](low, high)


def space_from_dict(d, *, source: str = "<space>") -> Space:
    """A ``Space`` from ``space_to_dict``'s shape (or a file's [space] table); see the module doc."""
    if not isinstance(d, Mapping):
        _fail(source, "space", f"must be a table of hyperparameters, got {_kind(d)}")
    if not d:
        _fail(source, "space", f"is empty; give at least one hyperparameter, e.g. {_EXAMPLE}")
    dims = {}
    for name, value in d.items():
        if not (isinstance(name, str) and name):
            _fail(source, "space", f"hyperparameter names must be non-empty strings, got {_show(name)}")
        where = _entry(name)
        try:
            dims[name] = _dimension(value, source, where)
        except SpaceFileError:
            raise
        except (ValueError, TypeError, ArithmeticError) as err:  # space.py's own rules, worded by it
            _fail(source, where, str(err))
    return Space(dims)


# ------------------------------------------------------------------------------ files
@dataclass(frozen=True)
class Experiment:
    """A loaded file: its space, its settings (maybe empty) and where it came from."""

    space: Space
    settings: dict = field(default_factory=dict)
    source: str = "<experiment>"


def is_space_file(name) -> bool:
    """Whether a ``--space`` value names a file (by suffix) rather than a built-in space."""
    return Path(str(name)).suffix.lower() in SUFFIXES


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        _fail(str(path), None, f"unknown file type {suffix or '(none)'!r}; use {', '.join(SUFFIXES)}")
    return ".yaml" if suffix == ".yml" else suffix


@functools.lru_cache(maxsize=None)
def _yaml():
    """PyYAML with 1e-4 read as a float (YAML 1.1 wants 1.0e-4) and such strings quoted on write."""
    import yaml  # an ImportError is worded by _MISSING
    number = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9_]+)[eE][-+]?[0-9]+$")
    loader = type("Loader", (yaml.SafeLoader,), {})
    dumper = type("Dumper", (yaml.SafeDumper,), {})
    for cls in (loader, dumper):
        cls.add_implicit_resolver("tag:yaml.org,2002:float", number, list("-+0123456789."))
    # PyYAML reads a raw U+0085 or U+2028 in a plain string as a line break: escape such strings
    dumper.add_representer(str, lambda d, s: d.represent_scalar(
        "tag:yaml.org,2002:str", s, style='"' if any(not " " <= c <= "~" for c in s) else None))
    return yaml, loader, dumper


_MISSING = {".toml": "reading TOML needs Python 3.11+ or: pip install tomli",
            ".yaml": "YAML files need PyYAML: pip install pyyaml (or use .toml or .json)"}


def _json_object(pairs) -> dict:
    """JSON keeps the last of two equal keys silently; TOML refuses them, and so do we."""
    keys = [k for k, _ in pairs]
    twice = [k for k in keys if keys.count(k) > 1]
    if twice:
        raise ValueError(f"key {_show(twice[0])} appears twice")
    return dict(pairs)


def _parse(text: str, suffix: str, source: str):
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text, object_pairs_hook=_json_object)
        yaml, loader, _ = _yaml()
        try:
            return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            _fail(source, None, f"invalid YAML: {_one_line(getattr(err, 'problem', None) or err)}{where}")
    except SpaceFileError:
        raise
    except ImportError:
        _fail(source, None, _MISSING[suffix])
    except (ValueError, RecursionError) as err:  # the decoders' errors carry the line and column
        _fail(source, None, f"invalid {suffix[1:].upper()}: {_one_line(err) or type(err).__name__}")


def load_experiment(path) -> Experiment:
    """Read and check a space file; its [settings] are checked against ``SETTINGS``."""
    path = Path(path)
    source, suffix = str(path), _suffix(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        _fail(source, None, "no such file")
    except UnicodeDecodeError as err:
        _fail(source, None, f"not UTF-8 text ({err.reason} at byte {err.start})")
    except OSError as err:
        _fail(source, None, f"cannot read it: {err.strerror or err}")
    doc = _parse(text, suffix, source)
    if not isinstance(doc, dict):
        _fail(source, None, f"the top level must be a table holding [space], got {_kind(doc)}")
    for key in doc:
        if key not in ("settings", "space"):
            _fail(source, None, _unknown("top-level key", key, ["settings", "space"]))
    if "space" not in doc:
        _fail(source, None, f"no [space] table; add one with a line per hyperparameter, e.g. {_EXAMPLE}")
    settings = check_settings(doc.get("settings", {}), source=source)
    return Experiment(space_from_dict(doc["space"], source=source), settings, source)


def _toml_string(text: str) -> str:
    escaped = "".join("\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c
                      for c in text)
    return f'"{escaped}"'


def _toml_value(value) -> str:
    """An inline TOML value: enough for space and settings tables (and junk in tests)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_int(value):
        return str(int(value))
    if _is_number(value):
        value = float(value)
        return repr(value) if math.isfinite(value) else "nan" if value != value else "inf" if value > 0 else "-inf"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise SpaceFileError(f"cannot write {_show(value)} as TOML")


def _toml_key(key) -> str:
    if not isinstance(key, str):
        raise SpaceFileError(f"TOML keys must be strings, got {_show(key)}")
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _render(doc: dict, suffix: str) -> str:
    if suffix == ".toml":
        tables = [f"[{name}]\n" + "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in body.items())
                  for name, body in doc.items()]
        return "# hbjax experiment (hbjax run --space FILE)\n\n" + "\n".join(tables)
    if suffix == ".json":  # one line per entry
        tables = [f'  "{name}": {{' + ",".join(f"\n    {json.dumps(k)}: {json.dumps(v)}" for k, v in body.items())
                  + "\n  }" for name, body in doc.items()]
        return "{\n" + ",\n".join(tables) + "\n}\n"
    yaml, _, dumper = _yaml()
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=None, allow_unicode=True)


def dump_experiment(path, space: Space, settings: Mapping | None = None) -> Path:
    """Write ``space`` (and ``settings``, checked first) as TOML, JSON or YAML by the suffix."""
    path = Path(path)
    suffix = _suffix(path)
    doc = {"settings": check_settings(settings, source=str(path))} if settings else {}
    doc["space"] = space_to_dict(space)
    try:
        path.write_text(_render(doc, suffix), encoding="utf-8")
    except ImportError:
        _fail(str(path), None, _MISSING[suffix])
    return path


# ------------------------------------------------------------------------------ LSTM check
def _range(dim) -> tuple | None:
    """(min, max) of a dimension's values, or None when some value is not a number."""
    if not isinstance(dim, Choice):
        return dim.low, dim.high
    numbers_ = [o for o in dim.options if _is_number(o)]
    return (min(numbers_), max(numbers_)) if len(numbers_) == len(dim.options) else None


def _lstm_problem(name: str, dim, allowed: dict) -> str | None:
    if name in allowed:
        bad = [o for o in dim.options if o not in allowed[name]] if isinstance(dim, Choice) else [dim]
        return f"must be a choice among {', '.join(allowed[name])}; got {_show(bad[0])}" if bad else None
    span = _range(dim)
    if name == "lr" and not (span and span[0] > 0):
        return "learning rates must be numbers > 0"
    if name == "dropout" and not (span and 0 <= span[0] and span[1] < 1):
        return "dropout rates must lie in [0, 1)"
    if name in ("hidden", "layers", "batch_size", "window") and not (
            isinstance(dim, (IntChoice, IntUniform)) and span[0] >= 1):
        return "must be whole numbers >= 1: an int range or a choice of integers"
    return None


def check_for_lstm(space: Space, *, train_size: int | None = None, window: int = 20,
                   source: str = "<space>") -> None:
    """Raise ``SpaceFileError`` for a space the LSTM backend cannot train. With ``train_size``
    (a fold's training rows) also refuse batches larger than a fold's ``train_size - window``
    training windows; ``window`` is the input window when the space has no window dimension."""
    from .lstm.backend import SHAPE_KEYS, check_space  # imports JAX, so only when asked
    from .lstm.network import ACTIVATIONS
    from .lstm.optim import OPTIMIZERS

    required = ("lr", *SHAPE_KEYS)
    known = (*required, "dropout", "activation", "optimizer", "window")
    missing = [k for k in required if k not in space.dims]
    if missing:
        _fail(source, "space", f"the LSTM backend needs {', '.join(required)}; missing {', '.join(missing)}")
    for name, dim in space.dims.items():
        if name not in known:
            _fail(source, _entry(name), "the LSTM backend does not know this hyperparameter; known: "
                                           + ", ".join(sorted(known)))
        problem = _lstm_problem(name, dim, {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS})
        if problem:
            _fail(source, _entry(name), problem)
    try:
        check_space(space)  # the backend's own rules, should it gain some
    except ValueError as err:
        _fail(source, "space", str(err))
    if train_size is not None:
        where = "space.window" if "window" in space.dims else "settings.window"
        widest = _range(space.dims["window"])[1] if "window" in space.dims else window
        if widest >= train_size:
            _fail(source, where, f"window {widest} must be smaller than train_size {train_size}")
        rows, batch = train_size - widest, _range(space.dims["batch_size"])[1]
        if batch > rows:
            _fail(source, "space.batch_size", f"batch size {batch} exceeds the {rows} training windows of a fold "
                                              f"(train_size {train_size} - window {widest})")
