"""A GLE network as plain arrays: units, connections between them, and input streams.

The one description that both the NEST backend (:mod:`pygle_nest.nest_backend`) and the NumPy
reference (:mod:`pygle_nest.reference`) instantiate, so that any network can be run both ways
and compared. Delays are in simulation steps (>= 1); units are indexed 0..n_units-1.
"""

from dataclasses import dataclass, field

import numpy as np

from .parameters import ACTIVATIONS, DEFAULTS, LOSSES, RECEPTORS, check_time_constant, code

UNIT_FIELDS = ("tau_m", "tau_r", "bias", "gamma", "beta", "activation", "loss")
CHANNELS = ("rate", "error")


def _column(values, n, dtype):
    return np.broadcast_to(np.asarray(values, dtype=dtype), (n,)).copy()


@dataclass
class NetworkSpec:
    """Units, connections and input streams of one GLE network.

    resolution: the NEST resolution in ms (the Euler step h).
    """

    resolution: float
    units: dict = field(default_factory=lambda: {
        k: np.zeros(0, int if k in ("activation", "loss") else float) for k in UNIT_FIELDS})
    # connections between units: pre, post, weight, delay (steps), channel (0 rate, 1 error), port
    connections: dict = field(default_factory=lambda: {
        "pre": np.zeros(0, int), "post": np.zeros(0, int), "weight": np.zeros(0),
        "delay": np.zeros(0, int), "channel": np.zeros(0, int), "port": np.zeros(0, int)})
    # input streams: one array of values per stream, one value per step (the last one is held)
    streams: list = field(default_factory=list)
    # stream connections: stream, post, weight, delay (steps), port
    stream_connections: dict = field(default_factory=lambda: {
        "stream": np.zeros(0, int), "post": np.zeros(0, int), "weight": np.zeros(0),
        "delay": np.zeros(0, int), "port": np.zeros(0, int)})

    def __post_init__(self):
        if not self.resolution > 0:
            raise ValueError(f"resolution must be > 0 ms; got {self.resolution}")

    @property
    def n_units(self):
        return len(self.units["tau_m"])

    @property
    def max_delay(self):
        delays = np.concatenate([self.connections["delay"], self.stream_connections["delay"], [1]])
        return int(delays.max())

    def add_units(self, n, **params):
        """Append n units; parameters are scalars or one value per unit. Returns their indices."""
        if n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        unknown = set(params) - set(UNIT_FIELDS)
        if unknown:
            raise ValueError(f"unknown unit parameter(s) {sorted(unknown)}; allowed: {', '.join(UNIT_FIELDS)}")
        values = {**DEFAULTS, **params}
        for name in ("tau_m", "tau_r"):
            check_time_constant(name, values[name], self.resolution)
        activation = np.vectorize(lambda a: code(ACTIVATIONS, a, "activation"), otypes=[int])(values["activation"])
        loss = np.vectorize(lambda a: code(LOSSES, a, "loss"), otypes=[int])(values["loss"])
        if np.any(np.asarray(values["beta"], dtype=float) < 0):
            raise ValueError(f"beta must be >= 0; got {values['beta']}")
        new = {k: _column(values[k], n, float) for k in ("tau_m", "tau_r", "bias", "gamma", "beta")}
        new["activation"] = _column(activation, n, int)
        new["loss"] = _column(loss, n, int)
        first = self.n_units
        for k in UNIT_FIELDS:
            self.units[k] = np.concatenate([self.units[k], new[k]])
        return np.arange(first, first + n)

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

    def connect(self, pre, post, weight, delay=1, channel="rate", port="fwd"):
        """Connect units pre[k] -> post[k] (arrays of equal length, or scalars)."""
        n = max(np.size(pre), np.size(post))
        pre = _column(pre, n, int)
        if np.any((pre < 0) | (pre >= self.n_units)):
            raise ValueError(f"pre must index the {self.n_units} units")
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; allowed: {', '.join(CHANNELS)}")
        post, weight, delay, port = self._checked(post, weight, delay, port, n)
        new = {"pre": pre, "post": post, "weight": weight, "delay": delay,
               "channel": np.full(n, CHANNELS.index(channel)), "port": port}
        for k, v in new.items():
            self.connections[k] = np.concatenate([self.connections[k], v])

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
