"""Hyperband brackets as independent tasks (Ray), merged into one :class:`Result`.

The brackets of Hyperband, and the repeats of ``hyperband_iterations``, share nothing: bracket
``b`` of iteration ``k`` draws its configs from ``config_rng(seed, k, b)`` and only
successive-halves among them. So each (iteration, bracket) can run anywhere, with its own local
(vmapped) backend, and the histories merge into the same trials table as the in-process
``search.run(backend)`` -- as long as every bracket numbers its configs as the in-process run
does: the ids of a bracket start after all configs started by the brackets before it, a count the
plan gives (``bracket.n``, or ``min(n, space.size)`` for a finite space smaller than ``n``).

    result = run_on_ray(search, lambda: LSTMBackend(task, seed=0))           # local Ray
    result = run_on_ray(search, make_backend, address="auto", num_gpus_per_task=1)  # a cluster

``make_backend`` is called inside each task (it is pickled with cloudpickle, so a lambda or a
closure is fine); a backend must give a config a loss that depends only on (its seed, config id,
config, data), not on which other configs share its rung program -- true of the LSTM and
scikit-learn backends. ``run_brackets_locally`` does the same split and merge in-process (tests).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from .. import scheduler as sched
from ..hyperband import Backend, Hyperband, make_result, prepare_backend, run_job
from ..results import Result

__all__ = [
    "BracketOutcome",
    "BracketTask",
    "bracket_tasks",
    "merge_brackets",
    "run_bracket",
    "run_brackets_locally",
    "run_on_ray",
]


class BracketTask(NamedTuple):
    """Bracket ``bracket_index`` of iteration ``iteration``; its config ids start at ``first_id``."""

    iteration: int
    bracket_index: int
    first_id: int
    n_configs: int  # configs it starts (n, or min(n, space.size))


class BracketOutcome(NamedTuple):
    task: BracketTask
    history: tuple  # Observations, in the order the in-process scheduler records them
    configs: tuple  # its configs, ids first_id..first_id+n_configs-1
    seconds_by_rung: dict
    seconds: float
    continues: bool  # the backend's ``continues`` flag (budget accounting)


def bracket_tasks(search: Hyperband) -> list[BracketTask]:
    """Every (iteration, bracket) of ``search`` in in-process order, with its first config id."""
    size = search.space.size
    tasks, first = [], 0
    for k in range(int(search.hyperband_iterations)):
        for b, bracket in enumerate(search.plan):
            n = bracket.n if size is None else min(bracket.n, size)
            tasks.append(BracketTask(k, b, first, n))
            first += n
    return tasks


def run_bracket(search: Hyperband, backend: Backend, task: BracketTask) -> BracketOutcome:
    """Run one bracket alone, numbering its configs from ``task.first_id``."""
    start = time.perf_counter()
    state = search.initial_state()
    # The scheduler state as the in-process run has it when this bracket starts; the configs of
    # earlier brackets are never read (only their count sets the ids), so placeholders suffice.
    state = dataclasses.replace(
        state,
        iteration=task.iteration,
        bracket_index=task.bracket_index,
        configs=({},) * task.first_id,
        resources=(0.0,) * task.first_id,
    )
    seconds_by_rung = {}
    prepare_backend(backend, state)  # the same programs (and floats) as the in-process run
    while True:
        job, state = sched.ask(state)
        state = run_job(state, job, backend, seconds_by_rung)
        if state.active is None:  # the bracket has ended (last rung, or every config diverged)
            break
    configs = state.configs[task.first_id :]
    if len(configs) != task.n_configs:
        raise RuntimeError(
            f"bracket {task.bracket_index} of iteration {task.iteration} started "
            f"{len(configs)} configs, the plan says {task.n_configs}"
        )
    return BracketOutcome(
        task,
        state.history,
        configs,
        seconds_by_rung,
        time.perf_counter() - start,
        bool(getattr(backend, "continues", False)),
    )


def merge_brackets(search: Hyperband, outcomes, seconds: float, *, continued: bool | None = None) -> Result:
    """One Result from the outcomes of every bracket task (any order): the same history, configs
    and final scheduler state as the in-process run."""
    outcomes = sorted(outcomes, key=lambda o: (o.task.iteration, o.task.bracket_index))
    expected = bracket_tasks(search)
    if [o.task for o in outcomes] != expected:
        raise ValueError("the outcomes do not cover every (iteration, bracket) of the search exactly once")
    history, configs, seconds_by_rung = [], [], {}
    for o in outcomes:
        history.extend(o.history)
        configs.extend(dict(c) for c in o.configs)
        seconds_by_rung.update(o.seconds_by_rung)
    res = [0.0] * len(configs)
    for obs in history:
        res[obs.config_id] = float(obs.resource)
    init = search.initial_state()
    state = dataclasses.replace(
        init,
        iteration=init.iterations,
        bracket_index=0,
        rung=0,
        active=None,
        alive=(),
        configs=tuple(configs),
        resources=tuple(res),
        history=tuple(history),
        pending=None,
        finished=True,
    )
    if continued is None:
        continued = any(o.continues for o in outcomes)
    result = make_result(state, seconds_by_rung, seconds, continued=continued)
    result.extras["bracket_seconds"] = {(o.task.iteration, o.task.bracket_index): o.seconds for o in outcomes}
    return result


def run_brackets_locally(search: Hyperband, make_backend: Callable[[], Backend]) -> Result:
    """The split-and-merge of :func:`run_on_ray`, sequential and in-process (one fresh backend
    per bracket, as each Ray task has)."""
    start = time.perf_counter()
    outcomes = [run_bracket(search, make_backend(), t) for t in bracket_tasks(search)]
    return merge_brackets(search, outcomes, time.perf_counter() - start)


def _import_ray():
    try:
        import ray
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("run_on_ray needs Ray: pip install hbjax[ray]  (or pip install ray)") from err
    return ray


def _ray_bracket(search, make_backend, task):
    return run_bracket(search, make_backend(), task)


def run_on_ray(
    search: Hyperband,
    make_backend: Callable[[], Backend],
    *,
    address: str | None = None,
    num_cpus_per_task: float = 1,
    num_gpus_per_task: float = 0,
    max_retries: int = 3,
    runtime_env: dict | None = None,
    init_kwargs: dict | None = None,
) -> Result:
    """One Ray task per (iteration, bracket); the Result equals ``search.run(make_backend())``
    (except the ``seconds`` columns).

    ``address=None``: start (or reuse) a local Ray; otherwise ``ray.init(address=address)``
    (``"auto"`` or ``"ray://head:10001"``; ``RAY_ADDRESS`` is honoured by Ray when a local Ray is
    not already running). ``runtime_env`` (e.g. ``{"pip": ["hbjax[lstm]"]}``) is passed to
    ``ray.init``. Big brackets are submitted first so they do not straggle at the end. A bracket
    whose worker dies is rerun from its start up to ``max_retries`` times (a bracket's result is a
    pure function of the search and its task, so a rerun gives the same rows; tested)."""
    ray = _import_ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(init_kwargs or {})
        if runtime_env is not None:
            kwargs["runtime_env"] = runtime_env
        if address is None:
            ray.init(ignore_reinit_error=True, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    start = time.perf_counter()
    remote = ray.remote(num_cpus=num_cpus_per_task, num_gpus=num_gpus_per_task, max_retries=max_retries)(_ray_bracket)
    search_ref, backend_ref = ray.put(search), ray.put(make_backend)
    plan = search.plan
    tasks = sorted(bracket_tasks(search), key=lambda t: -plan[t.bracket_index].budget)
    refs = [remote.remote(search_ref, backend_ref, t) for t in tasks]
    outcomes = ray.get(refs)
    return merge_brackets(search, outcomes, time.perf_counter() - start)
