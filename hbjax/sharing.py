"""Which configs may share a compiled program: proven from the programs, config by config.

Configs share a program only where training each of them in it is provably training it alone:
the functions the program runs (initialisation, one training step's loss, gradient and optimizer
update, validation) traced to jaxprs for each config are the same jaxpr, with the same constants
and literals, taking the config's traced values as inputs (``hparams``, and the hyperparameters
``optax.inject_hyperparams`` keeps in the optimizer state). A hyperparameter baked into the code
(a Python float in a schedule, a clip threshold, ``optax.sgd(momentum=...)``, a module field)
changes a literal or a shape and so the fingerprint: that config gets its own program. Nothing
is decided from one probe config, and nothing from random probe steps.

``fingerprint`` hashes one function's jaxpr; ``describe_sharing`` says, per hyperparameter, where
it varied inside a shared program (traced) and where it did not (static).
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Callable, Mapping, Sequence

import jax
import numpy as np
from jax.extend import core as jcore

from .space import config_token

__all__ = ["fingerprint", "config_token", "describe_sharing"]


def fingerprint(fn: Callable, *args) -> str:
    """A hash of ``fn``'s jaxpr on abstract ``args``: its text, its argument and result
    structures, the bytes of its constants and of every literal (sub-jaxprs included). Equal
    hashes mean the same computation on the same inputs."""
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    h = hashlib.sha256(str(closed.jaxpr).encode())
    h.update(str(jax.tree.structure(args)).encode())
    h.update(str(jax.tree.structure(out_shape)).encode())
    for const in closed.consts:
        _update_array(h, const)
    for literal in _literals(closed.jaxpr):
        _update_array(h, literal)
    return h.hexdigest()


def _update_array(h, value) -> None:
    a = np.asarray(value)
    h.update(f"{a.dtype}{a.shape}".encode())
    h.update(a.tobytes())


def _literals(jaxpr):
    for eqn in jaxpr.eqns:
        for var in eqn.invars:
            if isinstance(var, jcore.Literal):
                yield var.val
        for sub in jcore.jaxprs_in_params(eqn.params):
            yield from _literals(sub)
    for var in jaxpr.outvars:
        if isinstance(var, jcore.Literal):
            yield var.val


def describe_sharing(configs: Sequence[Mapping], programs: Sequence, reasons: Mapping[str, str]) -> dict:
    """Per hyperparameter, how the ``configs`` (grouped by ``programs``, one key per config) hold it:
    ``{"values": distinct values seen, "traced_in": programs in which it varies, "static_in":
    programs of several configs in which it is one value, "how": the reason when traced}``
    (a program of one config says nothing either way). A hyperparameter is *traced* where configs
    with different values of it share a program; ``reasons`` names why (``hparams``, the
    optimizer's injected state, or not read by the program at all)."""
    groups: dict = defaultdict(list)
    for config, program in zip(configs, programs):
        groups[program].append(config)
    names = sorted({k for c in configs for k in c})
    out = {}
    for name in names:
        values = {repr(c.get(name)) for c in configs}
        counts = [len({repr(c.get(name)) for c in members}) for members in groups.values() if len(members) > 1]
        varied = sum(1 for n in counts if n > 1)
        entry = {"values": len(values), "traced_in": varied, "static_in": len(counts) - varied}
        if varied:
            entry["how"] = reasons.get(name, "not read by the programs that share it")
        out[name] = entry
    return out
