"""DEHB (Awad, Mallik & Hutter 2021) as an hbjax strategy, and Space <-> ConfigSpace (see ``peers.py``)."""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import tempfile
import warnings

from ..results import Result
from ..space import Choice, IntChoice, IntUniform, LogUniform, Space, Uniform, python_scalar
from .base import check_budget, check_eta, check_int, check_max_resource, check_real, check_seed, check_space
from .peer_common import PeerRunner, require

# a diverged config's fitness for DEHB: finite, because DEHB 0.1.1 cannot promote from a rung
# where no fitness is finite (IndexError in _get_promotion_candidate), and worse than any loss
DIVERGED_FITNESS = 1e300


def to_configspace(space: Space, *, seed: int | None = None):
    """A ``ConfigSpace.ConfigurationSpace`` of ``space``: Uniform -> float, LogUniform -> log float,
    IntUniform -> integer, Choice -> categorical, IntChoice -> ordinal (in the given order)."""
    CS = require("ConfigSpace", "dehb")
    cs = CS.ConfigurationSpace(seed=seed)
    hps = []
    for name, dim in space.dims.items():
        if isinstance(dim, (Uniform, LogUniform)):
            hps.append(
                CS.UniformFloatHyperparameter(name, float(dim.low), float(dim.high), log=isinstance(dim, LogUniform))
            )
        elif isinstance(dim, IntUniform):
            hps.append(CS.UniformIntegerHyperparameter(name, int(dim.low), int(dim.high)))
        elif isinstance(dim, IntChoice):
            hps.append(CS.OrdinalHyperparameter(name, [int(v) for v in dim.options]))
        else:
            hps.append(CS.CategoricalHyperparameter(name, [python_scalar(v) for v in dim.options]))
    add = getattr(cs, "add", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        add(hps) if add is not None else cs.add_hyperparameters(hps)
    return cs


def from_configspace(cs) -> Space:
    """The hbjax :class:`~hbjax.space.Space` of a ConfigurationSpace without conditions or
    forbidden clauses: float -> Uniform / LogUniform, integer (not log) -> IntUniform, categorical ->
    Choice, ordinal of integers -> IntChoice (other ordinals -> Choice), constant -> a one-value
    Choice. Anything else raises ValueError."""
    CS = require("ConfigSpace", "dehb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        hps = list(cs.values()) if hasattr(cs, "values") else cs.get_hyperparameters()
        if list(cs.get_conditions()) or list(cs.get_forbiddens()):
            raise ValueError("conditional spaces and forbidden clauses have no hbjax Space equivalent")
    dims: dict = {}
    for hp in hps:
        if isinstance(hp, CS.UniformFloatHyperparameter):
            dims[hp.name] = (LogUniform if hp.log else Uniform)(float(hp.lower), float(hp.upper))
        elif isinstance(hp, CS.UniformIntegerHyperparameter) and not hp.log:
            dims[hp.name] = IntUniform(int(hp.lower), int(hp.upper))
        elif isinstance(hp, CS.CategoricalHyperparameter):
            dims[hp.name] = Choice([python_scalar(v) for v in hp.choices])
        elif isinstance(hp, CS.OrdinalHyperparameter):
            seq = [python_scalar(v) for v in hp.sequence]
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in seq)
            dims[hp.name] = IntChoice(seq) if ints else Choice(seq)
        elif isinstance(hp, CS.Constant):
            dims[hp.name] = Choice([python_scalar(hp.value)])
        else:
            raise ValueError(f"hyperparameter {hp.name!r} ({type(hp).__name__}) has no hbjax equivalent")
    return Space(dims)


def config_from_configspace(space: Space, configuration) -> dict:
    """A ConfigSpace ``Configuration`` (or dict) as an hbjax config of ``space``: Python scalars,
    in the space's order, numbers clipped to their bounds (ConfigSpace rounds floats)."""
    values = dict(configuration)
    config = {}
    for name, dim in space.dims.items():
        v = python_scalar(values[name])
        if isinstance(dim, (Uniform, LogUniform)):
            v = float(min(max(float(v), dim.low), dim.high))
        elif isinstance(dim, (IntUniform, IntChoice)):
            v = int(v)
        else:
            v = next(
                (python_scalar(o) for o in dim.options if type(python_scalar(o)) is type(v) and python_scalar(o) == v),
                v,
            )
        config[name] = v
    return config


# -- a multi-fidelity runner: jobs, budget, rows ------------------------------------------------------
class _Mute:
    """Stands in for DEHB's loguru logger while DEHB is built: no handlers replaced, no log file."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextlib.contextmanager
def _dehb_call(*, building: bool = False):
    """Around DEHB's own calls only (not the backend's training): its deprecation warnings (it
    calls ConfigSpace's old API) are dropped, and while DEHB is built its module-level loguru
    logger is a mute stand-in, so DEHB neither replaces loguru's handlers nor opens a log file
    (DEHB keeps the stand-in as ``self.logger``)."""
    module = sys.modules.get("dehb.optimizers.dehb") if building else None
    saved = getattr(module, "logger", None)
    if module is not None:
        module.logger = _Mute()  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if module is not None:
            module.logger = saved  # type: ignore[attr-defined]


def _import_dehb(strategy: str):
    dehb = require("dehb", strategy)
    require("ConfigSpace", strategy)
    try:
        from loguru import logger

        logger.disable("dehb")  # DEHB's messages only (loguru's per-library switch)
    except ImportError:  # pragma: no cover - loguru is a DEHB dependency
        pass
    return dehb


class DEHBStrategy:
    """DEHB (differential evolution in Hyperband brackets) through its ask/tell interface; see the
    module doc for batching and for why every job trains from scratch."""

    name = "dehb"

    def __init__(
        self,
        space: Space,
        *,
        max_resource,
        eta: int = 3,
        seed: int = 0,
        min_resource=1,
        batch_size: int | None = None,
        mutation_factor: float = 0.5,
        crossover_prob: float = 0.5,
    ):
        self.space = check_space(space)
        self.max_resource = check_max_resource(max_resource)
        self.eta = check_eta(eta)
        self.seed = check_seed(seed)
        self.min_resource = check_real("min_resource", min_resource, low=0.0, low_open=True)
        if not self.min_resource < float(max_resource):
            raise ValueError(
                f"dehb needs min_resource < max_resource (DEHB needs two fidelities at least), "
                f"got min_resource={min_resource}, max_resource={max_resource}"
            )
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)
        self.mutation_factor = check_real("mutation_factor", mutation_factor, low=0.0, low_open=True)
        self.crossover_prob = check_real("crossover_prob", crossover_prob, low=0.0, high=1.0)
        self._dehb = _import_dehb(self.name)

    def describe(self) -> str:
        version = getattr(self._dehb, "__version__", "")
        return (
            f"DEHB {version} fidelity {self.min_resource:g}..{float(self.max_resource):g} eta={self.eta} "
            f"batch={self.batch_size or 'rung'} seed={self.seed}"
        ).replace("  ", " ")

    def _resource(self, fidelity) -> float:
        r = float(fidelity)
        near = round(r)
        if abs(r - near) <= 1e-9 * max(1.0, abs(r)):
            r = float(near)
        return min(r, float(self.max_resource))

    def run(self, backend, *, budget, callbacks=()) -> Result:
        budget = check_budget(budget, self.max_resource)
        runner = PeerRunner(self.name, self.space, backend, budget=budget, callbacks=callbacks)
        folder = tempfile.mkdtemp(prefix="hbjax-dehb-")
        seen: set = set()
        repeats = 0
        dehb = None
        try:
            with _dehb_call(building=True):
                dehb = self._dehb.DEHB(
                    cs=to_configspace(self.space, seed=self.seed),
                    f=None,
                    dimensions=len(self.space.names),
                    min_fidelity=self.min_resource,
                    max_fidelity=float(self.max_resource),
                    eta=self.eta,
                    mutation_factor=self.mutation_factor,
                    crossover_prob=self.crossover_prob,
                    seed=self.seed,
                    n_workers=1,
                    output_path=folder,
                    save_freq="end",
                    log_level="ERROR",
                )
            levels = [self._resource(f) for f in dehb.fidelities]
            s_max = len(levels) - 1
            pending = None
            while True:
                with _dehb_call():
                    first = pending if pending is not None else dehb.ask()
                pending = None
                r = self._resource(first["fidelity"])
                cost = runner.cost(r, 0.0)  # every DEHB job trains from scratch
                if not runner.fits(cost):
                    break  # its job no longer fits: the run ends (never told: DEHB is dropped)
                batch = [first]
                while self.batch_size is None or len(batch) < self.batch_size:
                    if not runner.fits(cost * (len(batch) + 1)) or not self._same_rung_next(dehb, first):
                        break
                    with _dehb_call():
                        job = dehb.ask()
                    if job["bracket_id"] != first["bracket_id"] or self._resource(job["fidelity"]) != r:
                        pending = job
                        break
                    batch.append(job)
                with _dehb_call():
                    configs = [config_from_configspace(self.space, j["config"]) for j in batch]
                cids = [runner.add_config(c) for c in configs]
                s = s_max - int(first["bracket_id"]) % (s_max + 1)
                rung = levels.index(r) - (s_max - s) if r in levels else 0
                job, losses, seconds = runner.train(
                    cids, r, [0.0] * len(cids), iteration=int(first["bracket_id"]), bracket=s, rung=rung
                )
                for j, (info, loss) in enumerate(zip(batch, losses)):
                    loss = float(loss)
                    with _dehb_call():
                        dehb.tell(info, {"fitness": loss if math.isfinite(loss) else DIVERGED_FITNESS, "cost": cost})
                    did = int(info["config_id"])
                    repeats += did in seen
                    seen.add(did)
                    runner.record(job, j, loss=loss, promoted=False, seconds=seconds, dehb_config_id=did)
                runner.done(job, losses, seconds, release=cids)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return runner.result(brackets=int(getattr(dehb, "iteration_counter", -1)) + 1, retrained_promotions=repeats)

    @staticmethod
    def _same_rung_next(dehb, first) -> bool:
        """Would DEHB's next job come from the same bracket, without waiting for results? (Private
        API; without it, one job at a time: exactly DEHB's sequential schedule.)"""
        try:
            with _dehb_call():
                return dehb._get_next_bracket(only_id=True) == first["bracket_id"]
        except Exception:  # noqa: BLE001
            return False
