"""Instantiates a :class:`~pygle_nest.network.NetworkSpec` in NEST and reads results back.

Units become ``gle_neuron`` nodes; connections use the spec's models (NEST's static
``rate_connection_delayed`` / ``eprop_learning_signal_connection``, or the plastic
``gle_synapse`` / ``gle_synapse_backward`` and copies of them with their own common
properties); every input stream becomes one ``step_rate_generator`` whose value of step n is
sent in step n (NEST's generator switches its amplitude one step ahead, so value n carries the
time stamp (n + 1) h); every spike train one ``spike_generator`` (static_synapse to the
receptor spikes).
"""

from dataclasses import dataclass

import numpy as np

from .module import install
from .parallel import gather, gather_dict, rank
from .network import UNIT_FIELDS, NetworkSpec
from .parameters import RECEPTORS
from .reference import SYNAPSE_STATES


@dataclass
class NestNetwork:
    """The NEST nodes of a spec: ``units`` (gle_neuron), ``streams`` (step_rate_generator) and
    ``spike_sources`` (spike_generator, one per spike train)."""

    spec: NetworkSpec
    units: object
    streams: object
    spike_sources: object = None
    step_offset: int = 0

    def multimeter(self, record_from, units=None):
        """A multimeter recording every step from the given units (default: all)."""
        import nest

        mm = nest.Create("multimeter", params={"record_from": list(record_from),
                                                "interval": self.spec.resolution})
        nest.Connect(mm, self.units if units is None else units)
        return mm

    def _per_model(self, which, with_states=False):
        """For each connection model among the spec's connections `which`: the positions in
        `which`, the model's NEST connections, and where each of them sits in those.

        A connection is identified by (pre, post, port); the spec must not repeat one per model.
        """
        import nest

        c, n = self.spec.connections, self.spec.n_units
        which = np.asarray(which)
        ids = np.asarray(self.units.tolist())
        for k in np.unique(c["model"][which]):
            positions = np.flatnonzero(c["model"][which] == k)
            sel = which[positions]
            model = self.spec.model_list()[k]
            conns = nest.GetConnections(source=self.units, target=self.units,
                                        synapse_model=nest_model(self.spec, model))
            keys = ["source", "target", "receptor"] + (self.states_of(model) if with_states else ["weight"])
            # one query for all keys (get(key) converts every connection's whole status each time)
            values = conns.get(keys) if len(conns) else {key: [] for key in keys}
            if len(conns) == 1:  # NEST returns the values of a single connection unwrapped
                values = {key: [values[key]] for key in keys}
            status = gather_dict({key: _lanes_of(values[key], self.spec.lanes) if key == "held"
                                  else np.asarray(values[key]).reshape(-1) for key in keys})
            have = (status["receptor"] * n + np.searchsorted(ids, status["source"])) * n \
                + np.searchsorted(ids, status["target"])
            want = (c["port"][sel] * n + c["pre"][sel]) * n + c["post"][sel]
            if len(np.unique(want)) != len(want):
                raise ValueError("connections with the same (pre, post, model, port) cannot be told apart")
            order = np.argsort(have)
            pos = np.minimum(np.searchsorted(have[order], want), len(have) - 1)
            if len(have) == 0 or np.any(have[order][pos] != want):
                raise RuntimeError("some connections of the spec are not in NEST")
            yield positions, conns, status, order[pos]

    def states_of(self, model):
        """The SYNAPSE_STATES a plastic model has in NEST (held: the lagged forward ones only)."""
        return [k for k in SYNAPSE_STATES if k != "held" or (model.lagged and model.channel == 0)]

    def synapse_states(self, which):
        """SYNAPSE_STATES of the spec's plastic connections `which` (indices), in that order,
        gathered from all MPI ranks."""
        out = {k: np.zeros((len(which), self.spec.lanes) if k == "held" else len(which)) for k in SYNAPSE_STATES}
        for positions, _, status, index in self._per_model(which, with_states=True):
            for k in status.keys() & set(SYNAPSE_STATES):
                out[k][positions] = status[k][index].astype(float)
        return out

    def set_synapse_states(self, which, **states):
        """Set weight (and the other SYNAPSE_STATES of plastic connections) of the spec's
        connections `which`."""
        for positions, conns, status, index in self._per_model(which, with_states=set(states) != {"weight"}):
            # this rank's connections are its slice of the gathered ones
            first = int(sum(gather([len(conns)])[: rank()]))
            update = {}
            for key, values in states.items():
                if key not in status:
                    continue
                current = status[key].astype(float)
                current[index] = np.broadcast_to(np.asarray(values, dtype=float),
                                                 (len(which),) + current.shape[1:])[positions]
                update[key] = current[first:first + len(conns)].tolist()
            if len(conns) and update:  # one dict per local connection: PyNEST refuses lists under MPI
                conns.set([dict(zip(update, values)) for values in zip(*update.values())])

    def unit_states(self, keys):
        """{key: array over all units} of gle_neuron states, gathered from all MPI ranks; a
        per-lane state of a network of several lanes: lanes x units (as the reference's)."""
        out = gathered_status(self.units, keys)
        return {k: v.T if v.ndim == 2 else v for k, v in out.items()}

    def unit_arrays(self, keys):
        """{key: array (units x length)} of list-valued gle_neuron status entries (equal lengths),
        gathered from all MPI ranks."""
        def rows(values):
            length = int(max(gather([len(v) for v in values] or [0])))
            return np.array([np.asarray(v, dtype=float) for v in values]).reshape(len(values), length)
        return gathered_status(self.units, keys, rows)

    def pending_inputs(self):
        """The units' pending_inputs as units x receptors x steps x lanes, gathered from all MPI
        ranks; a rank's nodes keep the steps of that rank's max_delay (a device's connection
        counts on its own rank only): fewer steps are padded with zeros."""
        ports, lanes = len(RECEPTORS), self.spec.lanes

        def blocks(values):
            parts = [np.asarray(v, dtype=float).reshape(ports, -1, lanes) for v in values]
            steps = int(max(gather([p.shape[1] for p in parts] or [0])))
            return np.array([np.pad(p, ((0, 0), (0, steps - p.shape[1]), (0, 0))) for p in parts]).reshape(
                len(parts), ports, steps, lanes)
        return gathered_status(self.units, ["pending_inputs"], blocks)["pending_inputs"]

    def set_unit_states(self, states):
        """Set gle_neuron states, {key: one value (or list) per unit}; each rank sets its own nodes."""
        def value(v):  # lists and Python scalars of the value's own type (NEST's integers refuse floats)
            return v.tolist() if isinstance(v, np.ndarray) else v.item() if isinstance(v, np.generic) else v
        self.units.set([{k: value(states[k][i]) for k in states} for i in range(self.spec.n_units)])

    def set_step_offset(self, steps):
        """Count `steps` simulated before this kernel's time 0 in Adam's bias corrections, in the
        units and in all plastic connection models (a checkpoint resumed in a fresh kernel)."""
        import nest

        self.units.set({"step_offset": int(steps)})
        for model in self.spec.model_list():
            if model.plastic:
                nest.SetDefaults(model.name, {"step_offset": int(steps)})
        self.step_offset = int(steps)

    @property
    def steps(self):
        """Steps simulated so far, including those before a resumed checkpoint."""
        import nest

        return self.step_offset + int(round(nest.biological_time / self.spec.resolution))


def _lanes_of(values, lanes):
    """Per-lane values of connections as connections x lanes (a connection that has none yet: 0)."""
    rows = [np.asarray(v, dtype=float) for v in values]
    return np.array([r if r.size == lanes else np.zeros(lanes) for r in rows]).reshape(len(rows), lanes)


def gathered_status(nodes, keys, stack=lambda values: np.asarray(values, dtype=float)):
    """{key: stack(values)} of the nodes' status entries, from all MPI ranks (each holds only its
    own nodes' values), in the order of the NodeCollection."""
    # one query: NEST 3.10's get(keys) builds every node's whole status once per key
    status = nodes.get()
    wanted = ["global_id"] + list(keys)
    if all(k in status for k in wanted):
        status = {k: status[k] for k in wanted}
        if len(nodes) == 1:  # NEST returns the values of a single node unwrapped
            status = {k: [v] for k, v in status.items()}
        local = [i for i, v in enumerate(status[keys[0]]) if v is not None]  # under MPI: None elsewhere
    else:  # under MPI, a rank that holds none of the nodes gets no model entries
        local = []
    ids = np.asarray(nodes.tolist())
    order = np.argsort(np.searchsorted(ids, gather([int(status["global_id"][i]) for i in local])))
    return {key: gather(stack([status[key][i] for i in local]))[order] for key in keys}


def stream_amplitudes(values, resolution, first_step=0):
    """step_rate_generator amplitude_times/values that send values[k] in step first_step + k."""
    values = np.asarray(values, dtype=float)
    changes = np.flatnonzero(np.r_[True, np.diff(values) != 0])
    times = np.round((first_step + changes + 1) * resolution, 12)
    return {"amplitude_times": times.tolist(), "amplitude_values": values[changes].tolist()}


#: NEST's one-lane static rate connections, and the module's lane-carrying ones that stand in
#: for them in networks of more than one lane.
LANE_STATIC_MODELS = {"rate_connection_delayed": "gle_synapse_static",
                      "eprop_learning_signal_connection": "gle_synapse_static_backward"}


def nest_model(spec: NetworkSpec, model):
    """The NEST connection model of a spec's model."""
    return LANE_STATIC_MODELS.get(model.name, model.name) if spec.lanes > 1 else model.name


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
    units = nest.Create("gle_neuron", spec.n_units, params={"lanes": spec.lanes})
    # one dict per unit: under MPI NEST applies each to its node where that node is local
    columns = {k: spec.units[k].tolist() for k in UNIT_FIELDS}
    units.set([{k: columns[k][i] for k in UNIT_FIELDS} for i in range(spec.n_units)])
    ids = np.asarray(units.tolist())
    for unit, (port, first_step, values) in spec.lane_inputs.items():
        units[unit].set({"lane_inputs": values.ravel().tolist(), "lane_inputs_port": port,
                         "lane_inputs_start": first_step})
    c = spec.connections
    for k, model in enumerate(spec.model_list()):
        sel = c["model"] == k
        if np.any(sel):
            nest.Connect(ids[c["pre"][sel]], ids[c["post"][sel]], "one_to_one",
                         syn_spec={"synapse_model": nest_model(spec, model), "weight": c["weight"][sel],
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
    trains = spec.spike_trains
    spike_sources = nest.Create("spike_generator", len(trains)) if trains else None
    for k, (unit, times, weight, delay, counts) in enumerate(trains):
        spike_sources[k].set({"spike_times": times.tolist(), "spike_multiplicities": counts.astype(int).tolist()})
        nest.Connect(spike_sources[k], units[unit], syn_spec={"synapse_model": "static_synapse", "weight": weight,
                                                              "delay": delay * spec.resolution,
                                                              "receptor_type": RECEPTORS["spikes"]})
    return NestNetwork(spec, units, streams, spike_sources)


def recorded(mm, units):
    """Multimeter events of all MPI ranks as {name: array (recorded steps, units)}, ordered by
    time and unit."""
    ev = gather_dict({k: np.asarray(v) for k, v in mm.events.items()})
    ids = np.asarray(units.tolist())
    col = np.searchsorted(ids, ev["senders"])
    steps, row = np.unique(np.round(ev["times"] / mm.interval).astype(int), return_inverse=True)
    out = {}
    for name in mm.record_from:
        arr = np.full((len(steps), len(ids)), np.nan)
        arr[row, col] = ev[name]
        out[name] = arr
    return out
