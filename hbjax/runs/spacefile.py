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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from ..space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform, python_scalar

__all__ = [
    "DISTRIBUTIONS",
    "SETTINGS",
    "SUFFIXES",
    "Experiment",
    "SpaceFileError",
    "check_settings",
    "dump_experiment",
    "entry",
    "fail",
    "is_number",
    "is_space_file",
    "load_experiment",
    "show",
    "space_from_dict",
    "space_to_dict",
]

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SUFFIXES = (".toml", ".json", ".yaml", ".yml")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML bare key; other names are quoted
_EXAMPLE = "lr = {loguniform = [1e-4, 1e-1]}"


class SpaceFileError(ValueError):
    """A search-space or experiment file (or dict) that cannot be used; the message is one line."""


def fail(source: str, where: str | None, problem: str) -> NoReturn:
    raise SpaceFileError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def show(value) -> str:
    """A short one-line repr for messages (junk can be huge or recursive)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        text = "<a very large number>"
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} (a boolean)" if isinstance(value, bool) else text


def _one_line(message) -> str:
    return " ".join(str(message).split())


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return is_number(value) and isinstance(value, numbers.Integral)


def _is_finite(value) -> bool:
    return _is_int(value) or (is_number(value) and math.isfinite(value))


def _kind(value) -> str:
    names = {dict: "a table", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def entry(name: str) -> str:
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
    return f"unknown {what} {show(name)}{hint}; allowed: {', '.join(allowed)}"


def check_settings(settings, *, source: str = "<settings>") -> dict:
    """The settings as a plain dict, each checked against ``SETTINGS``."""
    if not isinstance(settings, Mapping):
        fail(source, "settings", f"must be a table of run settings, got {_kind(settings)}")
    for name, value in settings.items():
        if name not in SETTINGS:
            fail(source, None, _unknown("setting", name, list(SETTINGS)))
        if not SETTINGS[name].accepts(value):
            fail(source, f"settings.{name}", f"must be {SETTINGS[name].requires}, got {show(value)}")
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
                fail(
                    "<space>",
                    entry(name),
                    f"choice option {show(bad[0])} cannot be written to a file (only numbers, strings and booleans)",
                )
            out[name] = {"choice": options}
        else:
            kind = {Uniform: "uniform", LogUniform: "loguniform", IntUniform: "int"}[type(dim)]
            out[name] = {kind: [python_scalar(dim.low), python_scalar(dim.high)]}
    return out


def _bounds(kind: str, value, source: str, where: str) -> tuple:
    if not (isinstance(value, list) and len(value) == 2):
        fail(source, where, f"{kind} needs [low, high], got {show(value)}")
    low, high = value
    if kind == "int" and not (_is_int(low) and _is_int(high)):
        fail(source, where, f"int needs integer bounds [low, high], got {show(value)}")
    if not (is_number(low) and is_number(high)):
        fail(source, where, f"{kind} bounds must be numbers, got {show(value)}")
    if not (_is_finite(low) and _is_finite(high)):
        fail(source, where, f"{kind} bounds must be finite, got {show(value)}")
    rule = {
        "uniform": ("low < high", low < high),
        "int": ("low <= high", low <= high),
        "loguniform": ("0 < low < high", 0 < low < high),
    }[kind]
    if not rule[1]:
        fail(source, where, f"{kind} needs {rule[0]}, got {show(value)}")
    return low, high


def _choice(options, source: str, where: str) -> Choice:
    if not isinstance(options, list):
        fail(source, where, f"choice needs a list of options, got {show(options)}")
    if not options:
        fail(source, where, "choice needs at least one option, got []")
    for option in options:
        if not (isinstance(option, (str, bool)) or _is_finite(option)):
            fail(source, where, f"choice options must be finite numbers, strings or booleans, got {show(option)}")
    seen = [repr(o) for o in options]  # space.py's notion of distinct: 1 and 1.0 differ
    twice = next((o for o, r in zip(options, seen) if seen.count(r) > 1), None)
    if twice is not None:
        fail(source, where, f"choice options must be distinct, got {show(twice)} twice")
    return IntChoice(options) if all(_is_int(o) for o in options) else Choice(options)


def _dimension(value, source: str, where: str):
    if isinstance(value, (str, bool)) or is_number(value):  # a bare value is a constant
        return _choice([value], source, where)
    if isinstance(value, list):
        fail(
            source,
            where,
            f"a bare list is ambiguous: write {{choice = [...]}} or {{uniform = [low, high]}}, got {show(value)}",
        )
    if not isinstance(value, dict):
        fail(source, where, f"must be a distribution such as {{uniform = [0, 1]}}, got {_kind(value)}")
    if len(value) != 1:
        names = ", ".join(map(show, value)) or "none"
        fail(source, where, f"give exactly one distribution ({', '.join(DISTRIBUTIONS)}), got {names}")
    ((kind, args),) = value.items()
    if kind not in DISTRIBUTIONS:
        fail(source, where, _unknown("distribution", kind, DISTRIBUTIONS))
    if kind == "choice":
        return _choice(args, source, where)
    low, high = _bounds(kind, args, source, where)
    return {"uniform": Uniform, "loguniform": LogUniform, "int": IntUniform}[kind](low, high)


def space_from_dict(d, *, source: str = "<space>") -> Space:
    """A ``Space`` from ``space_to_dict``'s shape (or a file's [space] table); see the module doc."""
    if not isinstance(d, Mapping):
        fail(source, "space", f"must be a table of hyperparameters, got {_kind(d)}")
    if not d:
        fail(source, "space", f"is empty; give at least one hyperparameter, e.g. {_EXAMPLE}")
    dims = {}
    for name, value in d.items():
        if not (isinstance(name, str) and name):
            fail(source, "space", f"hyperparameter names must be non-empty strings, got {show(name)}")
        where = entry(name)
        try:
            dims[name] = _dimension(value, source, where)
        except SpaceFileError:
            raise
        except (ValueError, TypeError, ArithmeticError) as err:  # space.py's own rules, worded by it
            fail(source, where, str(err))
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
        fail(str(path), None, f"unknown file type {suffix or '(none)'!r}; use {', '.join(SUFFIXES)}")
    return ".yaml" if suffix == ".yml" else suffix


@functools.cache
def _yaml():
    """PyYAML with 1e-4 read as a float (YAML 1.1 wants 1.0e-4) and such strings quoted on write."""
    import yaml  # an ImportError is worded by _MISSING

    number = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9_]+)[eE][-+]?[0-9]+$")
    loader = type("Loader", (yaml.SafeLoader,), {})
    dumper = type("Dumper", (yaml.SafeDumper,), {})
    for cls in (loader, dumper):
        cls.add_implicit_resolver("tag:yaml.org,2002:float", number, list("-+0123456789."))
    # PyYAML reads a raw U+0085 or U+2028 in a plain string as a line break: escape such strings
    dumper.add_representer(
        str,
        lambda d, s: d.represent_scalar(
            "tag:yaml.org,2002:str", s, style='"' if any(not " " <= c <= "~" for c in s) else None
        ),
    )
    return yaml, loader, dumper


_MISSING = {
    ".toml": "reading TOML needs Python 3.11+ or: pip install tomli",
    ".yaml": "YAML files need PyYAML: pip install pyyaml (or use .toml or .json)",
}


def _json_object(pairs) -> dict:
    """JSON keeps the last of two equal keys silently; TOML refuses them, and so do we."""
    keys = [k for k, _ in pairs]
    twice = [k for k in keys if keys.count(k) > 1]
    if twice:
        raise ValueError(f"key {show(twice[0])} appears twice")
    return dict(pairs)


def _parse(text: str, suffix: str, source: str):
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text, object_pairs_hook=_json_object)
        yaml, loader, _ = _yaml()
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            fail(source, None, f"invalid YAML: {_one_line(getattr(err, 'problem', None) or err)}{where}")
    except SpaceFileError:
        raise
    except ImportError:
        fail(source, None, _MISSING[suffix])
    except (ValueError, RecursionError) as err:  # the decoders' errors carry the line and column
        fail(source, None, f"invalid {suffix[1:].upper()}: {_one_line(err) or type(err).__name__}")


def load_experiment(path) -> Experiment:
    """Read and check a space file; its [settings] are checked against ``SETTINGS``."""
    path = Path(path)
    source, suffix = str(path), _suffix(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        fail(source, None, "no such file")
    except UnicodeDecodeError as err:
        fail(source, None, f"not UTF-8 text ({err.reason} at byte {err.start})")
    except OSError as err:
        fail(source, None, f"cannot read it: {err.strerror or err}")
    doc = _parse(text, suffix, source)
    if not isinstance(doc, dict):
        fail(source, None, f"the top level must be a table holding [space], got {_kind(doc)}")
    for key in doc:
        if key not in ("settings", "space"):
            fail(source, None, _unknown("top-level key", key, ["settings", "space"]))
    if "space" not in doc:
        fail(source, None, f"no [space] table; add one with a line per hyperparameter, e.g. {_EXAMPLE}")
    settings = check_settings(doc.get("settings", {}), source=source)
    return Experiment(space_from_dict(doc["space"], source=source), settings, source)


def _toml_string(text: str) -> str:
    escaped = "".join(
        "\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text
    )
    return f'"{escaped}"'


def _toml_value(value) -> str:
    """An inline TOML value: enough for space and settings tables (and junk in tests)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_int(value):
        return str(int(value))
    if is_number(value):
        value = float(value)
        return repr(value) if math.isfinite(value) else "nan" if value != value else "inf" if value > 0 else "-inf"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise SpaceFileError(f"cannot write {show(value)} as TOML")


def _toml_key(key) -> str:
    if not isinstance(key, str):
        raise SpaceFileError(f"TOML keys must be strings, got {show(key)}")
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _render(doc: dict, suffix: str) -> str:
    if suffix == ".toml":
        tables = [
            f"[{name}]\n" + "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in body.items())
            for name, body in doc.items()
        ]
        return "# hbjax experiment (hbjax run --space FILE)\n\n" + "\n".join(tables)
    if suffix == ".json":  # one line per entry
        tables = [
            f'  "{name}": {{' + ",".join(f"\n    {json.dumps(k)}: {json.dumps(v)}" for k, v in body.items()) + "\n  }"
            for name, body in doc.items()
        ]
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
        fail(str(path), None, _MISSING[suffix])
    return path
