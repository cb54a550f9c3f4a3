"""Which configs may share a compiled program: proven from the very jaxprs that run.

Each config's functions (the module's initialisation, the training loss and its gradient,
validation, the optimizer's update) are traced to closed jaxprs right after that config's own
factory call (``trace``). A shared program evaluates those jaxprs (``Traced.__call__``), never a
new trace of the user's Python, so nothing read at trace time (a global a factory filled, a
closure, an array a nested ``jax.jit`` closes over) can differ between the proof and the run.
``fingerprint`` hashes every part of a jaxpr that can change what it computes: its text, its
argument and result structures, the bytes of its constants, of every literal and of every array
held in an equation's parameters, in nested closed jaxprs too. Configs share a program only where
their fingerprints are equal; a jaxpr that calls back into Python (``pure_callback``,
``io_callback``, ``jax.debug``) cannot be proven and is never shared.

``live_inputs`` says which inputs a jaxpr reads (a traced hyperparameter the training loss never
reads is a mistake worth an error); ``describe_sharing`` says, per hyperparameter, where it varied
inside a shared program (traced) and where it did not (static).
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.extend import core as jcore

from ..space import config_token

__all__ = ["Traced", "config_token", "describe_sharing", "fingerprint", "live_inputs", "trace"]

_UNPROVABLE = itertools.count()  # one fresh token per jaxpr that calls back into Python


class Traced(NamedTuple):
    """One function traced to a closed jaxpr with its argument and result structures. Calling it
    evaluates that jaxpr on arguments of the same structure: what was fingerprinted is what runs."""

    jaxpr: Any  # jax.extend.core.ClosedJaxpr
    in_tree: Any
    out_tree: Any
    out_shape: Any  # the results as jax.ShapeDtypeStruct

    def __call__(self, *args):
        flat, tree = jax.tree.flatten(args)
        if tree != self.in_tree:
            raise TypeError(f"a traced function got arguments structured {tree}, traced with {self.in_tree}")
        return jax.tree.unflatten(self.out_tree, jcore.jaxpr_as_fun(self.jaxpr)(*flat))

    def arg_leaves(self, index: int) -> range:
        """The flat input positions of positional argument ``index``."""
        sizes = [child.num_leaves for child in self.in_tree.children()]
        start = sum(sizes[:index])
        return range(start, start + sizes[index])


def trace(fn: Callable, *args) -> Traced:
    """``fn`` traced on abstract ``args`` (``jax.ShapeDtypeStruct`` leaves)."""
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    return Traced(closed, jax.tree.structure(args), jax.tree.structure(out_shape), out_shape)


def fingerprint(*fns: Traced) -> str:
    """A hash of traced functions: equal hashes mean the same computation on the same inputs."""
    h = hashlib.sha256()
    for fn in fns:
        h.update(str(fn.jaxpr.jaxpr).encode())
        h.update(str(fn.in_tree).encode())
        h.update(str(fn.out_tree).encode())
        _hash_closed(h, fn.jaxpr)
    return h.hexdigest()


def _hash_closed(h, closed) -> None:
    for const in closed.consts:
        _update_array(h, const)
    _hash_jaxpr(h, closed.jaxpr)


def _hash_jaxpr(h, jaxpr) -> None:
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:  # runs a Python function: nothing proves two configs' equal
            h.update(f"unprovable-{next(_UNPROVABLE)}".encode())
        for var in eqn.invars:
            if isinstance(var, jcore.Literal):
                _update_array(h, var.val)
        for name in sorted(eqn.params):
            _hash_param(h, eqn.params[name])
    for var in jaxpr.outvars:
        if isinstance(var, jcore.Literal):
            _update_array(h, var.val)


def _hash_param(h, value) -> None:
    if isinstance(value, jcore.ClosedJaxpr):
        _hash_closed(h, value)
    elif isinstance(value, jcore.Jaxpr):
        _hash_jaxpr(h, value)
    elif type(value) in (tuple, list):
        for item in value:
            _hash_param(h, item)
    elif isinstance(value, (np.ndarray, jax.Array)):  # printed abridged in the jaxpr's text
        _update_array(h, value)


def _update_array(h, value) -> None:
    if jax.dtypes.issubdtype(getattr(value, "dtype", None), jax.dtypes.prng_key):
        h.update(str(value.dtype).encode())
        value = jax.random.key_data(value)
    a = np.asarray(value)
    h.update(f"{a.dtype}{a.shape}".encode())
    h.update(a.tobytes())


def live_inputs(fn: Traced) -> list[bool]:
    """Per flat input of ``fn``, whether any result (or effect) depends on it."""
    jaxpr = fn.jaxpr.jaxpr
    live = {v for v in jaxpr.outvars if isinstance(v, jcore.Var)}
    for eqn in reversed(jaxpr.eqns):
        if eqn.effects or any(v in live for v in eqn.outvars if isinstance(v, jcore.Var)):
            live.update(v for v in eqn.invars if isinstance(v, jcore.Var))
    return [v in live for v in jaxpr.invars]


def describe_sharing(configs: Sequence[Mapping], programs: Sequence, how: Callable[[str, list], str]) -> dict:
    """Per hyperparameter, how the ``configs`` (grouped by ``programs``, one key per config) hold it:
    ``{"values": distinct values seen, "traced_in": programs in which it varies, "static_in":
    programs of several configs in which it is one value, "how": why it can vary}`` (a program of
    one config says nothing either way). ``how(name, members)`` names why ``name`` varies among the
    configs ``members`` of one program; the first program's answer is reported."""
    groups: dict = defaultdict(list)
    for config, program in zip(configs, programs):
        groups[program].append(config)
    names = sorted({k for c in configs for k in c})
    out = {}
    for name in names:
        values = {repr(c.get(name)) for c in configs}
        shared = [members for members in groups.values() if len(members) > 1]
        varied = [members for members in shared if len({repr(c.get(name)) for c in members}) > 1]
        entry: dict = {"values": len(values), "traced_in": len(varied), "static_in": len(shared) - len(varied)}
        if varied:
            entry["how"] = how(name, varied[0])
        out[name] = entry
    return out
