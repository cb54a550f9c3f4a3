"""What a program costs on a device: time (the cost model) and memory (the estimate).

The cost model charges what runs. One optimizer step of a call costs

* ``vmap`` on an accelerator (configs side by side): ``max(latency floor, FLOPs of all width
  slots / FLOP rate)``, filler slots and padding included;
* ``vmap`` on a CPU (side by side means one small matmul after another): ``width x (floor +
  slot FLOPs / rate)``;
* ``map`` (configs one after another, empty slots skipped): ``floor + FLOPs / rate`` per config.

The latency floor is ``seconds_per_step + seconds_per_serial_step x serial steps``, where the
model says how many sequential steps one optimizer step holds (``Model.serial_steps``: the
LSTM's time steps x layers, forward and backward, each a few kernel launches on a GPU; 0 for a
model without such a loop). FLOPs and bytes are the model's too. A program not compiled yet
adds ``compile_s``.

Constants come from ``hbjax calibrate`` on the device when it has been run there for the model
being planned (a JSON per device kind, model kind and JAX version in the constants directory),
else from a calibration of the device without a model kind (older files), else the committed
defaults.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

__all__ = [
    "COST_MODELS",
    "CostModel",
    "analysed_bytes",
    "constants_path",
    "cost_model",
    "device_id",
    "load_constants",
    "save_constants",
    "step_seconds",
]

#: constants renamed since a run or calibration saved them (old name -> new): still read
RENAMED = {"seconds_per_layer_step": "seconds_per_serial_step"}


@dataclass(frozen=True)
class CostModel:
    """Constants for one kind of device. ``source`` says where they came from."""

    flops_per_s: float  # achieved by the train step's matmuls at full width
    seconds_per_step: float  # fixed cost of one optimizer step (loop, gathers, optimizer update)
    compile_s: float  # one train program, from an empty cache
    vmap_parallel: bool  # True: a vmapped program's configs run side by side (accelerators)
    seconds_per_serial_step: float = 0.0  # latency of one sequential step inside a step (Model.serial_steps)
    memory_bytes: int | None = None  # usable device memory measured by calibrate (None: ask the device)
    source: str = "committed default"

    def floor(self, serial_steps: int) -> float:
        """Latency floor of one optimizer step of ``serial_steps`` sequential steps: what it
        costs however few FLOPs it has."""
        return self.seconds_per_step + self.seconds_per_serial_step * serial_steps

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CostModel:
        fields = cls.__dataclass_fields__
        d = {RENAMED.get(k, k): v for k, v in d.items()}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown cost-model constants {unknown}")
        out = cls(**d)
        for name in ("flops_per_s", "compile_s"):
            if not getattr(out, name) > 0:
                raise ValueError(f"cost-model constant {name} must be > 0, got {getattr(out, name)!r}")
        if out.seconds_per_step < 0 or out.seconds_per_serial_step < 0:
            raise ValueError("cost-model latencies must be >= 0")
        return out


#: The CPU figures were measured on the 2-core development CPU
#: (benchmarks/results/cost_constants_cpu.json). No accelerator has been measured: the GPU/TPU
#: figures are an estimate (a latency-bound step of a few kernel launches per scan step, fp32
#: matmuls well below peak) until ``hbjax calibrate`` runs there.
COST_MODELS = {
    "cpu": CostModel(
        flops_per_s=8.1e10,
        seconds_per_step=4.3e-4,
        compile_s=1.9,
        vmap_parallel=False,
        source="committed default (measured on the 2-core development CPU)",
    ),
    "gpu": CostModel(
        flops_per_s=1.0e13,
        seconds_per_step=1.0e-4,
        compile_s=10.0,
        vmap_parallel=True,
        seconds_per_serial_step=3.0e-5,
        source="committed default (an estimate: no GPU measured)",
    ),
}
COST_MODELS["tpu"] = replace(COST_MODELS["gpu"], source="committed default (an estimate: no TPU measured)")


def device_id(device) -> str:
    """A file-name-safe key for a device kind: platform and kind, e.g. ``gpu-nvidia-h200``."""
    kind = getattr(device, "device_kind", "") or ""
    return re.sub(r"[^a-z0-9]+", "-", f"{device.platform}-{kind}".lower()).strip("-")


def constants_dir() -> Path:
    return Path(os.environ.get("HBJAX_CONSTANTS_DIR") or Path.home() / ".cache" / "hbjax" / "constants")


def constants_path(device, jax_version: str | None = None, model_kind: str | None = None) -> Path:
    """Where the constants of ``model_kind`` (None: any model) on this device kind are stored."""
    import jax

    kind = f"-{re.sub(r'[^a-z0-9]+', '-', model_kind.lower()).strip('-')}" if model_kind else ""
    return constants_dir() / f"{device_id(device)}{kind}-jax{jax_version or jax.__version__}.json"


def save_constants(device, model: CostModel, extra: dict | None = None, *, model_kind: str | None = None) -> Path:
    path = constants_path(device, model_kind=model_kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"constants": model.to_dict(), **(extra or {})}, indent=2))
    os.replace(tmp, path)
    return path


def load_constants(device, model_kind: str | None = None) -> CostModel | None:
    """The calibrated constants of ``model_kind`` on this device kind and JAX version, or None."""
    path = constants_path(device, model_kind=model_kind)
    if not path.exists():
        return None
    try:
        return CostModel.from_dict(json.loads(path.read_text())["constants"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable calibration ({exc}); rerun 'hbjax calibrate' or delete it") from None


def cost_model(device_kind: str, device=None, model_kind: str | None = None) -> CostModel:
    """Measured constants of ``model_kind`` on ``device`` when calibrated, else the device's
    calibration without a model kind, else the committed default of its kind."""
    if device is not None:
        for kind in ([model_kind] if model_kind else []) + [None]:
            measured = load_constants(device, kind)
            if measured is not None:
                return measured
    return COST_MODELS.get(device_kind, COST_MODELS["gpu"])


def step_seconds(cost: CostModel, *, batching: str, width: int, slot_flops: float, serial_steps: int) -> float:
    """Seconds of one optimizer step of a whole call (every slot), as charged by the model.
    ``slot_flops``: one slot's FLOPs at the program's padded shape and the call's bound."""
    floor = cost.floor(serial_steps)
    if batching == "vmap" and cost.vmap_parallel:
        return max(floor, width * slot_flops / cost.flops_per_s)
    return width * (floor + slot_flops / cost.flops_per_s)


def analysed_bytes(compiled) -> int:
    """Device bytes XLA reports for a compiled program (arguments + outputs + temporaries, less
    what aliases); 0 where the backend gives no analysis."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return 0
    if m is None:
        return 0
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)
