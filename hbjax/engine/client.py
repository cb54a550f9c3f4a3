"""What the engine asks of a model: the client protocol every trained model implements.

The engine (``core.Engine``) plans, compiles, dispatches and keeps states; a model client says
what a config is made of, what one step computes and what it costs. docs/architecture.md
("Adding a model") walks through implementing one; tests/engine/test_third_model.py is a small MLP
written from that page alone.

* **data** (``data(key) -> FoldArrays``): the arrays of one data key (0 for a model with one
  dataset; the LSTM's input window).
* **shape** (``shape(config) -> ShapeKey``): a config's static part: its batch size, data key and
  the model's own static key (an ordered tuple: layer widths, structure, a program fingerprint).
  Configs of one shape compute the same program.
* **traced** (``traced(config) -> tuple of numbers``, ``traced_dtypes``, ``empty_traced()``,
  ``pack_traced``): the numbers a config brings into its program as arrays (learning rate,
  dropout, ...).
* **states** (``init_state``, ``empty_state``): a config's (params, optimizer state) as NumPy
  pytrees with the fold axis in front, and the zeros an empty slot holds.
* **program** (``program_fns(program, sizes) -> ProgramFns``): loss, optimizer step and
  validation loss of one program (``program.make_train`` runs them).
* **cost** (``step_flops``, ``serial_steps``, ``bytes_per_config``): what the plan charges;
  ``cost_kind`` names the calibrated constants it plans with (``engine/calibrate.py``).
* **padding** (optional): ``program_statics(shapes, exact)`` says which program key each of a
  rung's shapes runs in (default: its own: configs group by exact shape); a model that pads
  implements it with ``to_program(state, program)`` and ``to_own(state, config)`` (exact padding
  and unpadding of a state), and ``bound(shape)`` (an integer its step loops to that a vmapped
  call takes as its configs' largest, e.g. the LSTM's depth).
* **host steps** (optional, ``host_steps(device_kind)``): train by one compiled step per
  optimizer step instead of a loop inside the program (convolutions on XLA CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .keys import ProgramKey, ShapeKey
from .plan import ModelCosts, RungRequest, plan_items
from .program import FoldArrays, ProgramFns

__all__ = ["Model", "Sizes", "rung_request"]


class Sizes(NamedTuple):
    """A data key's array sizes: folds, training rows, validation rows, and ``features`` (the
    last axis of ``x_train``)."""

    folds: int
    train: int
    val: int
    features: int


class Model:
    """Base class of model clients (see the module docstring). Subclasses implement the methods
    that raise ``NotImplementedError``; padding defaults to none."""

    #: dtypes of ``traced(config)``'s numbers, in order
    traced_dtypes: tuple = ()
    #: the calibrated constants it plans with (``hbjax calibrate``): one set per model kind and
    #: device; None: the device's
    cost_kind: str | None = None

    def data(self, key: int) -> FoldArrays:
        raise NotImplementedError

    def shape(self, config: Mapping) -> ShapeKey:
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

    # --- padding (optional) ----------------------------------------------------------------
    def program_statics(self, shapes: Sequence[ShapeKey], exact: bool) -> list[tuple]:
        """The program key (``ProgramKey.static``) each of a rung's ``shapes`` runs in; ``exact``:
        the plan pads nothing. Fixed per run for a shape, so a config's floats never depend on
        the configs it shares a rung with. Default: its own key."""
        return [s.static for s in shapes]

    def bound(self, shape: ShapeKey) -> int:
        """An integer the step of a config of ``shape`` loops to, that a program built for more
        takes as an argument: a vmapped call runs every slot to its configs' largest (passed to
        ``ProgramFns`` as ``bound``). Default 0 (no such loop)."""
        return 0

    def to_program(self, state, program: ProgramKey):
        """A config's state in ``program``'s layout (padded, exactly)."""
        return state

    def to_own(self, state, config: Mapping):
        """A state of a program's layout back in ``config``'s own (exactly)."""
        return state

    # --- programs and costs ----------------------------------------------------------------
    def program_fns(self, program: ProgramKey, sizes: Sizes) -> ProgramFns:
        raise NotImplementedError

    def step_flops(self, shape: ShapeKey, static: tuple, bound: int | None, sizes: Sizes) -> float:
        """Matmul FLOPs of one optimizer step of a config of ``shape`` on all folds, run in a
        program of key ``static`` (``shape.static``: alone) to ``bound`` (None: its own)."""
        raise NotImplementedError

    def serial_steps(self, shape: ShapeKey, bound: int | None) -> int:
        """Sequential steps inside one optimizer step, each charged the device's latency
        (``CostModel.seconds_per_serial_step``): a recurrent model's time steps x layers. 0:
        none beyond the step itself."""
        return 0

    def bytes_per_config(self, program: ProgramKey, sizes: Sizes) -> int:
        """Device bytes one slot of ``program`` needs (the data not included)."""
        raise NotImplementedError

    def host_steps(self, device_kind: str) -> bool:
        """Train by host-driven steps on this device (one compiled step per optimizer step, no
        loop inside the program) instead of one program looping over its steps: for models whose
        step XLA runs slowly inside a loop (convolutions on CPU, JAX issue #12868)."""
        return False


def rung_request(
    model: Model,
    shapes: Sequence[ShapeKey],
    starts: Sequence[int],
    stops: Sequence[int],
    *,
    sizes_of: Callable[[int], Sizes],
    mode: str,
    priorities: Sequence[int] | None = None,
    **fields,
) -> RungRequest:
    """The plan's input for ``model``'s configs of ``shapes`` training steps ``[starts, stops)``:
    each config's program key and bound, and the model's costs at the sizes of its data key
    (``sizes_of``); ``fields``: the other fields of ``RungRequest``."""
    statics = model.program_statics(shapes, mode == "exact") if shapes else []
    items = plan_items(shapes, statics, [model.bound(s) for s in shapes], starts, stops, priorities)
    costs = ModelCosts(
        flops=lambda s, static, bound: model.step_flops(s, static, bound, sizes_of(s.data)),
        serial_steps=model.serial_steps,
        slot_bytes=lambda program: model.bytes_per_config(program, sizes_of(program.data)),
    )
    return RungRequest(items, costs, mode=mode, **fields)
