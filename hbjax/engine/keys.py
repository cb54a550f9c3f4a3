"""The two keys the engine knows configs and programs by. Both hold the model's own static key
as an opaque, ordered tuple: the engine compares and hashes it, never reads inside it.

* ``ShapeKey`` (``Model.shape(config)``): a config's static part. Configs with equal keys compute
  the same program; which shapes share a padded program is the model's call
  (``Model.program_statics``).
* ``ProgramKey``: one compiled program: the model's program key (its shapes padded where the
  model pads), batch size, data key, how configs are batched in it and its width (configs per
  call). Every width is a compile of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProgramKey", "ShapeKey"]


@dataclass(frozen=True, order=True)
class ShapeKey:
    """A config's own static part."""

    batch_size: int
    data: int = 0  # which of the model's datasets it trains on (``Model.data(key)``; 0: the only one)
    static: tuple = ()  # the model's own static hyperparameters (hashable, ordered)


@dataclass(frozen=True, order=True)
class ProgramKey:
    """One compiled train program."""

    static: tuple  # the model's program key (``Model.program_statics``)
    batch_size: int
    data: int
    batching: str  # "map" (configs one after another) | "vmap" (side by side)
    width: int  # configs per call

    def describe(self) -> str:
        own = " ".join(str(v) if not isinstance(v, tuple) else "=".join(map(str, v)) for v in self.static)
        return f"{own} B{self.batch_size}{f' D{self.data}' if self.data else ''} {self.batching}x{self.width}".lstrip()

    @property
    def bucket(self) -> tuple:
        """The program without its width: the programs a split into narrower calls may use."""
        return self.static, self.batch_size, self.data, self.batching
