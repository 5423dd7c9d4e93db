"""Checkpoints of a built network: weights and optimizer states of every plastic connection,
and the learned and dynamic states of every unit, with the position in the data.

Written once (rank 0 under mpirun, from states gathered across ranks) and atomically; loaded
into a network built the same way, at any number of ranks and threads. A loaded network
continues from the saved states; connections' values of the last min_delay slice before the
save, which NEST delivers at the start of the next call, are not part of a checkpoint.
"""

import json
import os
from pathlib import Path

import numpy as np

from .parallel import is_root
from .reference import RECORDABLES, SYNAPSE_STATES

#: gle_neuron states saved (all but the per-step inputs, which are recomputed every step).
UNIT_STATES = tuple(k for k in RECORDABLES if k not in ("I_fwd", "I_bwd", "y"))


def _plastic(spec):
    models = spec.model_list()
    return np.flatnonzero([models[m].plastic for m in spec.connections["model"]])


def _signature(spec):
    return {"units": spec.n_units, "connections": len(spec.connections["pre"]),
            "resolution": spec.resolution, "plastic": len(_plastic(spec))}


def save(net, path, position=None):
    """Write the checkpoint of a built Network (or NestNetwork) to path (.npz); position: what
    the caller needs to continue (epoch, sample, ...), stored as JSON."""
    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    synapses = nest_net.synapse_states(_plastic(spec))
    units = nest_net.unit_states(UNIT_STATES)
    if is_root():
        path = Path(path)
        partial = path.with_name(path.name + ".partial.npz")
        meta = json.dumps({"signature": _signature(spec), "position": position})
        np.savez(partial, meta=meta, **{"syn_" + k: v for k, v in synapses.items()},
                 **{"unit_" + k: v for k, v in units.items()})
        os.replace(partial, path)


def load(net, path):
    """Set a built network to a checkpoint; returns the saved position."""
    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        if meta["signature"] != _signature(spec):
            raise ValueError(f"the checkpoint {path} is of another network: {meta['signature']} "
                             f"!= {_signature(spec)}")
        nest_net.set_synapse_states(_plastic(spec), **{k: data["syn_" + k] for k in SYNAPSE_STATES})
        nest_net.set_unit_states({k: data["unit_" + k] for k in UNIT_STATES})
    return meta["position"]
