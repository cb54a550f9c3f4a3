"""Checkpoint / resume of a Hyperband run: the scheduler state as JSON, trained states as ``.npz``.

No pickle anywhere: the scheduler state is plain data (JSON with tagged non-finite floats and
tuples), and the backend's per-config trained states are flat arrays in an ``.npz`` whose tree
structure is rebuilt from a freshly initialised state of the same shape.

A run directory holds::

    run.json     {"format": "hbjax-run", "version": 1, "meta": {...CLI arguments...}, ...}
    state.json   the SchedulerState after the last finished rung, and the rung timings
    states.npz   trained (params, opt_state) of the live configs (keys ``c<id>/<key path>``)
    trials.csv   the trials table so far

Every file is written to ``<name>.tmp`` and then moved into place with ``os.replace``; the commit
point is ``state.json`` (``states.npz`` carries the same ``step``, so a kill between the two moves
is detected and rolled forward on load).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import scheduler as sched
from .brackets import Bracket, Rung
from .scheduler import Observation, RungJob, SchedulerState
from .space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform

__all__ = [
    "CheckpointError",
    "RUN_FORMAT",
    "state_to_json",
    "state_from_json",
    "backend_states_to_npz",
    "backend_states_from_npz",
    "RunDirectory",
    "read_run_meta",
    "run_with_checkpoints",
]

RUN_FORMAT = {"format": "hbjax-run", "version": 1}
STATE_FORMAT = {"format": "hbjax-state", "version": 1}


LOCK_NAME = ".hbjax.lock"


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

_DIMS = {"Uniform": Uniform, "LogUniform": LogUniform, "IntUniform": IntUniform, "Choice": Choice,
         "IntChoice": IntChoice}


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
    return {"s": b.s, "n": b.n, "r": _enc(b.r),
            "rungs": [[r.index, r.n_configs, _enc(r.resource), r.n_promote] for r in b.rungs]}


def _bracket_dec(d):
    if d is None:
        return None
    return Bracket(d["s"], d["n"], _dec(d["r"]),
                   tuple(Rung(i, n, _dec(res), p) for i, n, res, p in d["rungs"]))


def _job_enc(job: RungJob | None):
    if job is None:
        return None
    return {"iteration": job.iteration, "bracket": job.bracket, "bracket_index": job.bracket_index,
            "rung": job.rung, "config_ids": list(job.config_ids),
            "configs": [_config_enc(c) for c in job.configs], "resource": _enc(job.resource),
            "previous_resource": [_enc(p) for p in job.previous_resource]}


def _job_dec(d):
    if d is None:
        return None
    return RungJob(d["iteration"], d["bracket"], d["bracket_index"], d["rung"], tuple(d["config_ids"]),
                   tuple(_config_dec(c) for c in d["configs"]), _dec(d["resource"]),
                   tuple(_dec(p) for p in d["previous_resource"]))


def state_to_json(state: SchedulerState) -> dict:
    """A JSON-serialisable dict (``json.dumps(..., allow_nan=False)`` works) of ``state``."""
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
        "history": [[o.config_id, o.iteration, o.bracket, o.rung, _enc(o.resource), _enc(o.loss), o.promoted]
                    for o in state.history],
        "pending": _job_enc(state.pending),
        "finished": state.finished,
    }


def state_from_json(d: Mapping) -> SchedulerState:
    """Inverse of :func:`state_to_json`; a malformed dict raises :class:`CheckpointError`."""
    try:
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
            history=tuple(Observation(cid, it, b, r, _dec(res), _dec(loss), bool(p))
                          for cid, it, b, r, res, loss, p in d["history"]),
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
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    return path


def _npz_ids(npz) -> list[int]:
    ids = set()
    for k in npz.files:
        if k.startswith("c") and "/" in k:
            ids.add(int(k[1:k.index("/")]))
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
        for cid in (_npz_ids(npz) if ids is None else ids):
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
                    raise CheckpointError(f"{path}: {key!r} is {arr.dtype}{list(arr.shape)}, expected "
                                          f"{ref.dtype}{list(ref.shape)}")
                restored.append(jnp.asarray(arr))
            out[cid] = jax.tree_util.tree_unflatten(treedef, restored)
    return out


def _live_ids(state: SchedulerState) -> list[int]:
    ids = set(state.alive if state.active is not None else ())
    if state.pending is not None:
        ids |= set(state.pending.config_ids)
    return sorted(i for i in ids if state.resources[i] > 0)


def _engine(backend):
    engine = getattr(backend, "engine", None)
    return engine if engine is not None and isinstance(getattr(engine, "states", None), dict) else None


def _template_fn(backend, state: SchedulerState):
    from .lstm.plan import shape_key

    engine = _engine(backend)
    window = getattr(backend, "window", getattr(engine, "default_window", 20))
    return lambda cid: engine._fresh_state(shape_key(state.configs[cid], window), cid)


# --- run directory -----------------------------------------------------------------------------------

def _read_json(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: not an hbjax run directory (or an incomplete one)") from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupted (not valid JSON: {err})") from err


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_text(obj) -> str:
    return json.dumps(obj, indent=1, allow_nan=False)


def _meta_safe(obj):
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _meta_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_meta_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class RunDirectory:
    """A checkpointed run on disk (see the module docstring for the files)."""

    def __init__(self, path):
        self.path = Path(path)

    # files
    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def state_json(self) -> Path:
        return self.path / "state.json"

    @property
    def states_npz(self) -> Path:
        return self.path / "states.npz"

    @property
    def trials_csv(self) -> Path:
        return self.path / "trials.csv"

    def exists(self) -> bool:
        return self.run_json.exists()

    def read_run(self) -> dict:
        """run.json, validated (format tag and version)."""
        run = _read_json(self.run_json)
        if not isinstance(run, dict) or run.get("format") != RUN_FORMAT["format"]:
            raise CheckpointError(f"{self.run_json} is not an hbjax run file (format tag "
                                  f"{run.get('format') if isinstance(run, dict) else None!r}, expected 'hbjax-run')")
        if run.get("version") != RUN_FORMAT["version"]:
            raise CheckpointError(f"{self.run_json} has version {run.get('version')!r}; this hbjax reads version "
                                  f"{RUN_FORMAT['version']}")
        if not isinstance(run.get("meta"), dict):
            raise CheckpointError(f"{self.run_json} has no 'meta' object")
        return run

    def check_writable(self) -> None:
        """Refuse a non-empty directory that is not an hbjax run directory (never clobber it)."""
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"{self.path} exists and is not a directory")
        if self.path.is_dir() and any(p.name != LOCK_NAME for p in self.path.iterdir()):
            if not self.run_json.exists():
                raise CheckpointError(f"{self.path} is not empty and has no run.json: not an hbjax run directory; "
                                      f"refusing to write into it (choose another --out)")
            self.read_run()  # raises on a foreign / garbled run.json

    @contextlib.contextmanager
    def lock(self):
        """One writer per run directory: an exclusive ``flock`` on ``.hbjax.lock`` for the whole
        run. The OS drops it when the process ends, even by SIGKILL, so a crash never leaves the
        directory locked. A second run gets a clear error instead of interleaved checkpoints."""
        self.check_writable()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CheckpointError(f"cannot create the output directory {self.path}: {err.strerror}") from None
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks; run unguarded
            yield
            return
        with open(self.path / LOCK_NAME, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "?"
                raise CheckpointError(f"{self.path} is in use by another hbjax run (pid {holder}); wait for it to "
                                      f"finish or choose another --out") from None
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def save(self, state: SchedulerState, backend, seconds_by_rung: Mapping, meta: Mapping, *,
             elapsed: float = 0.0) -> None:
        """Checkpoint ``state`` (after a rung), the live configs' trained states and the trials."""
        from .hyperband import make_result

        self.check_writable()
        self.path.mkdir(parents=True, exist_ok=True)
        step = len(state.history)
        run = {**RUN_FORMAT, "meta": _meta_safe(dict(meta)), "step": step, "finished": state.finished,
               "elapsed_seconds": float(elapsed), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        payload = {**STATE_FORMAT, "step": step, "state": state_to_json(state),
                   "seconds_by_rung": [[list(k), _enc(float(v))] for k, v in sorted(seconds_by_rung.items())]}
        state_text = _json_text(payload)
        _write_atomic(self.run_json, _json_text(run))
        engine = _engine(backend)
        states = {} if engine is None else {cid: engine.states[cid] for cid in _live_ids(state) if cid in engine.states}
        tmp = self.states_npz.with_name("states.npz.tmp")
        backend_states_to_npz(tmp, states, extra={"__step__": np.asarray(step, dtype=np.int64)})
        # write state.json.tmp before the npz moves, so a kill between the two moves can roll forward
        state_tmp = self.state_json.with_name("state.json.tmp")
        state_tmp.write_text(state_text)
        os.replace(tmp, self.states_npz)
        os.replace(state_tmp, self.state_json)
        trials_tmp = self.trials_csv.with_name("trials.csv.tmp")
        continued = bool(getattr(backend, "continues", False))
        make_result(state, dict(seconds_by_rung), elapsed, continued=continued).to_frame().to_csv(trials_tmp, index=False)
        os.replace(trials_tmp, self.trials_csv)

    def _npz_step(self) -> int:
        try:
            with np.load(self.states_npz, allow_pickle=False) as npz:
                return int(npz["__step__"]) if "__step__" in npz.files else -1
        except FileNotFoundError:
            raise CheckpointError(f"{self.states_npz} is missing: the run directory is incomplete") from None
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{self.states_npz} is corrupted: {err}") from err

    def load(self) -> tuple[SchedulerState, dict, dict]:
        """-> (scheduler state, seconds_by_rung, meta). Raises :class:`CheckpointError`."""
        run = self.read_run()
        payload = _read_json(self.state_json)
        if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT["format"]:
            raise CheckpointError(f"{self.state_json} is not an hbjax scheduler state")
        npz_step = self._npz_step()
        if npz_step != payload.get("step"):
            tmp = self.state_json.with_name("state.json.tmp")
            newer = None
            if tmp.exists():
                try:
                    newer = json.loads(tmp.read_text())
                except (OSError, json.JSONDecodeError):
                    newer = None
            if isinstance(newer, dict) and newer.get("step") == npz_step:
                os.replace(tmp, self.state_json)  # the kill came between the two moves: roll forward
                payload = newer
            else:
                raise CheckpointError(f"{self.states_npz} (step {npz_step}) does not match {self.state_json} "
                                      f"(step {payload.get('step')}): the checkpoint is inconsistent")
        try:
            state = state_from_json(payload["state"])
            seconds = {tuple(k): _dec(v) for k, v in payload["seconds_by_rung"]}
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{self.state_json} is corrupted: {err}") from err
        return state, seconds, dict(run["meta"])

    def restore_backend(self, backend, state: SchedulerState) -> None:
        """Put the live configs' trained states back into ``backend.engine`` (no-op for a backend
        that keeps no state)."""
        engine = _engine(backend)
        if engine is None:
            return
        ids = _live_ids(state)
        engine.states.clear()
        engine.states.update(backend_states_from_npz(self.states_npz, _template_fn(backend, state), ids))


def read_run_meta(path) -> dict:
    """The ``meta`` of a run directory (what the CLI needs to rebuild task and backend)."""
    return dict(RunDirectory(path).read_run()["meta"])


def run_with_checkpoints(search, backend, out_dir, *, meta: Mapping, callbacks=(), resume: bool = False):
    """``search.run(backend)`` checkpointing into ``out_dir`` after every rung.

    ``resume=True`` continues the run saved in ``out_dir`` (same search settings required); the
    final trials and best config equal those of an uninterrupted run with the same seed.
    ``result.seconds`` includes the time spent before the interruption. The directory is locked
    for the whole run: a second run pointed at it stops with a :class:`CheckpointError`."""
    rd = RunDirectory(out_dir)
    if resume and not rd.path.is_dir():
        raise CheckpointError(f"{rd.path} does not exist: nothing to resume")
    with rd.lock():
        return _run_locked(rd, search, backend, meta, callbacks, resume)


def _run_locked(rd, search, backend, meta, callbacks, resume):
    from .hyperband import make_result

    if resume:
        state, seconds_by_rung, saved_meta = rd.load()
        expected = search.initial_state()
        for field in ("space", "plan", "eta", "seed", "iterations"):
            if getattr(state, field) != getattr(expected, field):
                raise CheckpointError(f"{rd.state_json} was saved with a different {field} than this search "
                                      f"({getattr(state, field)!r} vs {getattr(expected, field)!r})")
        rd.restore_backend(backend, state)
        before = float(rd.read_run().get("elapsed_seconds") or 0.0)
        meta = {**saved_meta, **dict(meta)}
    else:
        state, seconds_by_rung, before = search.initial_state(), {}, 0.0
    meta = dict(meta)
    start = time.perf_counter()
    timings = dict(seconds_by_rung)

    def save(job, losses, new_state, seconds):
        timings[(job.iteration, job.bracket, job.rung)] = seconds
        rd.save(new_state, backend, timings, meta, elapsed=before + time.perf_counter() - start)

    rd.save(state, backend, timings, meta, elapsed=before)
    if sched.done(state):
        return make_result(state, timings, before, continued=bool(getattr(backend, "continues", False)))
    result = search.run(backend, callbacks=[save, *callbacks], state=state, seconds_by_rung=seconds_by_rung)
    result.seconds += before
    return result
