"""ASHA: the promotion rule, divergence, budget, determinism, workers, and search quality."""

import math
import threading
import time

import numpy as np
import pytest

import hbjax as hb
from hbjax.scaling import asha

SPACE = hb.Space(x=hb.Uniform(0.0, 1.0), y=hb.Uniform(0.0, 1.0))


def quality(c):
    if "x" not in c:  # the finite test space
        return 0.1 * c["a"] + (c["b"] == "v")
    return (c["x"] - 0.3) ** 2 + (c["y"] - 0.7) ** 2


def noisy_loss(cid, c, resource):
    """True quality + a bias and noise that shrink with resource (a pure function)."""
    z = np.random.default_rng([cid, int(round(resource * 1000))]).normal()
    return quality(c) + 0.3 / resource + 0.05 * z / math.sqrt(resource)


class SyntheticBackend:
    def __init__(self, continues=False, delay=0.0, nan_ids=()):
        self.continues = continues
        self.delay = delay
        self.nan_ids = set(nan_ids)
        self.calls = []
        self.lock = threading.Lock()

    def train_rung(self, job):
        if self.delay:
            time.sleep(self.delay * (1 + job.config_ids[0] % 3))  # stragglers
        with self.lock:
            self.calls.append(job)
        return np.array(
            [
                math.nan if cid in self.nan_ids else noisy_loss(cid, c, job.resource)
                for cid, c in zip(job.config_ids, job.configs)
            ]
        )


def test_rungs_end_at_max_resource():
    assert asha.rung_resources(27, 3, 1) == (1.0, 3.0, 9.0, 27.0)
    assert asha.rung_resources(100, 3, 1) == pytest.approx((100 / 81, 100 / 27, 100 / 9, 100 / 3, 100))
    assert asha.rung_resources(9, 3, 9) == (9.0,)
    with pytest.raises(ValueError, match="min_resource"):
        asha.rung_resources(9, 3, 10)


def test_promotion_rule_on_a_hand_made_sequence():
    state = asha.init(SPACE, max_resource=9, eta=3, min_resource=1, seed=0)
    jobs = []
    for i in range(3):  # nothing told yet: only new configs, at rung 0, never waiting
        job, state = asha.ask(state)
        assert (job.rung, job.config_ids, job.resource, job.previous_resource) == (0, (i,), 1.0, (0.0,))
        jobs.append(job)
    state = asha.tell(state, jobs[0], 0.5)
    state = asha.tell(state, jobs[1], 0.1)
    job, state = asha.ask(state)  # 2 results: floor(2/3) = 0 promotable -> a new config
    assert (job.rung, job.config_ids) == (0, (3,))
    state = asha.tell(state, jobs[2], 0.9)  # 3 results: the best one (id 1) is promotable
    assert asha.promotable(state) == (1, 0)
    promo, state = asha.ask(state)
    assert (promo.rung, promo.config_ids, promo.resource, promo.previous_resource) == (1, (1,), 3.0, (1.0,))
    assert promo.configs[0] == state.configs[1]
    job4, state = asha.ask(state)  # id 1 already promoted (pending): a new config
    assert (job4.rung, job4.config_ids) == (0, (4,))
    for j, loss in ((job, 0.05), (job4, 0.7)):  # rung 0: 0.05, 0.1, 0.5, 0.7, 0.9 -> top 1 = id 3
        state = asha.tell(state, j, loss)
    nxt, state = asha.ask(state)
    assert (nxt.rung, nxt.config_ids) == (1, (3,))
    state = asha.tell(state, promo, 0.2)
    state = asha.tell(state, nxt, 0.3)
    more = []
    for _ in range(4):  # rung 0 gets 4 more results: 9 told -> top 3 = ids 3, 1, 5
        j, state = asha.ask(state)
        assert j.rung == 0
        more.append(j)
    for j, loss in zip(more, (0.08, 0.6, 0.6, 0.6)):
        state = asha.tell(state, j, loss)
    # rung 1 has 2 results (floor(2/3) = 0): promote out of rung 0: id 5 (0.08), the best unpromoted
    j, state = asha.ask(state)
    assert (j.rung, j.config_ids) == (1, (5,))
    state = asha.tell(state, j, 0.15)
    # rung 1 now has 3 results (0.15, 0.2, 0.3): id 5 goes to the top rung first (highest rung first)
    j, state = asha.ask(state)
    assert (j.rung, j.config_ids, j.resource, j.previous_resource, j.is_last_rung) == (2, (5,), 9.0, (3.0,), True)
    state = asha.tell(state, j, 0.12)
    assert {(o.config_id, o.rung) for o in asha.history(state) if o.promoted} == {(1, 0), (3, 0), (5, 0), (5, 1)}


def test_a_nan_is_never_promoted():
    state = asha.init(SPACE, max_resource=9, eta=3, seed=0)
    jobs = []
    for _ in range(3):
        j, state = asha.ask(state)
        jobs.append(j)
    for j in jobs:
        state = asha.tell(state, j, np.nan)
    assert asha.promotable(state) is None
    j, state = asha.ask(state)
    assert j.rung == 0  # a new config, not a diverged one
    result = asha.run_asha(
        SPACE, SyntheticBackend(nan_ids=set(range(0, 100, 2))), max_resource=9, eta=3, seed=0, budget=200, workers=1
    )
    frame = result.to_frame()
    assert not frame[frame.diverged].promoted.any()
    assert set(frame[frame.rung > 0].config_id) & set(range(0, 100, 2)) == set()
    assert frame.diverged.sum() > 0 and np.isfinite(result.best_loss)


def test_tell_checks_the_job():
    state = asha.init(SPACE, max_resource=9, eta=3)
    job, state = asha.ask(state)
    state = asha.tell(state, job, 1.0)
    with pytest.raises(ValueError, match="not pending"):
        asha.tell(state, job, 1.0)


@pytest.mark.parametrize("continues", [False, True])
def test_budget_is_respected(continues):
    backend = SyntheticBackend(continues=continues)
    result = asha.run_asha(SPACE, backend, max_resource=27, eta=3, seed=1, budget=300, workers=1)
    assert result.resource_spent <= 300
    cost = sum(j.added_resource if continues else j.resource for j in backend.calls)
    assert cost == pytest.approx(result.resource_spent)
    assert result.resource_spent > 300 - 27  # it stopped only when the next job did not fit
    frame = result.to_frame()
    assert len(frame) == len(backend.calls) and frame.rung.max() == 3 and frame.resource.max() == 27


def test_deterministic_with_one_worker():
    a = asha.run_asha(SPACE, SyntheticBackend(), max_resource=27, eta=3, seed=4, budget=400, workers=1)
    b = asha.run_asha(SPACE, SyntheticBackend(), max_resource=27, eta=3, seed=4, budget=400, workers=1)
    fa, fb = (
        a.to_frame().drop(columns=["seconds", "rung_seconds"]),
        b.to_frame().drop(columns=["seconds", "rung_seconds"]),
    )
    assert fa.equals(fb) and a.best_config == b.best_config
    c = asha.run_asha(SPACE, SyntheticBackend(), max_resource=27, eta=3, seed=5, budget=400, workers=1)
    assert not fa.equals(c.to_frame().drop(columns=["seconds", "rung_seconds"]))


def test_three_workers_keep_jobs_in_flight_within_budget():
    backend = SyntheticBackend(continues=True, delay=0.002)
    result = asha.run_asha(SPACE, backend, max_resource=27, eta=3, seed=2, budget=300, workers=3)
    frame = result.to_frame()
    assert result.resource_spent <= 300 and len(frame) == len(backend.calls)
    assert frame.rung.max() >= 2 and np.isfinite(result.best_loss)
    # each (config, rung) trained once; promotions continue from the rung below
    assert not frame.duplicated(["config_id", "rung"]).any()
    for job in backend.calls:
        if job.rung > 0:
            assert ((frame.config_id == job.config_ids[0]) & (frame.rung == job.rung - 1)).any()


def test_max_configs_makes_it_finish():
    result = asha.run_asha(
        SPACE, SyntheticBackend(), max_resource=9, eta=3, seed=0, budget=1e6, workers=2, max_configs=9
    )
    frame = result.to_frame()
    assert asha.done(result.state) and frame.config_id.nunique() == 9
    assert (frame.rung == 1).sum() == 3 and (frame.rung == 2).sum() == 1  # the synchronous shape


def test_a_small_finite_space_is_visited_without_repeats():
    space = hb.Space(a=hb.IntChoice([1, 2, 3]), b=hb.Choice(["u", "v"]))
    result = asha.run_asha(space, SyntheticBackend(), max_resource=9, eta=3, seed=0, budget=1e6, workers=1)
    configs = result.state.configs
    assert len(configs) == 6 and len({tuple(c.items()) for c in configs}) == 6 and asha.done(result.state)


def test_finds_the_optimum_at_least_as_well_as_random_search():
    budget, R = 27 * 12, 27  # random search: 12 configs trained to R
    asha_q, random_q, tried = [], [], []
    for seed in range(5):
        res = asha.run_asha(SPACE, SyntheticBackend(), max_resource=R, eta=3, seed=seed, budget=budget, workers=1)
        asha_q.append(quality(res.best_config))
        tried.append(res.to_frame().config_id.nunique())
        configs = SPACE.sample_configs(np.random.default_rng([99, seed]), budget // R)
        best = min(range(len(configs)), key=lambda i: noisy_loss(10_000 + i, configs[i], R))
        random_q.append(quality(configs[best]))
    assert np.mean(asha_q) <= np.mean(random_q)
    assert np.median(asha_q) <= np.median(random_q)
    assert min(tried) > 3 * budget // R  # cheap low rungs let it look at many more configs
