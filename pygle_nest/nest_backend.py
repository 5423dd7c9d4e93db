"""Instantiates a :class:`~pygle_nest.network.NetworkSpec` in NEST and reads results back.

Units become ``gle_neuron`` nodes; connections use the spec's models (NEST's static
``rate_connection_delayed`` / ``eprop_learning_signal_connection``, or the plastic
``gle_synapse`` / ``gle_synapse_backward`` and copies of them with their own common
properties); every input stream becomes one ``step_rate_generator`` whose value of step n is
sent in step n (NEST's generator switches its amplitude one step ahead, so value n carries the
time stamp (n + 1) h).
"""

from dataclasses import dataclass

import numpy as np

from .module import install
from .network import UNIT_FIELDS, NetworkSpec
from .reference import SYNAPSE_STATES


@dataclass
class NestNetwork:
    """The NEST nodes of a spec: ``units`` (gle_neuron) and ``streams`` (step_rate_generator)."""

    spec: NetworkSpec
    units: object
    streams: object

    def multimeter(self, record_from, units=None):
        """A multimeter recording every step from the given units (default: all)."""
        import nest

        mm = nest.Create("multimeter", params={"record_from": list(record_from),
                                                "interval": self.spec.resolution})
        nest.Connect(mm, self.units if units is None else units)
        return mm

    def connection_order(self, which):
        """NEST connections and the positions in them of the spec's connections `which`.

        A connection is identified by (pre, post, model, port); the spec must not repeat one.
        """
        import nest

        c, n = self.spec.connections, self.spec.n_units
        names = [m.name for m in self.spec.model_list()]
        conns = nest.GetConnections(source=self.units, target=self.units,
                                    synapse_model=sorted({names[k] for k in c["model"][which]}))
        status = conns.get(["source", "target", "synapse_model", "receptor"])
        ids = np.asarray(self.units.tolist())

        def key(pre, post, model, port):
            return ((np.asarray(model) * 8 + np.asarray(port)) * n + pre) * n + post

        have = key(np.searchsorted(ids, status["source"]), np.searchsorted(ids, status["target"]),
                   [names.index(m) for m in status["synapse_model"]], status["receptor"])
        want = key(c["pre"][which], c["post"][which], c["model"][which], c["port"][which])
        if len(np.unique(want)) != len(want):
            raise ValueError("connections with the same (pre, post, model, port) cannot be told apart")
        order = np.argsort(have)
        pos = np.minimum(np.searchsorted(have[order], want), len(have) - 1)
        if np.any(have[order][pos] != want):
            raise RuntimeError("some connections of the spec are not in NEST")
        return conns, order[pos]

    def synapse_states(self, which):
        """{weight, m, s}: arrays over the spec's connections `which` (plastic ones for m, s)."""
        conns, index = self.connection_order(which)
        status = conns.get(list(SYNAPSE_STATES))
        return {k: np.asarray(status[k], dtype=float)[index] for k in SYNAPSE_STATES}


def stream_amplitudes(values, resolution, first_step=0):
    """step_rate_generator amplitude_times/values that send values[k] in step first_step + k."""
    values = np.asarray(values, dtype=float)
    changes = np.flatnonzero(np.r_[True, np.diff(values) != 0])
    times = np.round((first_step + changes + 1) * resolution, 12)
    return {"amplitude_times": times.tolist(), "amplitude_values": values[changes].tolist()}


def create(spec: NetworkSpec) -> NestNetwork:
    """Create the spec's nodes and connections in the current kernel (resolution set if needed)."""
    import nest

    install()
    if nest.resolution != spec.resolution:
        nest.resolution = spec.resolution
    for model in spec.model_list():
        if model.name != model.base:
            nest.CopyModel(model.base, model.name, model.params)
        elif model.plastic:
            nest.SetDefaults(model.name, model.params)
    units = nest.Create("gle_neuron", spec.n_units,
                        params={k: spec.units[k].tolist() for k in UNIT_FIELDS})
    ids = np.asarray(units.tolist())
    c = spec.connections
    for k, model in enumerate(spec.model_list()):
        sel = c["model"] == k
        if np.any(sel):
            nest.Connect(ids[c["pre"][sel]], ids[c["post"][sel]], "one_to_one",
                         syn_spec={"synapse_model": model.name, "weight": c["weight"][sel],
                                   "delay": c["delay"][sel] * spec.resolution,
                                   "receptor_type": c["port"][sel]})
    streams = nest.Create("step_rate_generator", len(spec.streams)) if spec.streams else None
    if streams is not None:
        streams.set([stream_amplitudes(x, spec.resolution) for x in spec.streams])
        s = spec.stream_connections
        if len(s["stream"]):
            nest.Connect(np.asarray(streams.tolist())[s["stream"]], ids[s["post"]], "one_to_one",
                         syn_spec={"synapse_model": "rate_connection_delayed", "weight": s["weight"],
                                   "delay": s["delay"] * spec.resolution, "receptor_type": s["port"]})
    return NestNetwork(spec, units, streams)


def recorded(mm, units):
    """Multimeter events as {name: array (recorded steps, units)}, ordered by time and unit."""
    ev = mm.events
    ids = np.asarray(units.tolist())
    col = np.searchsorted(ids, ev["senders"])
    steps, row = np.unique(np.round(ev["times"] / mm.interval).astype(int), return_inverse=True)
    out = {}
    for name in mm.record_from:
        arr = np.full((len(steps), len(ids)), np.nan)
        arr[row, col] = ev[name]
        out[name] = arr
    return out
