"""The functional scheduler (ask/tell over immutable states) and the Hyperband driver."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from hbjax import scheduler as sched
from hbjax.brackets import hyperband_plan
from hbjax.hyperband import Hyperband, SuccessiveHalving, run_scheduler
from hbjax.results import TRIAL_COLUMNS
from hbjax.space import Choice, IntUniform, LogUniform, Space, Uniform

SPACE = Space(x=Uniform(0.0, 1.0), lr=LogUniform(1e-4, 1e-1))


def x_loss(config, resource, cid):
    """Distinct losses, depending on the config and the resource."""
    return config["x"] + 1.0 / resource


def drive(state, loss_fn=x_loss, max_jobs=None):
    """ask/tell until done; returns [(job, losses)], final state."""
    jobs = []
    while not sched.done(state) and (max_jobs is None or len(jobs) < max_jobs):
        job, state = sched.ask(state)
        losses = [loss_fn(c, job.resource, cid) for c, cid in zip(job.configs, job.config_ids)]
        state = sched.tell(state, job, losses)
        jobs.append((job, losses))
    return jobs, state


def expected_sequence(plan, iterations=1):
    return [
        (it, b.s, bi, rg.index, rg.n_configs, rg.resource)
        for it in range(iterations)
        for bi, b in enumerate(plan)
        for rg in b.rungs
    ]


def job_key(job):
    return (job.iteration, job.bracket, job.bracket_index, job.rung, len(job.config_ids), job.resource)


# ------------------------------------------------------------------- the run follows the plan
def test_job_sequence_matches_plan_r81():
    state = sched.hyperband(SPACE, 81, 3, seed=0)
    jobs, final = drive(state)
    assert [job_key(j) for j, _ in jobs] == expected_sequence(hyperband_plan(81, 3))
    assert [j.bracket for j, _ in jobs if j.rung == 0] == [4, 3, 2, 1, 0]
    assert [len(j.config_ids) for j, _ in jobs] == [81, 27, 9, 3, 1, 34, 11, 3, 1, 15, 5, 1, 8, 2, 5]
    assert [j.resource for j, _ in jobs] == [1, 3, 9, 27, 81, 3, 9, 27, 81, 9, 27, 81, 27, 81, 81]
    assert sum(len(j.config_ids) for j, _ in jobs) == len(final.history) == 121 + 49 + 21 + 10 + 5 == 206
    assert len(final.configs) == 81 + 34 + 15 + 8 + 5
    assert sched.done(final)
    for job, _ in jobs:
        assert job.is_last_rung == (job.rung == job.bracket)
        assert len(job.configs) == len(job.config_ids) == len(job.previous_resource)
        for cid, cfg in zip(job.config_ids, job.configs):
            assert cfg == final.configs[cid]
            assert SPACE.contains(cfg)


def test_survivors_are_best_by_loss_and_resources_continue():
    jobs, final = drive(sched.hyperband(SPACE, 81, 3, seed=0))
    checked = 0
    for (job, losses), (nxt, _) in itertools.pairwise(jobs):
        if nxt.rung == 0:
            assert job.is_last_rung
            continue
        assert nxt.bracket_index == job.bracket_index and nxt.rung == job.rung + 1
        k = len(job.config_ids) // 3
        ranked = sorted(zip(losses, job.config_ids))
        assert set(nxt.config_ids) == {cid for _, cid in ranked[:k]}
        assert list(nxt.config_ids) == sorted(nxt.config_ids)
        # survivors continue from their previous rung's resource
        assert nxt.previous_resource == (job.resource,) * len(nxt.config_ids)
        checked += 1
    assert checked == 10
    for job, _ in jobs:
        if job.rung == 0:
            assert job.previous_resource == (0.0,) * len(job.config_ids)
            assert job.added_resource == pytest.approx(job.resource * len(job.config_ids))
        else:
            assert job.added_resource == pytest.approx(len(job.config_ids) * (job.resource - job.previous_resource[0]))
    # promoted flags in the history agree with the next rung's ids
    promoted = {(o.bracket, o.rung, o.config_id) for o in final.history if o.promoted}
    nxt_ids = {(j.bracket, j.rung - 1, cid) for j, _ in jobs if j.rung > 0 for cid in j.config_ids}
    assert promoted == nxt_ids


def test_config_ids_unique_and_increasing():
    jobs, final = drive(sched.hyperband(SPACE, 81, 3, seed=0, iterations=2))
    new_ids = [cid for j, _ in jobs if j.rung == 0 for cid in j.config_ids]
    assert new_ids == list(range(len(new_ids))) == list(range(len(final.configs)))
    assert len(new_ids) == 2 * 143
    for j, _ in jobs:
        assert list(j.config_ids) == sorted(set(j.config_ids))


def test_history_records_each_rung():
    jobs, final = drive(sched.hyperband(SPACE, 9, 3, seed=1))
    rows = [(o.config_id, o.bracket, o.rung, o.resource, o.loss) for o in final.history]
    expected = [
        (cid, j.bracket, j.rung, float(j.resource), loss)
        for j, losses in jobs
        for cid, loss in zip(j.config_ids, losses)
    ]
    assert rows == expected
    assert all(isinstance(o, sched.Observation) for o in final.history)
    assert all(o.promoted is False for o in final.history if o.rung == o.bracket)


# ---------------------------------------------------------------- non-finite losses and ties
def sh9(seed=0):
    """9 configs, rungs 9x1 -> 3x3 -> 1x9."""
    return sched.successive_halving(SPACE, 9, 9, 3, seed=seed)


def test_sanitize_losses():
    out = sched.sanitize_losses([1.0, np.nan, np.inf, -np.inf, -2.0], 5)
    assert out.dtype == np.float64
    assert out.tolist() == [1.0, math.inf, math.inf, math.inf, -2.0]
    assert sched.sanitize_losses(np.array([[1.0], [2.0]]), 2).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="expected 3 losses for this rung, got 2"):
        sched.sanitize_losses([1.0, 2.0], 3)


def test_nonfinite_never_promoted_over_finite():
    state = sh9()
    job, state = sched.ask(state)
    assert len(job.config_ids) == 9
    # -inf must not be treated as the best loss; NaN / inf never beat a finite loss
    losses = [np.nan, -np.inf, np.inf, 5.0, np.nan, 7.0, np.nan, np.nan, np.nan]
    state = sched.tell(state, job, losses)
    job2, state = sched.ask(state)
    assert job2.rung == 1
    ids = job.config_ids
    assert job2.config_ids == (ids[3], ids[5])  # only the two finite ones, fewer than n_promote=3
    # the history keeps the reported values (NaN stays NaN, -inf stays -inf)
    hist = {o.config_id: o for o in state.history}
    assert math.isnan(hist[ids[0]].loss)
    assert hist[ids[1]].loss == -math.inf
    assert [hist[i].promoted for i in ids] == [False, False, False, True, False, True, False, False, False]


def test_neg_inf_alone_is_not_best():
    state = sh9()
    job, state = sched.ask(state)
    state = sched.tell(state, job, [-np.inf] + [1.0 + i for i in range(8)])
    job2, state = sched.ask(state)
    assert job2.config_ids == job.config_ids[1:4]
    assert sched.best_observation(state).config_id == job.config_ids[1]


def test_all_nan_rung_ends_bracket_early():
    state = sched.hyperband(SPACE, 81, 3, seed=0)
    job, state = sched.ask(state)
    assert (job.bracket, job.rung, len(job.config_ids)) == (4, 0, 81)
    state = sched.tell(state, job, [np.nan] * 81)
    assert not sched.done(state)
    job2, state = sched.ask(state)
    assert (job2.bracket, job2.bracket_index, job2.rung, len(job2.config_ids)) == (3, 1, 0, 34)
    assert job2.config_ids == tuple(range(81, 115))
    assert sched.best_observation(state) is None
    assert not any(o.promoted for o in state.history)
    # finishing the run still works
    jobs, final = drive(state)
    assert sched.done(final)
    assert [j.bracket for j, _ in jobs if j.rung == 0] == [3, 2, 1, 0]  # job2 was pending


def test_all_nan_in_last_bracket_finishes():
    jobs, final = drive(sched.hyperband(SPACE, 9, 3, seed=0), loss_fn=lambda c, r, i: float("nan"))
    # every bracket stops after its first rung
    assert [(j.bracket, j.rung) for j, _ in jobs] == [(2, 0), (1, 0), (0, 0)]
    assert sched.done(final)
    assert sched.best_observation(final) is None


def test_nan_in_middle_rung_shrinks_next_rung():
    state = sh9()
    job, state = sched.ask(state)
    state = sched.tell(state, job, list(range(9)))
    job, state = sched.ask(state)
    assert len(job.config_ids) == 3
    state = sched.tell(state, job, [np.nan, np.nan, np.nan])
    assert sched.done(state)
    with pytest.raises(RuntimeError, match="done"):
        sched.ask(state)


def test_ties_broken_by_lower_config_id():
    state = sh9()
    job, state = sched.ask(state)
    ids = job.config_ids
    losses = [5, 1, 2, 2, 2, 0, 2, 9, 9]
    state = sched.tell(state, job, losses)
    job2, state = sched.ask(state)
    assert job2.config_ids == (ids[1], ids[2], ids[5])
    # all equal: the lowest ids win
    state = sched.tell(state, job2, [3.0, 3.0, 3.0])
    job3, state = sched.ask(state)
    assert job3.config_ids == (ids[1],)


def test_all_equal_losses_keep_lowest_ids_r81():
    jobs, _ = drive(sched.hyperband(SPACE, 81, 3, seed=0), loss_fn=lambda c, r, i: 1.0)
    first_bracket = [j for j, _ in jobs if j.bracket_index == 0]
    assert [j.config_ids for j in first_bracket] == [
        tuple(range(81)),
        tuple(range(27)),
        tuple(range(9)),
        tuple(range(3)),
        (0,),
    ]


# ------------------------------------------------------------------------- states are values
def test_state_is_frozen_and_tell_does_not_mutate():
    state = sched.hyperband(SPACE, 27, 3, seed=0)
    _jobs, state = drive(state, max_jobs=2)
    job, asked = sched.ask(state)
    snapshot = copy.deepcopy(asked)
    history = asked.history
    configs = asked.configs
    new = sched.tell(asked, job, [c["x"] for c in job.configs])
    assert asked == snapshot
    assert asked.history is history and len(asked.history) == len(snapshot.history)
    assert asked.configs is configs
    assert asked.pending == job
    assert len(new.history) == len(history) + len(job.config_ids)
    assert new.history[: len(history)] == history
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.rung = 5  # type: ignore[misc]
    # mutating a job's config dict does not reach the state
    job.configs[0]["x"] = 123.0
    assert asked.configs[job.config_ids[0]]["x"] != 123.0


def test_ask_twice_returns_same_job():
    state = sched.hyperband(SPACE, 27, 3, seed=0)
    job1, s1 = sched.ask(state)
    job2, s2 = sched.ask(s1)
    assert job1 == job2 and s2 is s1
    # asking the un-asked state again gives the same job too (config draws are seeded)
    job3, _ = sched.ask(state)
    assert job3 == job1


def test_tell_wrong_job_or_wrong_length():
    state = sched.hyperband(SPACE, 27, 3, seed=0)
    job, asked = sched.ask(state)
    n = len(job.config_ids)
    with pytest.raises(ValueError, match="expected 27 losses for this rung, got 26"):
        sched.tell(asked, job, [0.0] * (n - 1))
    with pytest.raises(ValueError, match="expected 27 losses"):
        sched.tell(asked, job, [0.0] * (n + 1))
    with pytest.raises(ValueError, match="not the one pending"):
        sched.tell(asked, job._replace(resource=job.resource * 3), [0.0] * n)
    with pytest.raises(ValueError, match="not the one pending"):
        sched.tell(state, job, [0.0] * n)  # never asked
    other, _ = sched.ask(sched.hyperband(SPACE, 27, 3, seed=1))
    with pytest.raises(ValueError, match="not the one pending"):
        sched.tell(asked, other, [0.0] * n)
    # the failed tells changed nothing
    ok = sched.tell(asked, job, [0.0] * n)
    assert len(ok.history) == n


def test_ask_on_done_state_raises():
    _, final = drive(sched.hyperband(SPACE, 3, 3, seed=0))
    assert sched.done(final)
    with pytest.raises(RuntimeError, match="the scheduler is done"):
        sched.ask(final)


def test_reproducible_same_seed():
    _, a = drive(sched.hyperband(SPACE, 27, 3, seed=7))
    _, b = drive(sched.hyperband(SPACE, 27, 3, seed=7))
    assert a.history == b.history
    assert a.configs == b.configs
    assert a == b


def test_different_seed_different_configs():
    _, a = drive(sched.hyperband(SPACE, 27, 3, seed=0))
    _, b = drive(sched.hyperband(SPACE, 27, 3, seed=1))
    assert len(a.configs) == len(b.configs)
    assert not set(map(repr, a.configs)) & set(map(repr, b.configs))


def test_config_rng_is_seed_iteration_bracket():
    state = sched.hyperband(SPACE, 27, 3, seed=5)
    job, _ = sched.ask(state)
    expected = SPACE.sample_configs(np.random.default_rng([5, 0, 0]), 27)
    assert list(job.configs) == expected


def test_two_iterations_run_all_brackets_twice():
    plan = hyperband_plan(27, 3)
    jobs, final = drive(sched.hyperband(SPACE, 27, 3, seed=0, iterations=2))
    assert [job_key(j) for j, _ in jobs] == expected_sequence(plan, iterations=2)
    it0 = [c for j, _ in jobs if j.iteration == 0 and j.rung == 0 for c in j.configs]
    it1 = [c for j, _ in jobs if j.iteration == 1 and j.rung == 0 for c in j.configs]
    assert len(it0) == len(it1) == sum(b.n for b in plan)
    assert not set(map(repr, it0)) & set(map(repr, it1))
    assert {o.iteration for o in final.history} == {0, 1}


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_resume_from_saved_state_matches_uninterrupted(k):
    _, full = drive(sched.hyperband(SPACE, 27, 3, seed=3, iterations=2))
    _, partial = drive(sched.hyperband(SPACE, 27, 3, seed=3, iterations=2), max_jobs=k)
    assert len(partial.history) < len(full.history)
    saved = pickle.loads(pickle.dumps(partial))  # a checkpoint round trip
    _, resumed = drive(saved)
    assert resumed.history == full.history
    assert resumed.configs == full.configs
    assert resumed == full


def test_resume_with_pending_job():
    _, full = drive(sched.hyperband(SPACE, 9, 3, seed=3))
    _, partial = drive(sched.hyperband(SPACE, 9, 3, seed=3), max_jobs=2)
    job, pending = sched.ask(partial)
    saved = copy.deepcopy(pending)
    job_again, _same = sched.ask(saved)
    assert job_again == job
    _, resumed = drive(saved)
    assert resumed.history == full.history


# ------------------------------------------------------------------ finite grid smaller than n
GRID20 = Space(a=IntUniform(0, 3), b=Choice(["p", "q", "r", "s", "t"]))


def test_finite_grid_smaller_than_n():
    assert GRID20.size == 20
    state = sched.hyperband(GRID20, 81, 3, seed=0)
    with pytest.warns(UserWarning, match="wants 81 configs but the space has only 20"):
        job, state = sched.ask(state)
    assert len(job.configs) == 20
    assert sorted(map(repr, job.configs)) == sorted(map(repr, GRID20.grid()))
    assert state.active.n == 20
    assert [r.n_configs for r in state.active.rungs] == [20, 6, 2, 1, 1]

    sizes = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jobs, final = drive(
            sched.tell(state, job, [c["a"] + ord(c["b"]) / 1000 for c in job.configs]),
            loss_fn=lambda c, r, i: c["a"] + ord(c["b"]) / 1000,
        )
    all_jobs = [job] + [j for j, _ in jobs]
    for j in all_jobs:
        sizes.setdefault(j.bracket, []).append(len(j.config_ids))
    assert sizes == {4: [20, 6, 2, 1, 1], 3: [20, 6, 2, 1], 2: [15, 5, 1], 1: [8, 2], 0: [5]}
    # only bracket s=3 (n=34) warns again; s=2 (n=15) does not
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1 and "wants 34 configs" in msgs[0]
    # every bracket's first rung has distinct configs (sampled without replacement)
    for j in all_jobs:
        if j.rung == 0:
            assert len(set(map(repr, j.configs))) == len(j.configs)
    assert sched.done(final)


def test_proposer_errors():
    state = sched.hyperband(SPACE, 9, 3, seed=0)
    with pytest.raises(ValueError, match="produced no configurations"):
        sched.ask(state, lambda rng, n, st: [])
    with pytest.raises(ValueError, match="proposer returned 10 configs for a bracket of 9"):
        sched.ask(state, lambda rng, n, st: [{"x": 0.5, "lr": 0.01}] * (n + 1))


def test_custom_proposer_is_used():
    state = sched.hyperband(SPACE, 9, 3, seed=0)
    job, _ = sched.ask(state, lambda rng, n, st: [{"x": i / n, "lr": 0.01} for i in range(n)])
    assert [c["x"] for c in job.configs] == [i / 9 for i in range(9)]


def test_init_errors():
    plan = hyperband_plan(9, 3)
    with pytest.raises(TypeError, match="space must be an hbjax.Space"):
        sched.init({"x": Uniform(0, 1)}, plan)
    with pytest.raises(ValueError, match="the plan has no brackets"):
        sched.init(SPACE, ())
    with pytest.raises(ValueError, match="hyperband_iterations must be a positive integer"):
        sched.init(SPACE, plan, iterations=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        sched.init(SPACE, plan, seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        sched.init(SPACE, plan, seed=1.5)


# ----------------------------------------------------------- best_observation / total_resource
def hand_example():
    """SH over 9 configs (9x1 -> 3x3 -> 1x9) with hand-picked losses."""
    state = sh9()
    job, state = sched.ask(state)
    ids = job.config_ids
    state = sched.tell(state, job, [5, 1, 2, 2, 2, 0, 2, 9, 9])  # survivors 1, 2, 5
    job, state = sched.ask(state)
    assert job.config_ids == (ids[1], ids[2], ids[5])
    state = sched.tell(state, job, [0.5, np.nan, 0.7])  # survivor 1
    job, state = sched.ask(state)
    assert job.config_ids == (ids[1],)
    state = sched.tell(state, job, [0.0])  # ties with config 5's rung-0 loss 0.0
    return state, ids


def test_best_observation_and_total_resource_hand_checked():
    state, ids = hand_example()
    assert sched.done(state)
    best = sched.best_observation(state)
    # loss 0.0 twice: config 5 at resource 1 and config 1 at resource 9 -> the larger resource
    assert (best.config_id, best.loss, best.resource, best.rung) == (ids[1], 0.0, 9.0, 2)
    assert sched.total_resource(state, continued=False) == 9 * 1 + 3 * 3 + 1 * 9 == 27
    assert sched.total_resource(state, continued=True) == 9 * 1 + 3 * (3 - 1) + 1 * (9 - 3) == 21
    assert sched.total_resource(state) == 21


def test_best_observation_tie_same_resource_lower_id():
    state = sh9()
    job, state = sched.ask(state)
    state = sched.tell(state, job, [3, 3, 1, 4, 1, 5, 9, 2, 6])
    best = sched.best_observation(state)
    assert best.config_id == job.config_ids[2] and best.loss == 1


def test_total_resource_matches_plan_budget():
    _, final = drive(sched.hyperband(SPACE, 81, 3, seed=0))
    plan = hyperband_plan(81, 3)
    assert sched.total_resource(final, continued=False) == pytest.approx(sum(b.budget for b in plan))
    # continued: each config ends at its last resource, so the spend is the sum of final resources
    assert sched.total_resource(final, continued=True) == pytest.approx(sum(final.resources))
    assert sched.total_resource(final, continued=True) < sched.total_resource(final, continued=False)


# ------------------------------------------------------------------------ driver and backends
class FakeBackend:
    """loss = (x - 0.3)^2 + 1/resource; NaN for x > 0.9 (diverged)."""

    continues = False

    def __init__(self):
        self.jobs = []

    def train_rung(self, job):
        self.jobs.append(job)
        return np.array([np.nan if c["x"] > 0.9 else (c["x"] - 0.3) ** 2 + 1.0 / job.resource for c in job.configs])


class ReleasingBackend(FakeBackend):
    continues = True

    def __init__(self):
        super().__init__()
        self.released = []

    def release(self, config_ids):
        self.released.append(list(config_ids))


def test_run_result_best_config_and_frame():
    hb = Hyperband(SPACE, max_resource=27, eta=3, seed=0)
    backend = FakeBackend()
    result = hb.run(backend)
    frame = result.to_frame()
    state = result.state
    assert sched.done(state)
    assert len(frame) == len(state.history) == sum(len(j.config_ids) for j in backend.jobs)
    assert list(frame.columns[: len(TRIAL_COLUMNS)]) == list(TRIAL_COLUMNS)
    assert {"x", "lr"} <= set(frame.columns)
    assert frame["diverged"].any()  # some x > 0.9 in 40 draws
    finite = frame[np.isfinite(frame["loss"])]
    best_row = finite.loc[finite["loss"].idxmin()]
    assert result.best_loss == best_row["loss"]
    assert result.best_config == {"x": best_row["x"], "lr": best_row["lr"]}
    assert result.best_config_id == best_row["config_id"]
    assert result.best_resource == best_row["resource"]
    assert result.best_config == state.configs[result.best_config_id]
    assert result.resource_spent == sched.total_resource(state, continued=False)
    # the table's hyperparameters are those of the config with that id
    for row in frame.itertuples():
        assert {"x": row.x, "lr": row.lr} == state.configs[row.config_id]
    # seconds recorded per rung
    assert frame["seconds"].notna().all() and (frame["seconds"] >= 0).all()


def fake_loss(c, r, i):
    return np.nan if c["x"] > 0.9 else (c["x"] - 0.3) ** 2 + 1.0 / r


def obs_key(history):
    return [(o.config_id, o.iteration, o.bracket, o.rung, o.resource, repr(o.loss), o.promoted) for o in history]


def test_run_scheduler_equals_manual_loop():
    state = sched.hyperband(SPACE, 27, 3, seed=4)
    result = run_scheduler(state, FakeBackend())
    _, manual = drive(state, loss_fn=fake_loss)
    assert obs_key(result.state.history) == obs_key(manual.history)
    assert result.state.configs == manual.configs


def test_release_told_exactly_the_pruned_ids():
    backend = ReleasingBackend()
    result = Hyperband(SPACE, max_resource=27, eta=3, seed=0).run(backend)
    history = result.state.history
    assert len(backend.released) == len(backend.jobs)
    for job, released in zip(backend.jobs, backend.released):
        rows = [o for o in history if (o.iteration, o.bracket, o.rung) == (job.iteration, job.bracket, job.rung)]
        assert sorted(released) == sorted(o.config_id for o in rows if not o.promoted)
        assert set(released) <= set(job.config_ids)
    flat = [cid for r in backend.released for cid in r]
    assert sorted(flat) == list(range(len(result.state.configs)))  # each config released exactly once
    # a continuing backend is charged config-epochs
    assert result.resource_spent == sched.total_resource(result.state, continued=True)
    assert result.resource_spent < sched.total_resource(result.state, continued=False)


def test_callbacks_and_resume_via_hyperband_run():
    hb = Hyperband(SPACE, max_resource=9, eta=3, seed=2)
    calls = []
    full = hb.run(FakeBackend(), callbacks=[lambda job, losses, state, sec: calls.append((job.rung, len(losses)))])
    assert calls == [(0, 9), (1, 3), (2, 1), (0, 5), (1, 1), (0, 3)]
    _, partial = drive(hb.initial_state(), max_jobs=3, loss_fn=fake_loss)
    resumed = hb.run(FakeBackend(), state=partial)
    assert obs_key(resumed.state.history) == obs_key(full.state.history)
    assert resumed.best_config == full.best_config


def test_all_diverged_result():
    class Nan:
        def train_rung(self, job):
            return [np.nan] * len(job.config_ids)

    result = Hyperband(SPACE, max_resource=9, eta=3).run(Nan())
    assert result.best_config is None and result.best_config_id is None
    assert result.best_loss == math.inf
    assert "all diverged" in result.summary()
    assert result.to_frame()["diverged"].all()


def test_successive_halving_class():
    class XLoss:
        def train_rung(self, job):
            return [c["x"] for c in job.configs]

    sh = SuccessiveHalving(SPACE, n_configs=9, max_resource=9, eta=3)
    result = sh.run(XLoss())
    assert len(result.state.plan) == 1
    frame = result.to_frame()
    assert frame.groupby("rung").size().to_dict() == {0: 9, 1: 3, 2: 1}
    assert frame.groupby("rung")["resource"].first().to_dict() == {0: 1.0, 1: 3.0, 2: 9.0}
    first = frame[frame.rung == 0]
    assert result.best_config_id == first.loc[first["loss"].idxmin(), "config_id"]
    with pytest.raises(ValueError, match="n_configs must be a positive integer"):
        SuccessiveHalving(SPACE, n_configs=0, max_resource=9)


def test_describe_lists_plan():
    text = Hyperband(SPACE, max_resource=81, eta=3, seed=4).describe()
    assert text.splitlines()[0] == "Hyperband R=81 eta=3 seed=4"
    assert len(text.splitlines()) == 6
    assert "34x3, 11x9, 3x27, 1x81" in text


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(max_resource=81, eta=1), ValueError, "eta must be an integer >= 2"),
        (dict(max_resource=81, eta=3.0), ValueError, r"\(a float\); pass 3"),
        (dict(max_resource=0.5, eta=3), ValueError, r"max_resource \(R\) must be >= 1"),
        (dict(max_resource=float("nan")), ValueError, r"max_resource \(R\) must be >= 1"),
        (dict(max_resource=81, hyperband_iterations=0), ValueError, "hyperband_iterations must be a positive integer"),
        (
            dict(max_resource=81, hyperband_iterations=1.5),
            ValueError,
            "hyperband_iterations must be a positive integer",
        ),
        (dict(max_resource=81, seed=-1), ValueError, "seed must be a non-negative integer, got -1"),
        (dict(max_resource=81, seed="0"), ValueError, "seed must be a non-negative integer"),
    ],
)
def test_hyperband_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Hyperband(SPACE, **kwargs)


def test_hyperband_constructor_space_errors():
    with pytest.raises(ValueError, match="the search space is empty"):
        Hyperband(Space(), max_resource=81)
    with pytest.raises(TypeError, match="space must be an hbjax.Space, got dict"):
        Hyperband({"x": Uniform(0, 1)}, max_resource=81)
    with pytest.raises(TypeError):
        Hyperband(SPACE)  # max_resource is required (keyword-only)
    with pytest.raises(TypeError):
        Hyperband(SPACE, 81)  # type: ignore[misc]


def test_pandas_frame_dtypes():
    result = Hyperband(SPACE, max_resource=9, eta=3, seed=0).run(FakeBackend())
    frame = result.to_frame()
    assert frame["config_id"].dtype.kind == "i"
    assert frame["promoted"].dtype == bool and frame["diverged"].dtype == bool
    assert isinstance(frame, pd.DataFrame)
