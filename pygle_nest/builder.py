"""Cortical-microcircuit-style GLE networks in PyNN's vocabulary: populations of GLE units
made of time-constant groups, and projections between them with their feedback pathway.

    net = Network(resolution=0.2)
    x = net.input("x", 1)
    h = net.layer("h", [Group(18, tau_m=0.6, tau_r=0.2), Group(17, tau_m=1.2, tau_r=1.2)], activation="tanh")
    y = net.output("y", 10, loss="cross_entropy", beta=1.0)
    net.project(x, h)    # Adam, eta 1e-3, rate_lag 1: the paper's scheme
    net.project(h, y)
    net.build()          # NEST nodes and connections; h.nodes is a NodeCollection

Everything is checked when it is declared, before NEST is touched. The network compiles to a
:class:`~pygle_nest.network.NetworkSpec`, so :class:`~pygle_nest.reference.ReferenceNetwork`
runs the same network without NEST.

Two modes. Compact (default): one gle_neuron per GLE unit, holding its representation and its
error part. Explicit microcircuit (``Network(microcircuit=True)``): every unit of a hidden or
output layer is a representation neuron (role "representation"; ``pop.nodes``) and an error
neuron (role "error"; ``pop.error_nodes``), wired like the paper's microcircuit template:

- representation neurons of one layer drive those of the next (plastic gle_synapse_lagged);
- error neurons send their error back to the error neurons below (the twins
  gle_synapse_lagged_backward: exact W^T; or fixed random B);
- each representation neuron sends its rate to its error neuron, which computes phi' from it,
  and each error neuron sends its error to its representation neuron, where the synapses and
  the bias rule use it (weight 1, delay one step each way);
- targets and the softmax terms go to the output error neurons.

Against the compact mode this adds one step of latency in two places, and nothing else: a
representation neuron's error (for gamma, the weight and the bias rules) is one step old, and
so the connections learn from the rate and error of the previous step (the lagged variants
pair them exactly so, forward and backward alike). With gamma = 0 and learning off, both modes
give identical trajectories (activations whose phi(0) = 0 also in the first step).
Learning tau_m is not available in this mode (the error neuron keeps its own tau_m).
"""

from dataclasses import dataclass

import numpy as np

from .network import NetworkSpec
from .parameters import LOSSES, check_time_constant, code

FEEDBACK = ("transposed", "random", "none")


@dataclass(frozen=True)
class Group:
    """n units with membrane time constant tau_m and prospective time constant tau_r (ms)."""

    n: int
    tau_m: float
    tau_r: float


class Population:
    """GLE units of one layer. ``nodes`` is its NEST NodeCollection once the network is built;
    in the microcircuit mode those are the representation neurons, and ``error_indices`` /
    ``error_nodes`` the error neurons (None otherwise)."""

    def __init__(self, name, indices, kind, error_indices=None, network=None):
        self.name, self.indices, self.kind, self.error_indices = name, indices, kind, error_indices
        self.nodes = self.error_nodes = None
        self.network = network
        self._recorded, self._multimeter = [], None

    @property
    def size(self):
        return len(self.indices)

    @property
    def label(self):
        """The population's name (PyNN's word)."""
        return self.name

    def record(self, variables):
        """Record gle_neuron recordables ("r", "err", ...; a name or a list) of every unit, each step
        (of the recorded lane, gle_neuron's recorded_lane), from now or from the network's build."""
        from .reference import RECORDABLES

        variables = [variables] if isinstance(variables, str) else list(variables)
        unknown = [v for v in variables if v not in RECORDABLES]
        if unknown:
            raise ValueError(f"cannot record {unknown}; recordables: {', '.join(RECORDABLES)}")
        if self._multimeter is not None:
            raise ValueError(f"population {self.name!r} is recording already; call record() before build() once")
        self._recorded = sorted(set(self._recorded) | set(variables))
        if self.nodes is not None:
            self._start_recording()

    def _start_recording(self):
        if self._recorded and self._multimeter is None:
            self._multimeter = self.network.nest.multimeter(self._recorded, self.nodes)

    def get_data(self):
        """{variable: array (recorded steps x units)} of what record() asked for, from all MPI ranks."""
        from .nest_backend import recorded

        if self._multimeter is None:
            raise ValueError(f"population {self.name!r} records nothing: call record() first")
        return recorded(self._multimeter, self.nodes)

    def __repr__(self):
        return f"Population({self.name!r}, {self.size} units, {self.kind})"


# Connectors (PyNN's names): each returns the (pre, post) index pairs within the populations;
# allow_self_connections=False leaves out i -> i where a population projects to itself.
@dataclass(frozen=True)
class AllToAllConnector:
    allow_self_connections: bool = True

    def pairs(self, n_pre, n_post, rng):
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        return pre.ravel(), post.ravel()


@dataclass(frozen=True)
class OneToOneConnector:
    def pairs(self, n_pre, n_post, rng):
        if n_pre != n_post:
            raise ValueError(f"OneToOneConnector needs populations of equal size; got {n_pre} and {n_post}")
        return np.arange(n_pre), np.arange(n_post)


@dataclass(frozen=True)
class FixedProbabilityConnector:
    p_connect: float
    allow_self_connections: bool = True

    def pairs(self, n_pre, n_post, rng):
        if not 0 < self.p_connect <= 1:
            raise ValueError(f"p_connect must be in (0, 1]; got {self.p_connect}")
        pre, post = np.nonzero(rng.random((n_pre, n_post)) < self.p_connect)
        return pre, post


@dataclass(frozen=True)
class FromMatrixConnector:
    """Connections where the matrix (n_pre x n_post) is nonzero, with those weights."""

    matrix: np.ndarray

    def pairs(self, n_pre, n_post, rng):
        m = np.asarray(self.matrix, dtype=float)
        if m.shape != (n_pre, n_post):
            raise ValueError(f"the weight matrix must be {n_pre} x {n_post} (pre x post); got {m.shape[0]} x {m.shape[1]}"
                             if m.ndim == 2 else f"the weight matrix must be 2-D; got shape {m.shape}")
        return np.nonzero(m)


@dataclass(frozen=True)
class FromListConnector:
    """Connections given as rows (pre, post) or (pre, post, weight), indices within the populations."""

    conn_list: object

    def _rows(self):
        rows = np.asarray(self.conn_list, dtype=float)
        if rows.ndim != 2 or rows.shape[1] not in (2, 3):
            raise ValueError(f"conn_list must be rows (pre, post) or (pre, post, weight); got shape {rows.shape}")
        return rows

    def pairs(self, n_pre, n_post, rng):
        rows = self._rows()
        i, j = rows[:, 0].astype(int), rows[:, 1].astype(int)
        if np.any((i < 0) | (i >= n_pre) | (j < 0) | (j >= n_post)) or np.any(rows[:, :2] != np.round(rows[:, :2])):
            raise ValueError(f"conn_list indices must be integers in [0, {n_pre - 1}] (pre) and [0, {n_post - 1}] (post)")
        return i, j

    def weights(self):
        rows = self._rows()
        return rows[:, 2] if rows.shape[1] == 3 else None


@dataclass(frozen=True)
class ArrayConnector:
    """Connections where the boolean array (n_pre x n_post) is True."""

    array: object

    def pairs(self, n_pre, n_post, rng):
        m = np.asarray(self.array)
        if m.shape != (n_pre, n_post) or m.dtype != bool:
            raise ValueError(f"the array must be boolean, {n_pre} x {n_post} (pre x post); got {m.dtype} {m.shape}")
        return np.nonzero(m)


def _matrix_values(matrix, n_pre, n_post, i, j):
    """The entries (i, j) of a weight matrix, which must be pre x post: NEST's nest.Connect takes
    post x pre, and a transposed square matrix cannot be told apart by its shape."""
    if matrix.shape != (n_pre, n_post):
        raise ValueError(f"a weight matrix must be {n_pre} x {n_post} (pre x post, not NEST's post x pre); "
                         f"got {matrix.shape[0]} x {matrix.shape[1]}")
    return matrix[i, j]


class Projection:
    """Connections from one population to another and their feedback pathway."""

    def __init__(self, pre, post, model, forward, backward, feedback, network=None):
        self.pre, self.post, self.model, self.feedback = pre, post, model, feedback
        self.forward, self.backward = forward, backward  # connection indices in the spec
        self.network = network

    @property
    def label(self):
        return self.model

    def get(self, name="weight", format="list"):
        """The connections' weights (or "m", "s": optimizer states) in NEST now, from all MPI ranks:
        format "list", one value per connection (in the order of ``forward``), or "array", a
        pre x post matrix with NaN where there is no connection (PyNN's formats)."""
        from .reference import SYNAPSE_STATES

        if name not in SYNAPSE_STATES:
            raise ValueError(f"unknown connection state {name!r}; allowed: {', '.join(SYNAPSE_STATES)}")
        if format not in ("list", "array"):
            raise ValueError(f"format must be 'list' or 'array'; got {format!r}")
        values = self._built().synapse_states(self.forward)[name]
        if format == "list":
            return values
        c = self.network.spec.connections
        out = np.full((self.pre.size, self.post.size), np.nan)
        out[c["pre"][self.forward] - self.pre.indices[0], c["post"][self.forward] - self.post.indices[0]] = values
        return out

    def set(self, weight):
        """Set the weights (a number, one value per connection, or a pre x post matrix); the
        transposed feedback gets the same, so that W^T stays exact."""
        c = self.network.spec.connections
        w = np.asarray(weight, dtype=float)
        if w.ndim == 2:
            w = _matrix_values(w, self.pre.size, self.post.size, c["pre"][self.forward] - self.pre.indices[0],
                               c["post"][self.forward] - self.post.indices[0])
        w = np.broadcast_to(w, (len(self.forward),)) if w.size in (1, len(self.forward)) else None
        if w is None or not np.all(np.isfinite(w)):
            raise ValueError(f"weight must be finite: a number, {len(self.forward)} values or a matrix")
        built = self._built()
        built.set_synapse_states(self.forward, weight=w)
        if self.feedback == "transposed":
            order = {(a, b): k for k, (a, b) in enumerate(zip(c["pre"][self.forward], c["post"][self.forward]))}
            back = [order[(a, b)] for a, b in zip(c["post"][self.backward], c["pre"][self.backward])]
            built.set_synapse_states(self.backward, weight=w[back])

    def _built(self):
        if self.network is None or self.network.nest is None:
            raise ValueError("build the network first (net.build())")
        return self.network.nest

    def __repr__(self):
        return f"Projection({self.pre.name} -> {self.post.name}, {len(self.forward)} connections, feedback {self.feedback})"


class Network:
    """A layered GLE network; see the module docstring.

    resolution: the NEST resolution (ms); gamma: how strongly errors nudge the membranes;
    seed: initial weights, random connectivity and random feedback weights; microcircuit:
    representation and error neurons as separate NEST neurons (see the module docstring);
    lanes: parallel input streams through the shared connections (the paper's batch; one
    weight per connection, one state per unit and lane).
    """

    def __init__(self, resolution=0.1, gamma=0.0, seed=0, microcircuit=False, lanes=1):
        self.spec = NetworkSpec(resolution=resolution, lanes=lanes)
        self.gamma = gamma
        self.microcircuit = bool(microcircuit)
        self.rng = np.random.default_rng(seed)
        self.populations, self.projections = {}, []
        self.inputs, self.targets = {}, {}  # population name -> stream indices
        self.nest = None

    def _not_built(self, what):
        """NEST holds the network as it was at build(): something declared later would be ignored."""
        if self.nest is not None:
            raise ValueError(f"the network is built already: declare {what} before net.build()")

    def _population(self, name, kind, groups, **params):
        self._not_built(f"population {name!r}")
        if name in self.populations:
            raise ValueError(f"a population {name!r} exists already")
        if not groups or any(g.n < 1 for g in groups):
            raise ValueError(f"population {name!r} needs groups of at least one unit")
        for g in groups:
            check_time_constant(f"tau_m of {name!r}", g.tau_m, self.spec.resolution)
            check_time_constant(f"tau_r of {name!r}", g.tau_r, self.spec.resolution)
        tau_m = np.concatenate([np.full(g.n, g.tau_m) for g in groups])
        tau_r = np.concatenate([np.full(g.n, g.tau_r) for g in groups])
        if not self.microcircuit or kind == "input":
            indices = self.spec.add_units(len(tau_m), tau_m=tau_m, tau_r=tau_r, **params)
            self.populations[name] = Population(name, indices, kind, network=self)
            return self.populations[name]
        if params.get("eta_tau", 0.0) != 0.0:
            raise ValueError(f"population {name!r}: eta_tau must be 0 in the microcircuit mode (learning tau_m "
                             "needs the error neuron's copy of tau_m to follow)")
        error_only = ("beta", "prospective_error")
        shared = {k: params[k] for k in ("activation", "loss") if k in params}
        indices = self.spec.add_units(len(tau_m), tau_m=tau_m, tau_r=tau_r, role="representation",
                                      **{k: v for k, v in params.items() if k not in error_only})
        errors = self.spec.add_units(len(tau_m), tau_m=tau_m, tau_r=tau_r, role="error", **shared,
                                     **{k: params[k] for k in error_only if k in params})
        self.spec.connect(indices, errors, 1.0)  # its rate, for phi' (and delta at an output)
        self.spec.connect(errors, indices, 1.0, synapse="eprop_learning_signal_connection", port="bwd")
        self.populations[name] = Population(name, indices, kind, errors, network=self)
        return self.populations[name]

    def input(self, name, size):
        """Units that relay the data streams (identity: tau_m = tau_r, linear), one stream each."""
        pop = self._population(name, "input", [Group(size, 1.0, 1.0)], activation="linear")
        self.inputs[name] = self.spec.add_streams(np.zeros((size, 1)))
        self.spec.connect_stream(self.inputs[name], pop.indices, 1.0)
        return pop

    def spike_input(self, name, size, tau_s=5.0):
        """Units whose rate is the synaptic trace (time constant tau_s, ms; see gle_neuron) of
        the spikes they receive on the receptor spikes: the way in for a spiking population.
        After build(), connect it with NEST, for example ``nest.Connect(spiking, pop.nodes,
        "one_to_one", syn_spec={"weight": w, "receptor_type": pygle_nest.RECEPTORS["spikes"]})``;
        projections from these units learn with the trace as the presynaptic rate r_j."""
        if not (np.isfinite(tau_s) and tau_s >= 0):
            raise ValueError(f"tau_s of {name!r} must be >= 0 ms; got {tau_s}")
        return self._population(name, "input", [Group(size, 1.0, 1.0)], activation="linear", tau_s=tau_s)

    def layer(self, name, groups, activation="tanh", bias=0.0, **params):
        """A hidden layer made of time-constant groups."""
        return self._population(name, "hidden", list(groups), activation=activation, bias=bias,
                                **{"gamma": self.gamma, **params})

    def output(self, name, size, loss="squared_error", beta=1.0, activation="linear", tau_m=1.0, tau_r=None,
               **params):
        """The output layer with its cost and nudging strength; targets arrive by data streams.
        tau_r defaults to tau_m (instantaneous output errors, as in all the paper's tasks)."""
        code(LOSSES, loss, "loss")  # before any unit is added
        pop = self._population(name, "output", [Group(size, tau_m, tau_m if tau_r is None else tau_r)],
                               activation=activation, loss=loss, beta=beta, **{"gamma": self.gamma, **params})
        self.targets[name] = self.spec.add_streams(np.zeros((size, 1)))
        errors = pop.indices if pop.error_indices is None else pop.error_indices
        self.spec.connect_stream(self.targets[name], errors, 1.0, port="target")
        if loss == "cross_entropy":  # the softmax spans the layer (see gle_neuron)
            pre, post = np.meshgrid(pop.indices, errors, indexing="ij")
            self.spec.connect(pop.indices, errors, 1.0, port="softmax_self")
            self.spec.connect(pre.ravel(), post.ravel(), 1.0, port="softmax_sum")
        return pop

    def project(self, pre, post, connector=AllToAllConnector(), weights=None, delay=None, feedback="transposed",
                feedback_delay=None, **plasticity):
        """Connect pre -> post with plastic gle_synapse connections and a feedback pathway:
        "transposed" (the backward twin: exact W^T, learning alike), "random" (fixed random
        weights B in frozen twins: feedback alignment) or "none".

        weights: None (normal, sd 1/sqrt(pre.size)), "uniform" (U(+-1/sqrt(pre.size)), the usual
        dense-layer default), a number, one value per connection, or a pre x post matrix (as
        Projection.set; not NEST's post x pre), read at the connections; FromMatrixConnector
        brings its own. delay, feedback_delay: ms (default: one step).
        plasticity: gle_synapse common properties (optimizer, eta, ...); learning=False for fixed
        weights. Defaults: the paper's scheme, as the command line's: Adam, eta 1e-3, rate_lag 1
        (the error of step n learns with the rate of step n - 1; with rate_lag 0, the same-step
        pairing, MNIST-1D collapsed to about 0.2). In the microcircuit mode, whose connections
        see the error a step late, rate_lag 1 pairs the error of step n - 1 with the rate of step
        n - 2 (the same pairing one step later) and 0 the two of step n - 1.
        """
        self._not_built("projections")
        plasticity = {"optimizer": "adam", "rate_lag": 1, **plasticity}
        pre, post = (self._lookup(p) for p in (pre, post))
        if feedback not in FEEDBACK:
            raise ValueError(f"unknown feedback {feedback!r}; allowed: {', '.join(FEEDBACK)}")
        if post.kind == "input":
            raise ValueError(f"population {post.name!r} is an input layer: it cannot receive a projection")
        steps = [self._delay_steps(d, name) for d, name in ((delay, "delay"), (feedback_delay, "feedback_delay"))]
        i, j = connector.pairs(pre.size, post.size, self.rng)
        listed = connector.weights() if isinstance(connector, FromListConnector) else None
        if pre is post and not getattr(connector, "allow_self_connections", True):
            keep = i != j
            i, j, listed = i[keep], j[keep], None if listed is None else listed[keep]
        if isinstance(connector, FromMatrixConnector):
            w = np.asarray(connector.matrix, dtype=float)[i, j]
        elif listed is not None:
            w = listed
        elif weights is None:
            w = self.rng.normal(0.0, 1.0 / np.sqrt(pre.size), len(i))
        elif isinstance(weights, str):
            if weights != "uniform":
                raise ValueError(f"weights must be None, 'uniform', a number, one value per connection or a "
                                 f"{pre.size} x {post.size} (pre x post) matrix; got {weights!r}")
            w = self.rng.uniform(-1.0, 1.0, len(i)) / np.sqrt(pre.size)
        elif np.ndim(weights) == 2:  # the rule of Projection.set
            w = _matrix_values(np.asarray(weights, dtype=float), pre.size, post.size, i, j)
        else:
            w = np.asarray(weights, dtype=float).ravel()
            if w.size not in (1, len(i)):
                raise ValueError(f"weights must be one number, {len(i)} values or a {pre.size} x {post.size} "
                                 f"(pre x post) matrix; got {w.size} values")
            w = np.broadcast_to(w, (len(i),)).copy()
        model = self.spec.add_synapse_model(f"gle_{pre.name}_{post.name}_{len(self.projections)}",
                                            lagged=self.microcircuit, **plasticity)
        forward = self.spec.connect(pre.indices[i], post.indices[j], w, delay=steps[0], synapse=model)
        backward = np.zeros(0, int)
        # errors go from the error neurons above to those below; in the microcircuit mode an
        # input layer has none (it needs no errors)
        above = post.indices if post.error_indices is None else post.error_indices
        below = pre.indices if not self.microcircuit else pre.error_indices
        if feedback != "none" and below is not None:
            b, synapse = w, model + "_backward"
            if feedback == "random":  # fixed B: a frozen copy of the NESTML twin
                b = self.rng.normal(0.0, 1.0 / np.sqrt(post.size), len(i))
                synapse = self.spec.add_synapse_model(model + "_fixed", lagged=self.microcircuit,
                                                      learning=False) + "_backward"
            backward = self.spec.connect(above[j], below[i], b, delay=steps[1], synapse=synapse, port="bwd")
        self.projections.append(Projection(pre, post, model, forward, backward, feedback, network=self))
        return self.projections[-1]

    def _lookup(self, population):
        """A Population, also given by its name."""
        if isinstance(population, Population):
            return population
        if population not in self.populations:
            raise ValueError(f"no population {population!r}; the network has {', '.join(self.populations)}")
        return self.populations[population]

    def _delay_steps(self, delay, name):
        if delay is None:
            return 1
        steps = delay / self.spec.resolution
        if not (steps >= 1 and abs(steps - round(steps)) < 1e-9):
            raise ValueError(f"{name} must be a multiple of the resolution ({self.spec.resolution} ms), "
                             f"at least one step; got {delay} ms")
        return int(round(steps))

    def build(self):
        """Create the network in NEST's current kernel; fills every population's ``nodes``."""
        from . import nest_backend

        if not self.projections:
            raise ValueError("the network has no projections")
        if self.nest is not None:
            raise ValueError("the network is built already (net.nest); to build it again, call nest.ResetKernel() "
                             "and declare a new Network")
        self.nest = nest_backend.create(self.spec)
        for pop in self.populations.values():
            pop.nodes = self.nest.units[pop.indices[0]:pop.indices[-1] + 1]
            if pop.error_indices is not None:
                pop.error_nodes = self.nest.units[pop.error_indices[0]:pop.error_indices[-1] + 1]
            pop._start_recording()
        return self.nest
