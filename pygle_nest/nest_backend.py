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
from functools import cached_property

import numpy as np

from . import bulk
from .module import install
from .parallel import gather, gather_dict, rank
from .network import UNIT_FIELDS, NetworkSpec
from .parameters import RECEPTORS
from .reference import SYNAPSE_STATES


#: The names of the spec (SYNAPSE_STATES) for the connections' states in NEST, and back.
_NEST_NAMES = {"weight": "w"}
_SPEC_NAMES = {"w": "weight"}


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

    @cached_property
    def unit_ids(self):
        """The units' node ids (once: see node_ids)."""
        return node_ids(self.units)

    def unit_index(self, node_ids):
        """The index in the spec of each node id (-1: not one of the units)."""
        ids = self.unit_ids
        node_ids = np.asarray(node_ids)
        index = np.minimum(np.searchsorted(ids, node_ids), len(ids) - 1)
        return np.where(ids[index] == node_ids, index, -1)

    def _local(self, model, columns):
        """This rank's NEST connections of a spec model between units (read in bulk): per block,
        (block, the spec key (port, pre, post) of each connection or -1, the columns read)."""
        name, n = nest_model(self.spec, model), self.spec.n_units
        for block in bulk.blocks():
            if block.model == name:
                got = bulk.read(block, columns=("source", "target", "port") + columns, lanes=self.spec.lanes)
                pre, post = self.unit_index(got["source"]), self.unit_index(got["target"])
                yield block, np.where((pre >= 0) & (post >= 0), (got["port"] * n + pre) * n + post, -1), got

    def _per_model(self, which):
        """For each connection model among the spec's connections `which`: the model, the
        positions in `which`, and the spec keys of those connections (pre, post and port identify
        a connection: the spec must not repeat one per model)."""
        c, n = self.spec.connections, self.spec.n_units
        which = np.asarray(which, dtype=int)
        for k in np.unique(c["model"][which]):
            positions = np.flatnonzero(c["model"][which] == k)
            sel = which[positions]
            want = (c["port"][sel] * n + c["pre"][sel]) * n + c["post"][sel]
            if len(np.unique(want)) != len(want):
                raise ValueError("connections with the same (pre, post, model, port) cannot be told apart")
            yield self.spec.model_list()[k], positions, want

    def states_of(self, model):
        """The SYNAPSE_STATES a plastic model has in NEST (held: the lagged forward ones only)."""
        return [k for k in SYNAPSE_STATES if k != "held" or (model.lagged and model.channel == 0)]

    def synapse_states(self, which):
        """SYNAPSE_STATES of the spec's connections `which` (indices), in that order, gathered
        from all MPI ranks (static connections: the weight; the others 0)."""
        lanes = self.spec.lanes
        out = {k: np.zeros((len(which), lanes) if k == "held" else len(which)) for k in SYNAPSE_STATES}
        for model, positions, want in self._per_model(which):
            keys, values = [np.zeros(0, dtype=int)], {k: [np.zeros((0, lanes) if k == "held" else 0)] for k in SYNAPSE_STATES}
            for block, key, got in self._local(model, ("states", "held")):
                inside = key >= 0
                keys.append(key[inside])
                for j, name in enumerate(block.states):
                    values[_SPEC_NAMES.get(name, name)].append(got["states"][inside, j])
                if "held" in got:  # NaN: nothing held yet, shown as 0 (as NEST's status shows none)
                    values["held"].append(np.nan_to_num(got["held"][inside], nan=0.0))
            have = gather(np.concatenate(keys))
            order = np.argsort(have)
            pos = np.minimum(np.searchsorted(have[order], want), len(have) - 1)
            if len(have) == 0 or np.any(have[order][pos] != want):
                raise RuntimeError("some connections of the spec are not in NEST")
            for k in self.states_of(model) if model.plastic else ["weight"]:  # the same on every rank
                out[k][positions] = gather(np.concatenate(values[k]))[order[pos]]
        return out

    def set_synapse_states(self, which, **states):
        """Set weight (and the other SYNAPSE_STATES of plastic connections) of the spec's
        connections `which` (values: one per connection, or one for all); each rank sets its own
        connections, in bulk."""
        for model, positions, want in self._per_model(which):
            order = np.argsort(want)
            found = 0
            for block, key, got in self._local(model, ("states", "held")):
                pos = np.minimum(np.searchsorted(want[order], key), len(want) - 1)
                match = (key >= 0) & (want[order][pos] == key)
                index = positions[order[pos[match]]]  # where each matched connection is in `which`
                found += int(match.sum())
                for name, values in states.items():
                    values = np.broadcast_to(np.asarray(values, dtype=float),
                                             (len(which),) + ((self.spec.lanes,) if name == "held" else ()))
                    if name == "held":
                        if "held" in got:
                            got["held"][match] = values[index]
                    elif _NEST_NAMES.get(name, name) in block.states:
                        got["states"][match, block.states.index(_NEST_NAMES.get(name, name))] = values[index]
                bulk.write(block, got["states"], got.get("held"))
            if int(np.sum(gather([found]))) != len(want):
                raise RuntimeError("some connections of the spec are not in NEST")

    def unit_status(self, keys, per_query=5000):
        """The status entries `keys` of the units, as one query gives them (this rank's nodes;
        None for the others): for unit_states, unit_arrays and pending_inputs, which otherwise
        query each (NEST 3.10 builds every node's whole status for any query). Queried
        per_query nodes at a time, keeping only `keys`: a node's whole status takes about 10 KB."""
        wanted = ["global_id"] + list(keys)
        out = {k: [] for k in wanted}
        for first in range(0, len(self.units), per_query):
            part = self.units[first:min(first + per_query, len(self.units))]
            status = part.get()
            for k in wanted:
                values = status.get(k, [None] * len(part))  # a rank without these nodes gets no model entries
                out[k].extend([values] if len(part) == 1 else values)
        return out

    def unit_states(self, keys, status=None):
        """{key: array over all units} of gle_neuron states, gathered from all MPI ranks; a
        per-lane state of a network of several lanes: lanes x units (as the reference's).
        status: of unit_status(), taken before."""
        out = gathered_status(self.units, keys, status=status, ids=self.unit_ids)
        return {k: v.T if v.ndim == 2 else v for k, v in out.items()}

    def unit_arrays(self, keys, status=None):
        """{key: array (units x length)} of list-valued gle_neuron status entries (equal lengths),
        gathered from all MPI ranks."""
        def rows(values):
            length = int(max(gather([len(v) for v in values] or [0])))
            return np.array([np.asarray(v, dtype=float) for v in values]).reshape(len(values), length)
        return gathered_status(self.units, keys, rows, status, self.unit_ids)

    def pending_inputs(self, status=None):
        """The units' pending_inputs as units x receptors x steps x lanes, gathered from all MPI
        ranks; a rank's nodes keep the steps of that rank's max_delay (a device's connection
        counts on its own rank only): fewer steps are padded with zeros."""
        ports, lanes = len(RECEPTORS), self.spec.lanes

        def blocks(values):
            lengths = [len(v) for v in values]
            steps = int(max(gather(lengths or [0]))) // (ports * lanes)
            out = np.zeros((len(values), ports, steps, lanes))
            for length in set(lengths):  # nodes of the same length at once
                which = [i for i, k in enumerate(lengths) if k == length]
                rows = length // (ports * lanes)
                out[which, :, :rows] = np.asarray([values[i] for i in which], dtype=float).reshape(
                    len(which), ports, rows, lanes)
            return out
        return gathered_status(self.units, ["pending_inputs"], blocks, status, self.unit_ids)["pending_inputs"]

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


def node_ids(nodes, per_query=5000):
    """The node ids of a NodeCollection as an array. PyNEST's tolist() builds every node's whole
    status (about 10 KB a node) at once; here per_query nodes at a time."""
    return np.concatenate([np.asarray(nodes[first:min(first + per_query, len(nodes))].tolist(), dtype=int)
                           for first in range(0, len(nodes), per_query)] or [np.zeros(0, dtype=int)])


def gathered_status(nodes, keys, stack=lambda values: np.asarray(values, dtype=float), status=None, ids=None):
    """{key: stack(values)} of the nodes' status entries, from all MPI ranks (each holds only its
    own nodes' values), in the order of the NodeCollection; status: {key: one value per node
    (None: another rank's)} taken before (NestNetwork.unit_status); ids: the nodes' ids."""
    if status is None:
        # one query: NEST 3.10's get(keys) builds every node's whole status once per key
        status = nodes.get()
        if len(nodes) == 1:  # NEST returns the values of a single node unwrapped
            status = {k: [v] for k, v in status.items()}
    if all(k in status for k in ["global_id"] + list(keys)):
        local = [i for i, v in enumerate(status[keys[0]]) if v is not None]  # under MPI: None elsewhere
    else:  # under MPI, a rank that holds none of the nodes gets no model entries
        local = []
    ids = node_ids(nodes) if ids is None else ids
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
    ids = node_ids(units)
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
    ids = node_ids(units)
    col = np.searchsorted(ids, ev["senders"])
    steps, row = np.unique(np.round(ev["times"] / mm.interval).astype(int), return_inverse=True)
    out = {}
    for name in mm.record_from:
        arr = np.full((len(steps), len(ids)), np.nan)
        arr[row, col] = ev[name]
        out[name] = arr
    return out
