"""``FlaxBackend``: Hyperband's backend for a user's flax module and optax optimizer (the model
client is ``usermodel.client.FlaxModel``; its module doc says what shares a program and why)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..engine.backend import EngineBackend, default_memory_limit, enable_compilation_cache
from ..engine.core import Engine
from ..engine.verify import SharingCheck, SharingError
from ..space import Space
from .client import FlaxModel
from .sharing import describe_sharing

__all__ = ["FlaxBackend", "SharingError"]

#: configs of the space traced before a run (their programs proven, their factory branches run)
PROBE_CONFIGS = 8


class FlaxBackend(EngineBackend):
    """Hyperband's backend for a user's flax module and optax optimizer.

    Each config's functions are traced right after its own factory calls; configs share a
    compiled program only where those jaxprs are equal, and the program evaluates them
    (``hbjax.usermodel.client``). Use it as ``hb.Hyperband(space, ...).run(backend)``.

    Args:
        model: ``model(config) -> module``: a ``flax.linen`` or ``flax.nnx`` module (or an nnx
            module through ``nnx.bridge.to_linen``).
        optimizer: ``optimizer(config) -> optax.GradientTransformation``; hyperparameters given
            through ``optax.inject_hyperparams`` vary inside a shared program.
        loss: ``loss(predictions, y) -> scalar``, minimised in training.
        data: ``(x_train, y_train, x_val, y_val)``, rows first: NumPy, pandas, JAX or lists;
            converted, then checked (``hbjax.usermodel.checks.fold_arrays``).
        metric: ``metric(predictions, y_val) -> scalar`` ranking configs (None: ``loss``).
        direction: ``"min"``, or ``"max"`` for a metric to maximise (Hyperband then sees
            ``-metric``).
        batch_size: the hyperparameter naming the batch size, or a fixed int.
        traced: hyperparameters handed to the module as ``hparams`` float32 scalars.
        seed: the run's seed (initialisation, shuffles, dropout).
        plan: ``"auto"``, ``"exact"`` or ``"wide"`` (``hbjax.engine.plan``).
        configs_per_program: the most configs per call (None: by plan).
        memory_limit_bytes: device memory the calls in flight may use (None: the device's).
        precision: matmul precision, ``"highest"`` or ``"default"`` (TF32 on recent GPUs).
        cost: cost-model constants (None: this device's calibration, else the defaults).
        compilation_cache: turn on JAX's persistent compile cache for the process (a
            process-wide ``jax.config`` setting; False leaves JAX's configuration alone).
        check_shapes: refuse a loss or metric that broadcasts predictions against targets of
            another shape.
        verify: after every rung, train up to this many configs of each shared program again
            alone and raise ``SharingError`` on any difference (0: off).
        cost_kind: the calibrated constants it plans with (``hbjax calibrate --model``).
        train_flag: the module's ``__call__`` keyword that says training, where it is not one
            hbjax knows (``"use_dropout"``; ``"not frozen"`` for one False while training).

    Raises:
        ValueError: a mistake in the callables or the data, naming the cause and the fix.
    """

    def __init__(
        self,
        *,
        model,
        optimizer,
        loss,
        data,
        metric=None,
        direction: str = "min",
        batch_size: str | int = "batch_size",
        traced: Sequence[str] = (),
        seed: int = 0,
        plan: str = "auto",
        configs_per_program: int | None = None,
        memory_limit_bytes: int | None = None,
        precision: str = "highest",
        cost=None,
        compilation_cache: bool = True,
        check_shapes: bool = True,
        verify: int = 0,
        cost_kind: str = "flax",
        train_flag: str | None = None,
    ):
        super().__init__()
        if compilation_cache:
            enable_compilation_cache()
        self.seed = int(seed)
        self.model = FlaxModel(
            model,
            optimizer,
            loss,
            data,
            metric=metric,
            direction=direction,
            batch_size=batch_size,
            traced=traced,
            seed=seed,
            check_shapes=check_shapes,
            cost_kind=cost_kind,
            train_flag=train_flag,
            precision=precision,
        )
        self.engine = Engine(
            self.model,
            seed=self.seed,
            configs_per_program=configs_per_program,
            plan=plan,
            memory_limit_bytes=memory_limit_bytes or default_memory_limit(),
            precision=precision,
            cost=cost,
        )
        if verify:
            self.sharing_check = SharingCheck(self.engine, self.model.alone(), verify)

    def sharing(self, configs: Sequence[Mapping] | None = None) -> dict:
        """Which hyperparameters are traced and which static, and why, over ``configs`` (None:
        every config given a program so far): ``{"configs", "programs", "compiles",
        "hyperparameters": {name: {"values", "traced_in", "static_in", "how"}}, "traced_configs",
        "trace_seconds", "verified"}``. ``traced_in``/``static_in`` count the programs in which the
        hyperparameter varies / is one value; ``how`` says why it may vary there, or ``unknown``
        where nothing proves it; ``trace_seconds``: spent tracing the ``traced_configs`` configs
        (each config's functions, to prove what it shares); ``verified``: the configs ``verify``
        trained again alone, with their differences."""
        configs = [dict(c) for c in (configs if configs is not None else self.model.seen.values())]
        programs = [self.engine.shape(c) for c in configs]
        return {
            "configs": len(configs),
            "programs": len(set(programs)),
            "compiles": self.engine.compiles,
            "hyperparameters": describe_sharing(configs, programs, self.model.how_shared),
            "traced_configs": len(self.model.seen),
            "trace_seconds": round(self.model.trace_seconds, 3),
            "verified": list(self.sharing_check.checked) if self.sharing_check is not None else None,
        }

    def validate_space(
        self, space: Space, config_epochs: float | None = None, *, first_rung_configs: int | None = None
    ) -> None:
        """Check the model and data against configs of ``space`` before anything trains: traced
        hyperparameters are numbers, a probe config fits (``FlaxModel.check_fit``), a sample of
        configs traces (so a factory branch that fails is named now, not mid-run), and every
        traced hyperparameter is read by some sampled config's training loss."""
        if isinstance(self.model.batch_key, str) and self.model.batch_key not in space.dims:
            raise ValueError(
                f"the space has no {self.model.batch_key!r} dimension (the batch size); give "
                f"batch_size=<int> for a fixed one"
            )
        unknown = [k for k in self.model.traced_names if k not in space.dims]
        if unknown:
            raise ValueError(f"traced hyperparameter(s) {unknown} are not in the space")
        for name in self.model.traced_names:
            for value in getattr(space.dims[name], "options", ()):  # a choice's every value, not a sample's
                self.model.check_traced(name, value)
        sample = space.sample_configs(np.random.default_rng(self.seed), PROBE_CONFIGS)
        self.model.check(sample[0])
        self.model.check_fit(sample[0])
        for config in sample:
            self.model.check(config)
            self.model.program_id(config)
        self.model.check_reads(sample)
        self.model.seen.clear()  # the report covers the configs the run plans, not this sample

    prepare = validate_space
