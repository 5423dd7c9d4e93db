"""A GLE network as plain arrays: units, connections between them, and input streams.

The one description that both the NEST backend (:mod:`pygle_nest.nest_backend`) and the NumPy
reference (:mod:`pygle_nest.reference`) instantiate, so that any network can be run both ways
and compared. Delays are in simulation steps (>= 1); units are indexed 0..n_units-1.
"""

from dataclasses import dataclass, field

import numpy as np

from .build import BACKWARD_SUFFIX
from .parameters import (DEFAULTS, LAGGED_SYNAPSES, PLASTIC_SYNAPSES, RECEPTORS, SYNAPSE_CHANNELS, SYNAPSE_DEFAULTS, code,
                         synapse_params, unit_params)

UNIT_FIELDS = tuple(DEFAULTS)
FIELD_TYPES = {"activation": int, "loss": int, "optimizer": int, "prospective_error": bool, "role": int,
               "update_interval": int, "update_average": bool}
CONNECTION_FIELDS = ("pre", "post", "weight", "delay", "port", "model")


def _column(values, n, dtype):
    return np.broadcast_to(np.asarray(values, dtype=dtype), (n,)).copy()


@dataclass
class SynapseModel:
    """A connection model: its NEST base model, channel (0 rate, 1 error) and, if plastic,
    its common properties (as gle_synapse takes them: codes, not names)."""

    name: str
    base: str
    params: dict

    @property
    def channel(self):
        return SYNAPSE_CHANNELS[self.base]

    @property
    def plastic(self):
        return self.base in PLASTIC_SYNAPSES

    @property
    def lagged(self):
        return self.base in LAGGED_SYNAPSES


def _builtin_models():
    plastic = synapse_params(**SYNAPSE_DEFAULTS)
    return {name: SynapseModel(name, name, dict(plastic) if name in PLASTIC_SYNAPSES else {})
            for name in SYNAPSE_CHANNELS}


@dataclass
class NetworkSpec:
    """Units, connections, connection models and input streams of one GLE network.

    resolution: the NEST resolution in ms (the Euler step h). lanes: copies of the network's
    dynamics run in lockstep through the shared connections (the paper's parallel streams,
    "batch"); every unit has one state per lane, every connection one weight.
    """

    resolution: float
    lanes: int = 1
    units: dict = field(default_factory=lambda: {k: np.zeros(0, FIELD_TYPES.get(k, float)) for k in UNIT_FIELDS})
    # connections between units; model indexes synapse_models (in insertion order)
    connections: dict = field(default_factory=lambda: {
        k: np.zeros(0, float if k == "weight" else int) for k in CONNECTION_FIELDS})
    synapse_models: dict = field(default_factory=_builtin_models)
    # input streams: one array of values per stream, one value per step (the last one is held)
    streams: list = field(default_factory=list)
    # stream connections (static rate connections): stream, post, weight, delay (steps), port
    stream_connections: dict = field(default_factory=lambda: {
        "stream": np.zeros(0, int), "post": np.zeros(0, int), "weight": np.zeros(0),
        "delay": np.zeros(0, int), "port": np.zeros(0, int)})
    # values played into one receptor of a unit, each lane its own: unit -> (port, first step,
    # array steps x lanes); row k enters the unit's update in step `first step` + k
    lane_inputs: dict = field(default_factory=dict)
    # spike trains into the receptor spikes of units (a spike_generator each in NEST): per train
    # (unit, times in ms, weight, delay in steps, multiplicities); a spike at time t arrives in
    # step t / resolution + delay - 1
    spike_trains: list = field(default_factory=list)

    def __post_init__(self):
        if not self.resolution > 0:
            raise ValueError(f"resolution must be > 0 ms; got {self.resolution}")
        if not (isinstance(self.lanes, (int, np.integer)) and self.lanes >= 1):
            raise ValueError(f"lanes must be an integer >= 1; got {self.lanes!r}")

    @property
    def n_units(self):
        return len(self.units["tau_m"])

    @property
    def max_delay(self):
        delays = np.concatenate([self.connections["delay"], self.stream_connections["delay"],
                                 [train[3] for train in self.spike_trains], [1]])
        return int(delays.max())

    def model_list(self):
        return list(self.synapse_models.values())

    def add_units(self, n, **params):
        """Append n units; parameters are scalars or one value per unit. Returns their indices."""
        if n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        values = unit_params(self.resolution, **{**DEFAULTS, **params})
        first = self.n_units
        for k in UNIT_FIELDS:
            self.units[k] = np.concatenate([self.units[k], _column(values[k], n, FIELD_TYPES.get(k, float))])
        return np.arange(first, first + n)

    def add_synapse_model(self, name, lagged=False, **params):
        """A plastic model `name` (from gle_synapse, or gle_synapse_lagged for microcircuits) and
        its twin `name`_backward, with their common properties (optimizer, eta, ...)."""
        values = synapse_params(**{**SYNAPSE_DEFAULTS, **params})
        base = "gle_synapse_lagged" if lagged else "gle_synapse"
        for model_name, base in ((name, base), (name + BACKWARD_SUFFIX, base + BACKWARD_SUFFIX)):
            if model_name in self.synapse_models:
                raise ValueError(f"a synapse model {model_name!r} exists already")
            self.synapse_models[model_name] = SynapseModel(model_name, base, dict(values))
        return name

    def _checked(self, post, weight, delay, port, n):
        post = _column(post, n, int)
        weight = _column(weight, n, float)
        delay = _column(delay, n, int)
        port = _column(code(RECEPTORS, port, "receptor") if np.ndim(port) == 0 else port, n, int)
        if np.any((post < 0) | (post >= self.n_units)):
            raise ValueError(f"post must index the {self.n_units} units")
        if np.any(delay < 1):
            raise ValueError(f"delay must be >= 1 step; got {delay.min()}")
        if np.any((port < 0) | (port >= len(RECEPTORS))):
            raise ValueError(f"port must be in 0..{len(RECEPTORS) - 1}")
        if not np.all(np.isfinite(weight)):
            raise ValueError("weight must be finite")
        return post, weight, delay, port

    def connect(self, pre, post, weight, delay=1, synapse="rate_connection_delayed", port="fwd"):
        """Connect units pre[k] -> post[k] (arrays of equal length, or scalars) with a model of
        synapse_models: the rate channel (rate_connection_delayed, gle_synapse, ...) or the
        error channel (eprop_learning_signal_connection, gle_synapse_backward, ...)."""
        n = max(np.size(pre), np.size(post))
        pre = _column(pre, n, int)
        if np.any((pre < 0) | (pre >= self.n_units)):
            raise ValueError(f"pre must index the {self.n_units} units")
        if synapse not in self.synapse_models:
            raise ValueError(f"unknown synapse model {synapse!r}; known: {', '.join(self.synapse_models)}")
        post, weight, delay, port = self._checked(post, weight, delay, port, n)
        model = np.full(n, list(self.synapse_models).index(synapse))
        for k, v in zip(CONNECTION_FIELDS, (pre, post, weight, delay, port, model)):
            self.connections[k] = np.concatenate([self.connections[k], v])
        return np.arange(len(self.connections["pre"]) - n, len(self.connections["pre"]))

    def add_streams(self, values):
        """Append input streams (one row of values per stream, one value per step). Returns their indices."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        if values.shape[1] == 0:
            raise ValueError("a stream needs at least one value")
        if not np.all(np.isfinite(values)):
            raise ValueError("stream values must be finite")
        first = len(self.streams)
        self.streams.extend(row.copy() for row in values)
        return np.arange(first, first + len(values))

    def set_lane_inputs(self, unit, values, port="fwd", first_step=1):
        """Play values (steps x lanes) into the given receptor of a unit, row k in step
        first_step + k (replacing what the unit had)."""
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[1] != self.lanes:
            raise ValueError(f"lane inputs must be steps x lanes ({self.lanes}); got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("lane inputs must be finite")
        if not 0 <= unit < self.n_units:
            raise ValueError(f"unit must index the {self.n_units} units; got {unit}")
        if first_step < 0:
            raise ValueError(f"first_step must be >= 0 (a step of the simulation); got {first_step}")
        self.lane_inputs[int(unit)] = (code(RECEPTORS, port, "receptor"), int(first_step), values.copy())

    def add_spike_train(self, unit, times, weight=1.0, delay=1, multiplicities=None):
        """Spikes at the given times (ms, on the grid of the resolution, > 0) into the receptor
        spikes of a unit, with one weight and delay (steps); multiplicities: spikes per time."""
        times = np.asarray(times, dtype=float)
        steps = np.round(times / self.resolution).astype(int)
        if times.ndim != 1 or np.any(steps < 1) or not np.allclose(steps * self.resolution, times, rtol=0, atol=1e-9):
            raise ValueError(f"spike times must be > 0 ms and on the grid of the resolution ({self.resolution} ms); "
                             f"got {times}")
        counts = np.ones(len(times), int) if multiplicities is None else np.asarray(multiplicities)
        if counts.shape != times.shape or not np.issubdtype(counts.dtype, np.integer) or np.any(counts < 1):
            raise ValueError(f"multiplicities must be integers >= 1, one per spike time; got {multiplicities}")
        if not np.isfinite(weight):
            raise ValueError(f"weight must be finite; got {weight}")
        if not 0 <= unit < self.n_units:
            raise ValueError(f"unit must index the {self.n_units} units; got {unit}")
        if not (isinstance(delay, (int, np.integer)) and delay >= 1):
            raise ValueError(f"delay must be an integer >= 1 step; got {delay!r}")
        self.spike_trains.append((int(unit), times.copy(), float(weight), int(delay), counts.copy()))

    def connect_stream(self, stream, post, weight, delay=1, port="fwd"):
        """Feed stream[k] into unit post[k] with the given weight, delay and port."""
        n = max(np.size(stream), np.size(post))
        stream = _column(stream, n, int)
        if np.any((stream < 0) | (stream >= len(self.streams))):
            raise ValueError(f"stream must index the {len(self.streams)} streams")
        post, weight, delay, port = self._checked(post, weight, delay, port, n)
        new = {"stream": stream, "post": post, "weight": weight, "delay": delay, "port": port}
        for k, v in new.items():
            self.stream_connections[k] = np.concatenate([self.stream_connections[k], v])
