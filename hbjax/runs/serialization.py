"""Serialisation of a Hyperband run without pickle: the scheduler state as plain JSON (tagged
non-finite floats and tuples, so it round-trips exactly) and the backend's per-config trained
states as flat ``.npz`` arrays whose tree structure is rebuilt from a fresh state of the same shape.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..brackets import Bracket, Rung
from ..scheduler import Observation, RungJob, SchedulerState
from ..space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform
from ..waves import BracketRun, WaveState

__all__ = [
    "CheckpointError",
    "backend_states_from_npz",
    "backend_states_to_npz",
    "decode_value",
    "encode_value",
    "state_from_json",
    "state_to_json",
]


class CheckpointError(ValueError):
    """A run directory that cannot be used: missing, corrupted, foreign or inconsistent."""


# --- values ---------------------------------------------------------------------------------------


def _enc(v: Any) -> Any:
    """A JSON-safe encoding of a Python scalar / tuple / list / dict that round-trips exactly."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return {"__float__": "nan"}
        if math.isinf(v):
            return {"__float__": "inf" if v > 0 else "-inf"}
        return v
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, Mapping):
        if not all(isinstance(k, str) for k in v):
            raise TypeError(f"cannot checkpoint a dict with non-string keys: {v!r}")
        return {"__dict__": {k: _enc(x) for k, x in v.items()}}
    raise TypeError(f"cannot checkpoint a value of type {type(v).__name__}: {v!r}")


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if "__float__" in v:
            return float(v["__float__"])
        if "__tuple__" in v:
            return tuple(_dec(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {k: _dec(x) for k, x in v["__dict__"].items()}
        raise ValueError(f"unknown encoded value {v!r}")
    return v


def _config_enc(c: Mapping) -> dict:
    return {k: _enc(x) for k, x in c.items()}


def _config_dec(c: Mapping) -> dict:
    return {k: _dec(x) for k, x in c.items()}


# --- space, plan, state ----------------------------------------------------------------------------

_DIMS: dict[str, Any] = {
    "Uniform": Uniform,
    "LogUniform": LogUniform,
    "IntUniform": IntUniform,
    "Choice": Choice,
    "IntChoice": IntChoice,
}


def _dim_enc(name: str, dim) -> dict:
    kind = type(dim).__name__
    if kind not in _DIMS or type(dim) is not _DIMS[kind]:
        raise TypeError(f"cannot checkpoint dimension {name!r} of type {kind}")
    if isinstance(dim, Choice):
        return {"name": name, "type": kind, "options": [_enc(o) for o in dim.options]}
    return {"name": name, "type": kind, "low": _enc(dim.low), "high": _enc(dim.high)}


def _dim_dec(d: Mapping):
    cls = _DIMS[d["type"]]
    if issubclass(cls, Choice):
        return cls([_dec(o) for o in d["options"]])
    return cls(_dec(d["low"]), _dec(d["high"]))


def _bracket_enc(b: Bracket | None):
    if b is None:
        return None
    return {
        "s": b.s,
        "n": b.n,
        "r": _enc(b.r),
        "rungs": [[r.index, r.n_configs, _enc(r.resource), r.n_promote] for r in b.rungs],
    }


def _bracket_dec(d):
    if d is None:
        return None
    return Bracket(d["s"], d["n"], _dec(d["r"]), tuple(Rung(i, n, _dec(res), p) for i, n, res, p in d["rungs"]))


def _job_enc(job: RungJob | None):
    if job is None:
        return None
    return {
        "iteration": job.iteration,
        "bracket": job.bracket,
        "bracket_index": job.bracket_index,
        "rung": job.rung,
        "config_ids": list(job.config_ids),
        "configs": [_config_enc(c) for c in job.configs],
        "resource": _enc(job.resource),
        "previous_resource": [_enc(p) for p in job.previous_resource],
    }


def _job_dec(d):
    if d is None:
        return None
    return RungJob(
        d["iteration"],
        d["bracket"],
        d["bracket_index"],
        d["rung"],
        tuple(d["config_ids"]),
        tuple(_config_dec(c) for c in d["configs"]),
        _dec(d["resource"]),
        tuple(_dec(p) for p in d["previous_resource"]),
    )


def _history_enc(history) -> list:
    return [[o.config_id, o.iteration, o.bracket, o.rung, _enc(o.resource), _enc(o.loss), o.promoted] for o in history]


def _history_dec(rows) -> tuple:
    return tuple(Observation(cid, it, b, r, _dec(res), _dec(loss), bool(p)) for cid, it, b, r, res, loss, p in rows)


def _wave_state_to_json(state: WaveState) -> dict:
    return {
        "kind": "waves",
        "space": [_dim_enc(k, v) for k, v in state.space.dims.items()],
        "plan": [_bracket_enc(b) for b in state.plan],
        "eta": state.eta,
        "seed": state.seed,
        "iterations": state.iterations,
        "configs": [_config_enc(c) for c in state.configs],
        "resources": [_enc(r) for r in state.resources],
        "history": _history_enc(state.history),
        "runs": [
            {
                "iteration": r.iteration,
                "bracket_index": r.bracket_index,
                "bracket": _bracket_enc(r.bracket),
                "rung": r.rung,
                "alive": list(r.alive),
                "asked": r.asked,
            }
            for r in state.runs
        ],
        "started": state.started,
        "waves": state.waves,
        "finished": state.finished,
    }


def _wave_state_from_json(d: Mapping) -> WaveState:
    return WaveState(
        space=Space({x["name"]: _dim_dec(x) for x in d["space"]}),
        plan=tuple(_bracket_dec(b) for b in d["plan"]),
        eta=int(d["eta"]),
        seed=int(d["seed"]),
        iterations=int(d["iterations"]),
        configs=tuple(_config_dec(c) for c in d["configs"]),
        resources=tuple(_dec(r) for r in d["resources"]),
        history=_history_dec(d["history"]),
        runs=tuple(
            BracketRun(
                int(r["iteration"]),
                int(r["bracket_index"]),
                _bracket_dec(r["bracket"]),
                int(r["rung"]),
                tuple(int(i) for i in r["alive"]),
                bool(r["asked"]),
            )
            for r in d["runs"]
        ),
        started=bool(d["started"]),
        waves=int(d["waves"]),
        finished=bool(d["finished"]),
    )


def state_to_json(state: SchedulerState | WaveState) -> dict:
    """A JSON-serialisable dict (``json.dumps(..., allow_nan=False)`` works) of ``state``
    (sequential or in waves)."""
    if isinstance(state, WaveState):
        return _wave_state_to_json(state)
    return {
        "space": [_dim_enc(k, v) for k, v in state.space.dims.items()],
        "plan": [_bracket_enc(b) for b in state.plan],
        "eta": state.eta,
        "seed": state.seed,
        "iterations": state.iterations,
        "iteration": state.iteration,
        "bracket_index": state.bracket_index,
        "rung": state.rung,
        "active": _bracket_enc(state.active),
        "alive": list(state.alive),
        "configs": [_config_enc(c) for c in state.configs],
        "resources": [_enc(r) for r in state.resources],
        "history": _history_enc(state.history),
        "pending": _job_enc(state.pending),
        "finished": state.finished,
    }


def state_from_json(d: Mapping) -> SchedulerState | WaveState:
    """Inverse of :func:`state_to_json`; a malformed dict raises :class:`CheckpointError`."""
    try:
        if isinstance(d, Mapping) and d.get("kind") == "waves":
            return _wave_state_from_json(d)
        return SchedulerState(
            space=Space({x["name"]: _dim_dec(x) for x in d["space"]}),
            plan=tuple(_bracket_dec(b) for b in d["plan"]),
            eta=int(d["eta"]),
            seed=int(d["seed"]),
            iterations=int(d["iterations"]),
            iteration=int(d["iteration"]),
            bracket_index=int(d["bracket_index"]),
            rung=int(d["rung"]),
            active=_bracket_dec(d["active"]),
            alive=tuple(d["alive"]),
            configs=tuple(_config_dec(c) for c in d["configs"]),
            resources=tuple(_dec(r) for r in d["resources"]),
            history=_history_dec(d["history"]),
            pending=_job_dec(d["pending"]),
            finished=bool(d["finished"]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise CheckpointError(f"malformed scheduler state: {type(err).__name__}: {err}") from err


# --- trained states ----------------------------------------------------------------------------------


def _leaf_key(cid: int, path) -> str:
    import jax

    return f"c{int(cid)}/{jax.tree_util.keystr(path)}"


def backend_states_to_npz(path, states: Mapping[int, Any], *, extra: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write ``{config_id: pytree}`` as flat arrays ``c<id>/<key path>`` (dtype kept, no pickle)."""
    import jax

    arrays: dict[str, np.ndarray] = {}
    for cid, tree in states.items():
        for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            arrays[_leaf_key(cid, p)] = np.asarray(leaf)
    arrays.update(extra or {})
    path = Path(path)
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a "*.tmp" name
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        f.flush()
        os.fsync(f.fileno())
    return path


def _npz_ids(npz) -> list[int]:
    ids = set()
    for k in npz.files:
        if k.startswith("c") and "/" in k:
            ids.add(int(k[1 : k.index("/")]))
    return sorted(ids)


def backend_states_from_npz(path, like: Callable[[int], Any] | Any, ids=None) -> dict:
    """``{config_id: pytree}`` read from ``path``. ``like`` is a template pytree (same structure and
    shapes for every config) or ``like(config_id) -> template``, e.g. a freshly initialised state;
    ``ids``: which configs (default: all in the file). Shapes and dtypes are checked."""
    import jax
    import jax.numpy as jnp

    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable .npz file: {err}") from err
    out = {}
    with npz:
        for cid in _npz_ids(npz) if ids is None else ids:
            template = like(cid) if callable(like) else like
            leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
            restored = []
            for p, leaf in leaves:
                key = _leaf_key(cid, p)
                if key not in npz.files:
                    raise CheckpointError(f"{path} lacks array {key!r} (config {cid})")
                arr = npz[key]
                ref = np.asarray(leaf)
                if arr.shape != ref.shape or arr.dtype != ref.dtype:
                    raise CheckpointError(
                        f"{path}: {key!r} is {arr.dtype}{list(arr.shape)}, expected {ref.dtype}{list(ref.shape)}"
                    )
                restored.append(jnp.asarray(arr))
            out[cid] = jax.tree_util.tree_unflatten(treedef, restored)
    return out


encode_value, decode_value = _enc, _dec  # public names for the run directory's timings
