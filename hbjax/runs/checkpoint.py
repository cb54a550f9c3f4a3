"""Checkpoint / resume of a Hyperband run: atomic, generation by generation, no pickle.

A run directory holds::

    run.json               {"format": "hbjax-run", "version": 2, "meta": {...CLI arguments...},
                            "step", "finished", "elapsed_seconds", "saved_at"}: a summary for people
                            and ``hbjax report``; the checkpoints below are the truth
    checkpoints/00000012/  one generation per finished rung or wave (the number: observations so far)
        state.json         the SchedulerState and the rung timings
        states.npz         trained (params, opt_state) of the live configs (keys ``c<id>/<key path>``)
        trials.csv         the trials table at that point
        manifest.json      written last: the step and every file's size and SHA-256
    trials.csv             a copy of the newest generation's trials table
    .hbjax.lock            one writer per directory (an ``flock``, released when the process dies)

A generation is written into ``checkpoints/<step>.partial/`` with every file fsynced, then renamed
into place, so a kill at any moment leaves either the whole generation or none of it. Loading
takes the newest generation whose manifest matches its files; an incomplete or damaged one is
skipped (listed in ``RunDirectory.skipped``) and the one before it is used. The two newest
generations are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from .. import scheduler as sched
from ..scheduler import SchedulerState
from ..waves import WaveState, live_config_ids
from .durable import fsync_dir, json_text, meta_safe, read_json, sha256, write_atomic, write_synced
from .serialization import (
    CheckpointError,
    backend_states_from_npz,
    backend_states_to_npz,
    decode_value,
    encode_value,
    state_from_json,
    state_to_json,
)

__all__ = [
    "RUN_FORMAT",
    "CheckpointError",
    "RunDirectory",
    "backend_states_from_npz",
    "backend_states_to_npz",
    "read_run_meta",
    "run_with_checkpoints",
    "state_from_json",
    "state_to_json",
]

RUN_FORMAT = {"format": "hbjax-run", "version": 2}
STATE_FORMAT = {"format": "hbjax-state", "version": 1}
MANIFEST_FORMAT = {"format": "hbjax-checkpoint", "version": 1}
LOCK_NAME = ".hbjax.lock"
MANIFEST = "manifest.json"
GENERATION_FILES = ("state.json", "states.npz", "trials.csv")
KEEP_GENERATIONS = 2
# what hbjax writes into a run directory (the CLI adds summary.json, `hbjax report` the rest);
# ``overwrite=True`` removes exactly these, never a file a user put there
OWNED_FILES = ("run.json", "trials.csv", "checkpoints", "summary.json", "report.md", "losses.png", "brackets.png")
_GENERATION_NAME = re.compile(r"^\d{8}$")


def _live_ids(state) -> list[int]:
    if isinstance(state, WaveState):
        return live_config_ids(state)
    ids = set(state.alive if state.active is not None else ())
    if state.pending is not None:
        ids |= set(state.pending.config_ids)
    return sorted(i for i in ids if state.resources[i] > 0)


def _engine(backend):
    engine = getattr(backend, "engine", None)
    return engine if engine is not None and isinstance(getattr(engine, "states", None), dict) else None


def _state_ids(backend, state) -> list[int]:
    """The ids whose trained states a checkpoint keeps: the live configs' (each seed's, under
    :class:`hbjax.repeats.Repeats`)."""
    ids = _live_ids(state)
    expand = getattr(backend, "state_ids", None)
    return list(expand(ids)) if expand is not None else ids


def _template_fn(backend, state: SchedulerState):
    engine = _engine(backend)
    base = getattr(backend, "base_id", lambda cid: cid)  # a seed's config
    return lambda cid: engine.fresh_state(state.configs[base(cid)], cid)


def _check_generation(gen: Path) -> dict:
    """The manifest of a complete, undamaged generation; raises :class:`CheckpointError` otherwise."""
    manifest = read_json(gen / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT["format"]:
        raise CheckpointError(f"{gen / MANIFEST} is not an hbjax checkpoint manifest")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(GENERATION_FILES):
        raise CheckpointError(f"{gen / MANIFEST} does not list the checkpoint's files")
    for name, expected in files.items():
        path = gen / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing")
        if path.stat().st_size != expected.get("bytes") or sha256(path) != expected.get("sha256"):
            raise CheckpointError(f"{path} is damaged (size or SHA-256 differs from {MANIFEST})")
    return manifest


class RunDirectory:
    """A checkpointed run on disk (see the module docstring for the files)."""

    def __init__(self, path):
        self.path = Path(path)
        self.skipped: list[tuple[Path, str]] = []  # damaged generations passed over by the last load

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def trials_csv(self) -> Path:
        return self.path / "trials.csv"

    def exists(self) -> bool:
        return self.run_json.exists()

    def read_run(self) -> dict:
        """run.json, validated (format tag and version)."""
        run = read_json(self.run_json)
        if not isinstance(run, dict) or run.get("format") != RUN_FORMAT["format"]:
            raise CheckpointError(
                f"{self.run_json} is not an hbjax run file (format tag "
                f"{run.get('format') if isinstance(run, dict) else None!r}, expected 'hbjax-run')"
            )
        if run.get("version") != RUN_FORMAT["version"]:
            raise CheckpointError(
                f"{self.run_json} has layout version {run.get('version')!r}; this hbjax reads "
                f"version {RUN_FORMAT['version']} (resume it with the hbjax that wrote it)"
            )
        if not isinstance(run.get("meta"), dict):
            raise CheckpointError(f"{self.run_json} has no 'meta' object")
        return run

    def check_writable(self) -> None:
        """Refuse a non-empty directory that is not an hbjax run directory (never clobber it)."""
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"{self.path} exists and is not a directory")
        if self.path.is_dir() and any(p.name != LOCK_NAME for p in self.path.iterdir()):
            if not self.run_json.exists():
                raise CheckpointError(
                    f"{self.path} is not empty and has no run.json: not an hbjax run directory; "
                    f"refusing to write into it (choose another --out)"
                )
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
                raise CheckpointError(
                    f"{self.path} is in use by another hbjax run (pid {holder}); wait for it to "
                    f"finish or choose another --out"
                ) from None
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # --- writing ----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove a previous run's files (only those in ``OWNED_FILES``)."""
        self.check_writable()
        for name in OWNED_FILES:
            path = self.path / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def write_run(self, meta: Mapping, *, step: int, finished: bool, elapsed: float) -> None:
        run = {
            **RUN_FORMAT,
            "meta": meta_safe(dict(meta)),
            "step": step,
            "finished": finished,
            "elapsed_seconds": float(elapsed),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_atomic(self.run_json, json_text(run))

    def save(
        self, state: SchedulerState, backend, seconds_by_rung: Mapping, meta: Mapping, *, elapsed: float = 0.0
    ) -> Path:
        """Checkpoint ``state`` (after a rung), the live configs' trained states and the trials as
        a new generation; returns its directory."""
        from ..hyperband import make_result

        self.check_writable()
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        if not self.run_json.exists():  # run.json first: it marks the directory as ours
            self.write_run(meta, step=0, finished=False, elapsed=elapsed)
        step = len(state.history)
        partial = self.checkpoints / f"{step:08d}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        payload = {
            **STATE_FORMAT,
            "step": step,
            "elapsed_seconds": float(elapsed),
            "state": state_to_json(state),
            "seconds_by_rung": [[list(k), encode_value(float(v))] for k, v in sorted(seconds_by_rung.items())],
        }
        columns = getattr(backend, "trial_columns", None)
        if columns:  # the backend's extra trial columns (each seed's loss): a resume keeps them
            payload["trial_columns"] = [
                [cid, encode_value(r), {k: encode_value(v) for k, v in row.items()}]
                for (cid, r), row in sorted(columns.items())
            ]
        write_synced(partial / "state.json", json_text(payload))
        engine = _engine(backend)
        states = (
            {}
            if engine is None
            else {cid: engine.states[cid] for cid in _state_ids(backend, state) if cid in engine.states}
        )
        backend_states_to_npz(partial / "states.npz", states)
        frame = make_result(
            state,
            dict(seconds_by_rung),
            elapsed,
            continued=bool(getattr(backend, "continues", False)),
            cost=getattr(backend, "config_cost", None),
            columns=getattr(backend, "trial_columns", None),
        ).to_frame()
        trials_text = frame.to_csv(index=False)
        write_synced(partial / "trials.csv", trials_text)
        files = {
            name: {"bytes": (partial / name).stat().st_size, "sha256": sha256(partial / name)}
            for name in GENERATION_FILES
        }
        write_synced(partial / MANIFEST, json_text({**MANIFEST_FORMAT, "step": step, "files": files}))
        fsync_dir(partial)
        generation = self.checkpoints / f"{step:08d}"
        if generation.exists():  # a damaged generation a resume passed over: replaced, never merged
            shutil.rmtree(generation)
        os.rename(partial, generation)  # the commit point
        fsync_dir(self.checkpoints)
        write_atomic(self.trials_csv, trials_text)
        self.write_run(meta, step=step, finished=state.finished, elapsed=elapsed)
        self._prune(keep_from=generation)
        return generation

    def sync_summary(self, meta: Mapping, state: SchedulerState) -> None:
        """Rewrite run.json and the top-level trials.csv from the loaded generation (a kill after a
        generation's commit can leave them one rung behind)."""
        write_atomic(self.trials_csv, (self._loaded / "trials.csv").read_text())
        self.write_run(meta, step=len(state.history), finished=state.finished, elapsed=self.elapsed)

    def _prune(self, keep_from: Path) -> None:
        """Drop leftovers of killed writes and all but the newest generations up to ``keep_from``."""
        older = [g for g in self._generations() if g.name <= keep_from.name]
        for stale in older[KEEP_GENERATIONS:]:
            shutil.rmtree(stale, ignore_errors=True)
        for partial in self.checkpoints.glob("*.partial"):
            shutil.rmtree(partial, ignore_errors=True)

    # --- reading ----------------------------------------------------------------------------------

    def _generations(self) -> list[Path]:
        """Generation directories, newest first."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(
            (p for p in self.checkpoints.iterdir() if p.is_dir() and _GENERATION_NAME.match(p.name)),
            key=lambda p: p.name,
            reverse=True,
        )

    def latest(self) -> Path:
        """The newest complete generation; damaged or half-written ones are skipped and recorded
        in ``self.skipped``."""
        self.skipped = []
        for gen in self._generations():
            try:
                _check_generation(gen)
                return gen
            except CheckpointError as err:
                self.skipped.append((gen, str(err)))
        if self.skipped:
            reasons = "; ".join(reason for _, reason in self.skipped)
            raise CheckpointError(f"{self.path} has no complete checkpoint ({reasons})")
        raise CheckpointError(
            f"{self.checkpoints} has no checkpoint: not an hbjax run directory (or one killed "
            f"before its first checkpoint; start it again)"
        )

    def load(self) -> tuple[SchedulerState | WaveState, dict, dict]:
        """-> (scheduler state, seconds_by_rung, meta) of the newest complete generation.
        Raises :class:`CheckpointError`."""
        run = self.read_run()
        gen = self.latest()
        payload = read_json(gen / "state.json")
        if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT["format"]:
            raise CheckpointError(f"{gen / 'state.json'} is not an hbjax scheduler state")
        try:
            state = state_from_json(payload["state"])
            seconds = {tuple(k): decode_value(v) for k, v in payload["seconds_by_rung"]}
            self.trial_columns = {
                (int(cid), float(decode_value(r))): {k: decode_value(v) for k, v in row.items()}
                for cid, r, row in payload.get("trial_columns", [])
            }
            self.elapsed = float(payload.get("elapsed_seconds") or 0.0)
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{gen / 'state.json'} is corrupted: {err}") from err
        self._loaded = gen
        return state, seconds, dict(run["meta"])

    def restore_backend(self, backend, state: SchedulerState) -> None:
        """Put the live configs' trained states of the loaded generation back into
        ``backend.engine`` (no-op for a backend that keeps no state)."""
        columns = getattr(backend, "trial_columns", None)
        if isinstance(columns, dict):
            columns.update(getattr(self, "trial_columns", {}))
        engine = _engine(backend)
        if engine is None:
            return
        gen = getattr(self, "_loaded", None) or self.latest()
        ids = _state_ids(backend, state)
        engine.states.clear()
        engine.states.update(backend_states_from_npz(gen / "states.npz", _template_fn(backend, state), ids))


def read_run_meta(path) -> dict:
    """The ``meta`` of a run directory (what the CLI needs to rebuild task and backend)."""
    return dict(RunDirectory(path).read_run()["meta"])


def run_with_checkpoints(
    search, backend, out_dir, *, meta: Mapping, callbacks=(), resume: bool = False, overwrite: bool = False
):
    """``search.run(backend)`` checkpointing into ``out_dir`` after every rung (or wave).

    ``resume=True`` continues the run saved in ``out_dir`` (same search settings required); the
    final trials and best config equal those of an uninterrupted run with the same seed. A new
    run never replaces an earlier one in ``out_dir`` unless ``overwrite=True``.
    ``result.seconds`` includes the time spent before the interruption. The directory is locked
    for the whole run: a second run pointed at it stops with a :class:`CheckpointError`."""
    rd = RunDirectory(out_dir)
    if resume and not rd.path.is_dir():
        raise CheckpointError(f"{rd.path} does not exist: nothing to resume")
    with rd.lock():
        if not resume and rd.exists():
            if not overwrite:
                run = rd.read_run()
                status = "finished" if run.get("finished") else "unfinished"
                raise CheckpointError(
                    f"{rd.path} already holds an hbjax run ({status}, step {run.get('step')}); "
                    f"resume it (--resume / resume=True), choose another --out, or replace it "
                    f"(--overwrite / overwrite=True)"
                )
            rd.clear()
        return _run_locked(rd, search, backend, meta, callbacks, resume)


def _run_locked(rd, search, backend, meta, callbacks, resume):
    from ..hyperband import make_result

    if resume:
        state, seconds_by_rung, saved_meta = rd.load()  # sequential or in waves: it goes on as it started
        expected = search.initial_state()
        for field in ("space", "plan", "eta", "seed", "iterations"):
            if getattr(state, field) != getattr(expected, field):
                raise CheckpointError(
                    f"{rd.path} was saved with a different {field} than this search "
                    f"({getattr(state, field)!r} vs {getattr(expected, field)!r})"
                )
        rd.restore_backend(backend, state)
        before = rd.elapsed
        meta = {**saved_meta, **dict(meta)}
        rd.sync_summary(meta, state)
    else:
        uses_waves = getattr(search, "uses_waves", None)
        state = (
            search.initial_state(waves=True)
            if uses_waves is not None and uses_waves(backend)
            else search.initial_state()
        )
        seconds_by_rung, before = {}, 0.0
        rd.save(state, backend, {}, meta, elapsed=0.0)
    meta = dict(meta)
    start = time.perf_counter()
    timings = dict(seconds_by_rung)

    class Save:  # after every rung, or once per wave (run_wave calls ``wave_done``)
        def __call__(self, job, losses, new_state, seconds):
            self.wave_done([job], [losses], new_state, [seconds])

        def wave_done(self, jobs, losses, new_state, seconds):
            for job, s in zip(jobs, seconds):
                timings[(job.iteration, job.bracket, job.rung)] = s
            rd.save(new_state, backend, timings, meta, elapsed=before + time.perf_counter() - start)

    save = Save()

    if sched.done(state):
        return make_result(
            state,
            timings,
            before,
            continued=bool(getattr(backend, "continues", False)),
            cost=getattr(backend, "config_cost", None),
            columns=getattr(backend, "trial_columns", None),
        )
    result = search.run(backend, callbacks=[save, *callbacks], state=state, seconds_by_rung=seconds_by_rung)
    result.seconds += before
    return result
