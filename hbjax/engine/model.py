"""What the engine asks of a model: the client protocol every trained model implements.

The engine (``core.Engine``) plans, compiles, dispatches and keeps states; a model client says
what a config is made of and what one step computes:

* **shape** (``shape(config) -> ShapeKey``): a config's static part. Configs of one shape share
  programs; ``ShapeKey.static`` holds a model's own static hyperparameters (layer widths,
  structure), ``batch_size`` and ``window`` (the data key) are the engine's.
* **traced** (``traced(config) -> tuple of numbers``, ``traced_dtypes``, ``empty_traced()``): the
  numbers a config brings into its program as arrays (learning rate, dropout, ...).
* **states** (``init_state``, ``empty_state``): a config's (params, optimizer state) as NumPy
  pytrees with the fold axis in front, and the zeros an empty slot holds.
* **program** (``program_fns(program, sizes) -> ProgramFns``): loss, optimizer step and
  validation loss of one program (``program.make_train`` runs them).
* **cost** (``step_flops``, ``bytes_per_config``): what the plan charges.
* **host steps** (optional, ``host_steps(device_kind)``): train by one compiled step per
  optimizer step instead of a loop inside the program (convolutions on XLA CPU).
* **padding hook** (optional): ``padded_hidden`` (shape -> padded units, fixed per run),
  ``max_layers`` (the depth programs pad to), ``to_program(state, program)`` and
  ``to_own(state, config)`` (exact padding and unpadding of a state). A model without the hook
  keeps ``hidden=0, layers=1`` in its shapes and groups configs by exact shape.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import numpy as np

from .plan import ProgramKey, ShapeKey
from .program import FoldArrays, ProgramFns

__all__ = ["Model", "Sizes"]


class Sizes(NamedTuple):
    """A data key's array sizes: folds, training rows, validation rows, and ``features`` (the
    last axis of ``x_train``)."""

    folds: int
    train: int
    val: int
    features: int


class Model:
    """Base class of model clients (see the module docstring). Subclasses implement the methods
    that raise ``NotImplementedError``; the padding hook defaults to no padding."""

    #: dtypes of ``traced(config)``'s numbers, in order
    traced_dtypes: tuple = ()
    #: (hidden, batch, window) -> padded hidden units, fixed per run (padding hook; None: exact)
    padded_hidden: dict | None = None
    #: the depth every program pads to (padding hook; None: each shape's own)
    max_layers: int | None = None

    def data(self, window: int) -> FoldArrays:
        raise NotImplementedError

    def shape(self, config: Mapping, default_window: int) -> ShapeKey:
        raise NotImplementedError

    def check(self, config: Mapping) -> None:
        """Raise ``ValueError`` naming what is wrong with ``config`` (before anything trains)."""

    def traced(self, config: Mapping) -> tuple:
        raise NotImplementedError

    def empty_traced(self) -> tuple:
        """The traced numbers of an empty vmap slot (computed, then discarded: never a NaN)."""
        return tuple(np.zeros((), dt) for dt in self.traced_dtypes)

    def pack_traced(self, columns) -> Any:
        """The container a program receives the traced numbers in (columns: one array each)."""
        return tuple(columns)

    def init_state(self, config: Mapping, shape: ShapeKey, config_id: int, sizes: Sizes) -> tuple:
        """A new config's (params, opt_state) at its own shape, stacked over folds (NumPy)."""
        raise NotImplementedError

    def empty_state(self, program: ProgramKey, sizes: Sizes) -> tuple:
        """Zeros shaped like a state of ``program`` (an empty slot; the compile's template)."""
        raise NotImplementedError

    def to_program(self, state, program: ProgramKey):
        return state

    def to_own(self, state, config: Mapping):
        return state

    def program_fns(self, program: ProgramKey, sizes: Sizes) -> ProgramFns:
        raise NotImplementedError

    def step_flops(self, hidden: int, layers: int, shape: ShapeKey, sizes: Sizes) -> float:
        """Matmul FLOPs of one optimizer step of a config of ``shape`` run at ``hidden`` units and
        ``layers`` deep, on all folds."""
        raise NotImplementedError

    def bytes_per_config(self, program: ProgramKey, sizes: Sizes) -> int:
        """Device bytes one slot of ``program`` needs (the data not included)."""
        raise NotImplementedError

    def host_steps(self, device_kind: str) -> bool:
        """Train by host-driven steps on this device (one compiled step per optimizer step, no
        loop inside the program) instead of one program looping over its steps: for models whose
        step XLA runs slowly inside a loop (convolutions on CPU, JAX issue #12868)."""
        return False
