"""Instantiates a :class:`~pygle_nest.network.NetworkSpec` in NEST and reads recordings back.

Units become ``gle_neuron`` nodes, rate connections ``rate_connection_delayed``, error
connections ``eprop_learning_signal_connection``, and every input stream one
``step_rate_generator`` whose value of step n is sent in step n (NEST's generator switches its
amplitude one step ahead, so value n carries the time stamp (n + 1) h).
"""

from dataclasses import dataclass

import numpy as np

from .module import install
from .network import CHANNELS, UNIT_FIELDS, NetworkSpec
from .parameters import CHANNEL_CONNECTIONS


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
    units = nest.Create("gle_neuron", spec.n_units,
                        params={k: spec.units[k].tolist() for k in UNIT_FIELDS})
    ids = np.asarray(units.tolist())
    c = spec.connections
    for channel, name in enumerate(CHANNELS):
        sel = c["channel"] == channel
        if np.any(sel):
            nest.Connect(ids[c["pre"][sel]], ids[c["post"][sel]], "one_to_one",
                         syn_spec={"synapse_model": CHANNEL_CONNECTIONS[name],
                                   "weight": c["weight"][sel],
                                   "delay": c["delay"][sel] * spec.resolution,
                                   "receptor_type": c["port"][sel]})
    streams = nest.Create("step_rate_generator", len(spec.streams)) if spec.streams else None
    if streams is not None:
        streams.set([stream_amplitudes(x, spec.resolution) for x in spec.streams])
        s = spec.stream_connections
        if len(s["stream"]):
            nest.Connect(np.asarray(streams.tolist())[s["stream"]], ids[s["post"]], "one_to_one",
                         syn_spec={"synapse_model": CHANNEL_CONNECTIONS["rate"], "weight": s["weight"],
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
