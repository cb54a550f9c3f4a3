"""The check behind shared programs: a few configs of every shared program trained again alone.

Sharing is proven before a program is built (``hbjax.usermodel.sharing``); this check catches what a proof
could miss. For every program that a job trains two or more different configs in, up to
``per_program`` of them (the first and the last by position, then evenly between) are trained
again from the same state over the same epochs by an engine of the model's ``alone()`` view (each
config its own program, built from its own module and optimizer), and the validation losses and
trained states are compared: bit for bit where configs run one after another (CPU ``auto``), to
``rtol`` where they run side by side under ``vmap`` (vmapped matmuls may round differently).
Any difference raises ``SharingError`` naming the config and the size of the difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

import jax
import numpy as np

from ..usermodel.sharing import config_token

__all__ = ["SharingCheck", "SharingError"]


class SharingError(ValueError):
    """A config trained in a shared program differs from the same config trained alone."""


class SharingCheck:
    def __init__(self, engine, alone_model, per_program: int, rtol: float = 1e-4):
        from .core import Engine

        if per_program < 1:
            raise ValueError(f"verify must be >= 1 configs per shared program, got {per_program}")
        self.engine, self.per_program = engine, int(per_program)
        self.exact = engine.host_stepped or not engine.cost.vmap_parallel
        self.rtol = 0.0 if self.exact else rtol
        self.floor = 0.0 if self.exact else 1e-2  # values below it compared absolutely (to rtol x floor)
        self.alone = Engine(alone_model, replace(engine.settings, configs_per_program=1))
        self.pending: dict = {}  # config id -> (config, resource, previous resource, start state or None)
        self.checked: list[dict] = []  # one row per config trained again

    def pick(
        self,
        config_ids: Sequence[int],
        configs: Sequence[Mapping],
        resources: Sequence[float],
        previous: Sequence[float],
    ) -> None:
        """Before a submission: choose the configs to train again and keep their start states."""
        groups: dict = defaultdict(list)
        for row in zip(config_ids, configs, resources, previous):
            groups[self.engine.shape(row[1])].append(row)
        for members in groups.values():
            if len({config_token(c) for _, c, _, _ in members}) < 2:
                continue
            n = min(self.per_program, len(members))
            chosen = sorted({round(i * (len(members) - 1) / max(n - 1, 1)) for i in range(n)})
            for i in chosen:
                cid, config, resource, prev = members[i]
                start = self.engine.states.get(cid) if prev > 0 else None
                self.pending[cid] = (dict(config), float(resource), float(prev), start, len(members))

    def check(self, config_ids: Sequence[int], val: Sequence[float]) -> None:
        """After a job's states are committed: train its chosen configs alone and compare."""
        for cid, shared_val in zip(config_ids, val):
            if cid not in self.pending:
                continue
            config, resource, prev, start, group = self.pending.pop(cid)
            if start is not None:
                self.alone.states[cid] = start
            alone_val, _ = self.alone.train([cid], [config], resource, [prev])
            alone_state = self.alone.states.get(cid)
            self.alone.release([cid])
            shared_state = self.engine.states.get(cid)
            worst = _difference(shared_val, alone_val[0], self.floor)
            if shared_state is not None and alone_state is not None:
                worst = max(
                    worst,
                    *(
                        _difference(a, b, self.floor)
                        for a, b in zip(jax.tree.leaves(shared_state), jax.tree.leaves(alone_state))
                    ),
                )
            self.checked.append(
                {
                    "config_id": int(cid),
                    "resource": resource,
                    "program_configs": group,
                    "shared_val": float(shared_val),
                    "alone_val": float(alone_val[0]),
                    "max_relative_difference": worst,
                }
            )
            if worst > self.rtol:
                raise SharingError(
                    f"config {cid} {config} trained in a program shared with {group - 1} other config(s) is not what "
                    f"it gives alone: validation loss {float(shared_val):.6g} shared vs {float(alone_val[0]):.6g} "
                    f"alone (largest relative difference {worst:.3g}, allowed {self.rtol:g}). A hyperparameter "
                    f"reaches its program in a way the sharing proof did not see; please report it, and make it "
                    f"static meanwhile (e.g. build the optimizer without inject_hyperparams for it)"
                )


def _difference(a, b, floor: float = 0.0) -> float:
    """Largest difference between two arrays relative to max(|a|, |b|, floor) (NaN where only
    one is NaN, or different shapes: infinite)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if (nan_a != nan_b).any():
        return float("inf")
    a, b = a[~nan_a], b[~nan_b]
    if a.size == 0 or np.array_equal(a, b):
        return 0.0
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float(np.max(np.abs(a - b) / np.where(scale > 0, scale, 1.0)))
