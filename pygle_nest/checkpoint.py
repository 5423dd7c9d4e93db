"""Checkpoints of a built network: weights and optimizer states of every plastic connection,
the learned and dynamic states of every unit, the inputs on their way, the number of steps
run, and the position in the data.

Written once (rank 0 under mpirun, from states gathered across ranks) and atomically; loaded
into a network built the same way, in a fresh kernel, at any number of ranks and threads. The
loaded network continues as the saved one would have:

- NEST delivers the values of the last min_delay slice (or of a partly run slice) only at the
  start of its next call; the checkpoint delivers them itself, with the reference's equations
  (:meth:`~pygle_nest.reference.ReferenceNetwork.deliver`) and the common properties that the
  connection models had while those steps ran (read from NEST): the plastic connections learn
  from them and what they transmit is added to the units' pending inputs. Static connections
  transmit with the weights of the spec.
- the hyperparameters in force are read from NEST, not from the spec, and set again on load:
  the plastic models' common properties and the units' parameters (a learning rate lowered by
  a schedule, a momentum or ``learning`` set by hand after ``build()``);
- the units' pending inputs (delays > 1 step, stream values) are saved and put back, and so
  are the values they sent in the last step (lanes and units alike);
- Adam's step count continues (``step_offset`` of units and plastic models);
- the network's input streams, lane inputs and spike trains continue where they were (spikes
  already emitted are among the pending inputs).
"""

import hashlib
import json

import numpy as np

from .nest_backend import stream_amplitudes
from .parallel import is_root
from .results import write_arrays
from .network import FIELD_TYPES, UNIT_FIELDS
from .parameters import RECEPTORS, SYNAPSE_DEFAULTS
from .reference import RECORDABLES, SYNAPSE_STATES, ReferenceNetwork

#: The layout of the files written here; a file of another layout is refused with a message.
FORMAT = 6

#: gle_neuron states saved (all but the per-step inputs, which are recomputed every step).
UNIT_STATES = tuple(k for k in RECORDABLES if k not in ("I_fwd", "I_bwd", "y"))
#: gle_neuron parameters saved as NEST has them (tau_m and bias are states).
UNIT_PARAMETERS = tuple(k for k in UNIT_FIELDS if k not in UNIT_STATES)
#: gle_synapse common properties saved as NEST has them (step_offset is set from the steps run).
SYNAPSE_PARAMETERS = tuple(SYNAPSE_DEFAULTS)
_TYPES = {**FIELD_TYPES, "learning": bool, "rate_lag": int}
def _plastic(spec):
    models = spec.model_list()
    return np.flatnonzero([models[m].plastic for m in spec.connections["model"]])


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _signature(spec):
    """What identifies a network: sizes, and fingerprints of its units' parameters (as declared),
    its connections (pairs, ports, delays, models) and its connection models' settings."""
    c = spec.connections
    return {"units": spec.n_units, "lanes": spec.lanes, "connections": len(c["pre"]),
            "resolution": spec.resolution, "plastic": len(_plastic(spec)),
            "unit parameters": {k: _digest(v) for k, v in spec.units.items()},
            "connection pairs": _digest(c["pre"], c["post"], c["port"], c["delay"], c["model"]),
            "connection models": {m.name: json.dumps(m.params, sort_keys=True) for m in spec.model_list()}}


def _differences(saved, built):
    """What differs between two signatures, in words."""
    out = []
    for key in saved.keys() | built.keys():
        a, b = saved.get(key), built.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            names = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            out.append(f"{key} ({', '.join(names)})")
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            out.append(f"{key} ({a} saved, {b} here)")
        else:
            out.append(key)
    return "; ".join(sorted(out))


def _common_properties(spec):
    """Per plastic connection model: its common properties now, and the earlier ones that NEST
    keeps for steps not yet delivered, as [(until step, properties)] (kernel steps)."""
    import nest

    out = {}
    for model in spec.model_list():
        if model.plastic:
            d = nest.GetDefaults(model.name)
            earlier = [(int(e["until_step"]), {k: e[k] for k in SYNAPSE_PARAMETERS}) for e in d["earlier_properties"]]
            out[model.name] = ({k: d[k] for k in SYNAPSE_PARAMETERS}, earlier)
    return out


def _in_force(common, kernel_step):
    """{model name: the common properties in force in the kernel's step kernel_step}."""
    out = {}
    for name, (now, earlier) in common.items():
        out[name] = next((p for until, p in earlier if kernel_step < until), now)
    return out


def state(net):
    """The state a checkpoint holds, {name: array} (see the module docstring), on every rank.
    Per-lane unit states are lanes x units (units with one lane)."""
    return _snapshot(net)[0]


def restore(net, saved):
    """Put a network back, in the kernel that it runs in, into a state of :func:`state` taken
    earlier in that kernel: its units' states, the inputs on their way and the values they sent
    last; weights and optimizer states stay as they are. NEST adds the values that it has not
    delivered yet (the last slice of the calls since) at the start of its next call, so they are
    taken off the pending inputs set here: the next call starts from the saved state, to
    round-off (1e-15)."""
    nest_net = getattr(net, "nest", net)
    _, delivered = _snapshot(nest_net)
    units = _unit_states(saved)
    nest_net.set_unit_states({"pending_inputs": saved["pending_inputs"] - delivered, "last_sent": saved["last_sent"],
                              **units})


def _unit_states(saved):
    """The saved unit states as NestNetwork.set_unit_states takes them (per lane: units x lanes)."""
    return {k: saved["unit_" + k].T if saved["unit_" + k].ndim == 2 else saved["unit_" + k] for k in UNIT_STATES}


def _snapshot(net):
    """state(net), and the part of its pending inputs that the values NEST has not delivered yet
    will add (units x ports, steps and lanes, as pending_inputs)."""
    import nest
    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    plastic = _plastic(spec)
    n, lanes = spec.n_units, spec.lanes
    units = nest_net.unit_states(UNIT_STATES)
    channels = nest_net.unit_arrays(("sent_rates", "sent_errors", "sent_before", "sent_errors_before", "last_sent"))
    ref = ReferenceNetwork(spec)
    for key, values in nest_net.synapse_states(plastic).items():
        ref.synapses[key][plastic] = values
    steps = nest_net.steps
    unsent = channels["sent_rates"].shape[1] // lanes
    common = _common_properties(spec)
    kernel_steps = int(round(nest.biological_time / spec.resolution))

    def lane_first(values, rows):  # units x (rows x lanes) -> rows [x lanes] x units
        out = values.reshape(n, rows, lanes).transpose(1, 2, 0)
        return out if lanes > 1 else out[:, 0]

    sent = np.stack([lane_first(channels[k], unsent) for k in ("sent_rates", "sent_errors")], axis=-2)
    before = np.stack([lane_first(channels[k], 1).reshape(ref.lanes + (n,)) if kernel_steps else
                       np.zeros(ref.lanes + (n,)) for k in ("sent_before", "sent_errors_before")], axis=-2)
    pending = nest_net.pending_inputs()  # no steps before the first Simulate
    ahead = max(pending.shape[2], spec.max_delay)
    in_force = [_in_force(common, kernel_steps - unsent + k) for k in range(unsent)]
    delivered = ref.deliver(steps - unsent, sent, before, ahead, in_force).reshape(len(RECEPTORS), ahead, lanes, n)
    delivered = delivered.transpose(3, 0, 1, 2)
    pending = np.pad(pending, ((0, 0), (0, 0), (0, ahead - pending.shape[2]), (0, 0))) + delivered
    last = sent[-1] if unsent else before  # what the units sent in the last step: rates, errors
    last = np.moveaxis(np.asarray(last).reshape(lanes, 2, n), -1, 0).transpose(0, 2, 1).reshape(n, -1)
    if channels["last_sent"].size:  # set (restore, load) and not yet taken by a Simulate
        last = channels["last_sent"]
    return {"steps": np.array(steps), "pending_inputs": pending.reshape(n, -1), "last_sent": last,
            **{"syn_" + k: ref.synapses[k][plastic] for k in SYNAPSE_STATES},
            **{"unit_" + k: v for k, v in units.items()},
            **{"param_" + k: v for k, v in nest_net.unit_states(UNIT_PARAMETERS).items()},
            **{"model_" + name: np.array([now[k] for k in SYNAPSE_PARAMETERS], dtype=float)
               for name, (now, _) in common.items()}}, delivered.reshape(n, -1)


def save(net, path, position=None, test_state=None):
    """Write the checkpoint of a built Network (or NestNetwork) to path (.npz); position: what
    the caller needs to continue (epoch, sample, ...), stored as JSON. test_state: a state (of
    :func:`state`) that the file keeps as well, the one a test pass started from (load with
    at="test")."""
    nest_net = getattr(net, "nest", net)
    saved = state(nest_net)
    saved.update({"test_" + k: v for k, v in (test_state or {}).items()})
    if is_root():
        meta = json.dumps({"format": FORMAT, "signature": _signature(nest_net.spec), "position": position})
        write_arrays(path, meta=meta, **saved)


NOT_A_CHECKPOINT = "is not a pygle-nest checkpoint (an .npz written by pygle_nest.checkpoint.save or train)"


def _meta(data, path):
    """The checkpoint's description; a ValueError for a file that is not a checkpoint or is of
    another layout (before anything reads its position: a position of another layout may lack
    what this version needs)."""
    if "meta" not in data.files:
        raise ValueError(f"{path} {NOT_A_CHECKPOINT}")
    meta = json.loads(str(data["meta"]))
    if meta.get("format") != FORMAT:
        raise ValueError(f"the checkpoint {path} has the layout {meta.get('format', 1)}; this version of "
                         f"pygle-nest reads layout {FORMAT} (write it again with this version)")
    return meta


def _open(path):
    """The .npz file of a checkpoint; a ValueError for anything else (a .npy, a text file)."""
    try:
        data = np.load(path)
    except (OSError, ValueError) as err:  # not a NumPy file at all
        raise ValueError(f"{path} {NOT_A_CHECKPOINT}: {err}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} {NOT_A_CHECKPOINT}")
    return data


def position(path):
    """The position saved in a checkpoint, without loading it."""
    with _open(path) as data:
        return _meta(data, path)["position"]


def has_test_state(path):
    """Whether a checkpoint keeps the state of a test pass (see save)."""
    with _open(path) as data:
        return "test_steps" in data.files


def load(net, path, at="end"):
    """Set a network freshly built in a fresh kernel (nothing simulated yet) to a checkpoint;
    returns the saved position. at="test": to the state kept for a test pass (see save)."""
    import nest

    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    if nest.biological_time != 0.0:
        raise ValueError("load a checkpoint into a freshly built network, before any simulation "
                         f"(the kernel is at {nest.biological_time} ms; call nest.ResetKernel() and build again)")
    with _open(path) as data:
        meta = _meta(data, path)
        if meta["signature"] != _signature(spec):
            raise ValueError(f"the checkpoint {path} is of another network; what differs: "
                             f"{_differences(meta['signature'], _signature(spec))}")
        if at not in ("end", "test"):
            raise ValueError(f"at must be 'end' or 'test'; got {at!r}")
        prefix = "test_" if at == "test" else ""
        if prefix + "steps" not in data.files:
            raise ValueError(f"the checkpoint {path} holds no state of a test pass")
        saved = {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix) and k != "meta"}
        nest_net.set_synapse_states(_plastic(spec), **{k: saved["syn_" + k] for k in SYNAPSE_STATES})
        units = _unit_states(saved)
        params = {k: saved["param_" + k].astype(FIELD_TYPES.get(k, float)) for k in UNIT_PARAMETERS}
        nest_net.set_unit_states({"pending_inputs": saved["pending_inputs"], "last_sent": saved["last_sent"],
                                  **params, **units})
        for model in spec.model_list():
            if model.plastic:
                values = saved["model_" + model.name]
                nest.SetDefaults(model.name, {k: _TYPES.get(k, float)(v) for k, v in zip(SYNAPSE_PARAMETERS, values)})
        steps = int(saved["steps"])
    nest_net.set_step_offset(steps)
    if nest_net.streams is not None:  # the spec's streams go on from step `steps`
        nest_net.streams.set([stream_amplitudes(x[min(steps, len(x) - 1):], spec.resolution) for x in spec.streams])
    for unit, (_, first_step, _) in spec.lane_inputs.items():  # and so do its lane inputs
        nest_net.units[unit].set({"lane_inputs_start": first_step - steps})
    for k, (_, times, _, _, counts) in enumerate(spec.spike_trains):  # and its spike trains
        stamps = np.round(times / spec.resolution).astype(int) - steps
        later = stamps >= 1  # the others were emitted and are on their way
        nest_net.spike_sources[k].set({"spike_times": np.round(stamps[later] * spec.resolution, 12).tolist(),
                                       "spike_multiplicities": counts[later].astype(int).tolist()})
    return meta["position"]
