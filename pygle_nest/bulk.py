"""The states of this rank's GLE connections as NumPy arrays, read and written in bulk (the C
interface of the module, ``nestml_models/cpp/pygle_bulk.h``): what checkpoints and
``Projection.set`` use, at any size and under MPI, where PyNEST builds a dictionary per
connection and refuses lists of values.

A :class:`Block` is the connections of one synapse model on one thread of this rank, in NEST's
order. Its columns: ``source``, ``target`` (node ids), ``port`` (receptor), ``delay`` (steps),
``states`` (connections x the model's state names) and, for models that keep values per lane,
``held`` (connections x lanes; NaN: nothing held yet).
"""

import ctypes
from dataclasses import dataclass

import numpy as np

from .module import install, module_path

_LONG = np.dtype(np.int_)
COLUMNS = ("source", "target", "port", "delay")


class Delivery(ctypes.Structure):
    """pygle::Delivery: the values the units sent in `steps` steps from kernel step `start`, and
    the pending inputs that the connections add them to."""
    _fields_ = [("start", ctypes.c_long), ("steps", ctypes.c_long), ("lanes", ctypes.c_long),
                ("row_of_node", ctypes.c_void_p), ("n_node_ids", ctypes.c_long),
                ("rates", ctypes.c_void_p), ("errors", ctypes.c_void_p), ("pending", ctypes.c_void_p),
                ("ports", ctypes.c_long), ("ahead", ctypes.c_long)]


@dataclass(frozen=True)
class Block:
    thread: int
    syn_id: int
    size: int
    states: tuple  #: the names of the state columns
    keeps_values: bool
    model: str  #: the synapse model's name


_lib = None


def _library():
    global _lib
    if _lib is None:
        install()  # the module must be NEST's own loaded copy: the same kernel
        lib = ctypes.CDLL(module_path())
        lib.pygle_blocks.restype = ctypes.c_long
        lib.pygle_blocks.argtypes = [ctypes.c_void_p, ctypes.c_long]
        lib.pygle_state_names.restype = ctypes.c_char_p
        lib.pygle_state_names.argtypes = [ctypes.c_long, ctypes.c_long]
        lib.pygle_read.restype = ctypes.c_long
        lib.pygle_read.argtypes = [ctypes.c_long] * 4 + [ctypes.c_void_p] * 6 + [ctypes.c_long, ctypes.POINTER(Delivery)]
        lib.pygle_write.restype = ctypes.c_long
        lib.pygle_write.argtypes = [ctypes.c_long] * 4 + [ctypes.c_void_p] * 2 + [ctypes.c_long]
        lib.pygle_error.restype = ctypes.c_char_p
        _lib = lib
    return _lib


def _check(result):
    if result != 0:
        raise RuntimeError(f"pygle-nest: {_library().pygle_error().decode()}")


def _pointer(a):
    return None if a is None else a.ctypes.data


def blocks():
    """The blocks of this rank: its GLE connections (and NEST's rate connections, which a
    checkpoint delivers too), by thread and synapse model."""
    import nest

    lib = _library()
    n = lib.pygle_blocks(None, 0)
    rows = np.zeros((n, 5), dtype=_LONG)
    lib.pygle_blocks(_pointer(rows), n)
    names = {}
    for model in nest.synapse_models:
        names[nest.GetDefaults(model, "synapse_modelid")] = model
    out = []
    for tid, syn_id, size, _, keeps in rows.tolist():
        states = lib.pygle_state_names(tid, syn_id)
        if states is None:
            _check(-1)
        out.append(Block(tid, syn_id, size, tuple(states.decode().split(",")), bool(keeps), names[syn_id]))
    return out


def read(block, first=0, count=None, columns=COLUMNS + ("states",), lanes=1, delivery=None):
    """{column: array} of connections first ... first + count - 1 of a block (default: all).
    delivery: a Delivery; the states are then those after it."""
    count = block.size - first if count is None else count
    out = {k: np.empty(count, dtype=_LONG) for k in COLUMNS if k in columns}
    if "states" in columns:
        out["states"] = np.empty((count, len(block.states)))
    if "held" in columns and block.keeps_values:
        out["held"] = np.empty((count, lanes))
    _check(_library().pygle_read(block.thread, block.syn_id, first, count,
                                 *[_pointer(out.get(k)) for k in COLUMNS + ("states", "held")], lanes,
                                 None if delivery is None else ctypes.byref(delivery)))
    return out


def write(block, states, held=None, first=0):
    """Set the states (connections x block.states, finite) of connections first, first + 1, ...
    of a block, and the values they hold (connections x lanes; NaN rows: none) where it keeps any."""
    states = np.ascontiguousarray(states, dtype=float)
    if states.ndim != 2 or states.shape[1] != len(block.states) or first + len(states) > block.size:
        raise ValueError(f"states must be at most {block.size - first} x {len(block.states)} "
                         f"({', '.join(block.states)}); got shape {states.shape}")
    if held is not None:
        held = np.ascontiguousarray(held, dtype=float)
        if held.ndim != 2 or len(held) != len(states):
            raise ValueError(f"held must be {len(states)} x lanes; got shape {held.shape}")
    _check(_library().pygle_write(block.thread, block.syn_id, first, len(states), _pointer(states),
                                  _pointer(held) if block.keeps_values else None,
                                  0 if held is None else held.shape[1]))
