"""Files that survive a kill: JSON read with one clear error, text written and fsynced, replaced
atomically, directory renames made durable, files hashed (the checkpoints' manifests)."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .serialization import CheckpointError

__all__ = ["fsync_dir", "json_text", "meta_safe", "read_json", "sha256", "write_atomic", "write_synced"]


def read_json(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: not an hbjax run directory (or an incomplete one)") from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupted (not valid JSON: {err})") from err


def write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write_synced(tmp, text)
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_text(obj) -> str:
    return json.dumps(obj, indent=1, allow_nan=False)


def meta_safe(obj):
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): meta_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [meta_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
