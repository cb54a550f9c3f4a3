"""``LSTMEngine``: the engine (``hbjax.engine.core.Engine``) with the LSTM as its model client.

The engine is the same one a user's Flax model trains on; this file only wires the LSTM's client
(``program.LSTMModel``: shapes, traced numbers, padding hook, step) into it and keeps the names
the LSTM backend and its tools use (``activations``, ``max_layers``, ``padded_hidden``,
``configure``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..engine.core import PRECISIONS, Engine, Part, Ticket
from ..engine.keys import ShapeKey
from ..engine.program import FoldArrays, config_key, steps_for
from .network import ACTIVATIONS
from .program import LSTMModel, encode_hparams, resize_state

__all__ = [
    "PRECISIONS",
    "FoldArrays",
    "LSTMEngine",
    "Part",
    "Ticket",
    "config_key",
    "encode_hparams",
    "resize_state",
    "steps_for",
]


class LSTMEngine(Engine):
    """The engine over ``LSTMModel(fold_arrays, ...)``. ``fold_arrays(window) -> FoldArrays``
    supplies data; ``window`` (a config's when it names none), ``activations``, ``max_layers``,
    ``padded_hidden``: the client's (see ``LSTMModel``); every other keyword is ``Engine``'s."""

    def __init__(
        self,
        fold_arrays: Callable[[int], FoldArrays],
        *,
        window: int = 20,
        activations: Sequence[str] = ACTIVATIONS,
        max_layers: int | None = None,
        padded_hidden: dict | None = None,
        seed: int = 0,
        **engine,
    ):
        model = LSTMModel(
            fold_arrays,
            seed=seed,
            window=window,
            activations=activations,
            max_layers=max_layers,
            padded_hidden=padded_hidden,
        )
        super().__init__(model, seed=seed, **engine)

    activations = property(
        lambda self: self.model.activations, lambda self, value: setattr(self.model, "activations", tuple(value))
    )
    max_layers = property(
        lambda self: self.model.max_layers, lambda self, value: setattr(self.model, "max_layers", value)
    )
    padded_hidden = property(
        lambda self: self.model.padded_hidden, lambda self, value: setattr(self.model, "padded_hidden", value)
    )
    window = property(lambda self: self.model.window)

    def configure(
        self,
        *,
        hiddens: Sequence[int],
        batch_sizes: Sequence[int],
        windows: Sequence[int],
        layers: Sequence[int],
        config_epochs: float,
        first_rung_configs: int | None = None,
    ) -> None:
        """Fix the run's programs from the space's shape choices and the run's expected
        config-epochs (``LSTMModel.configure``)."""
        self.model.configure(
            plan=self.plan,
            device_kind=self.device_kind,
            cost=self.cost,
            hiddens=hiddens,
            batch_sizes=batch_sizes,
            layers=layers,
            config_epochs=config_epochs,
            sizes={int(w): self.sizes(int(w)) for w in windows},
            first_rung_configs=first_rung_configs,
        )

    def _fresh_state(self, key: ShapeKey, config_id: int):
        """A new config's state at shape ``key`` (NumPy, folds first)."""
        return self.model.init_state(None, key, config_id, self.sizes(key.data))
