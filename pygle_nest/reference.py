"""NumPy reference of the discrete GLE scheme that the NEST module implements.

The one place in Python that knows the equations: the scheme of docs/scheme.md, step by step,
vectorised over lanes, units and connections; runs without NEST. States are lanes x units
(units with one lane) except the units' shared ones (bias, tau_m and their optimizer states);
each connection has one weight and learns from the lane mean of its increments (lane_mean,
in NEST's summation order). The explicit microcircuit's roles (representation and error
neurons) and the lagged connections (which pair the value carried in the previous step)
follow gle_neuron's and gle_synapse's docstrings.
"""

import math

import numpy as np
import scipy.sparse as sp

from .network import NetworkSpec
from .parameters import ACTIVATIONS, RECEPTORS

RECORDABLES = ("u", "u_breve", "r", "phi_prime", "v", "err", "I_fwd", "I_bwd", "y", "bias", "tau_m",
               "m_bias", "s_bias", "m_tau", "s_tau", "r_sum", "g_bias", "g_tau", "s_in", "g_bias_sum", "g_tau_sum")
#: The unit's states, shared by its lanes (gle_neuron's @homogeneous states); the others have one
#: value per lane.
SHARED_STATES = ("bias", "tau_m", "m_bias", "s_bias", "m_tau", "s_tau", "g_bias_sum", "g_tau_sum")
#: Per plastic connection: weight, optimizer moments, the increments summed since the last
#: optimizer step (update_interval > 1), and, per lane, the rate carried two steps before (the
#: lagged forward connections with rate_lag 1 only; 0 for the others).
SYNAPSE_STATES = ("weight", "m", "s", "g_sum", "held")


def optimizer_step(optimizer, m, s, g, k, mu, beta1, beta2, epsilon):
    """New moments and the step for per-step increments g (elementwise; codes as OPTIMIZERS):
    plain m = g, step m; momentum m = mu m + g, step m; Adam m = beta1 m + (1 - beta1) g,
    s = beta2 s + (1 - beta2) g^2, step (m ic1) / (sqrt(s ic2) + epsilon), ic = 1 / (1 - beta^k)."""
    m = np.where(optimizer == 1, mu * m + g, np.where(optimizer == 2, beta1 * m + (1 - beta1) * g, g))
    s = np.where(optimizer == 2, beta2 * s + (1 - beta2) * g * g, s)
    k = np.asarray(k, dtype=float) if np.ndim(k) else float(k)
    ic1, ic2 = 1 / (1 - beta1 ** k), 1 / (1 - beta2 ** k)
    return m, s, np.where(optimizer == 2, (m * ic1) / (np.sqrt(s * ic2) + epsilon), m)


def accumulate(interval, average, g_sum, g, k):
    """update_interval (elementwise): with an interval > 1 the increments g are summed in g_sum
    and applied at once in the steps whose number k is a multiple of the interval, as their sum
    or, where average, their mean. Returns whether step k takes an optimizer step, the increment
    it takes, the new g_sum, and the optimizer's step number (Adam's k; at least 1, so that units
    that take no step get finite values that are not used)."""
    summing = np.asarray(interval) > 1
    total = np.where(summing, g_sum + g, g)
    apply = np.asarray(k % interval == 0)
    taken = np.where(summing & np.asarray(average, dtype=bool), total / interval, total)
    return apply, taken, np.where(summing & ~apply, total, np.where(summing, 0.0, g_sum)), np.maximum(k // interval, 1)


def lane_mean(x):
    """The mean over the lanes (axis 0) in gle_synapse's order: eight partial sums (lane mod 8),
    added pairwise, divided by the number of lanes. One lane (1-D x): x itself."""
    if x.ndim == 1:
        return x
    acc = np.zeros((8,) + x.shape[1:])
    for b in range(len(x)):
        acc[b % 8] += x[b]
    return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) / len(x)


def spike_mean(r, rate_scale, h):
    """The mean number of spikes that a unit of rate r emits in a step of h ms (gle_neuron's
    rate_scale, in spikes/s per unit of r; r clipped at 0): the rate behind its Poisson spikes."""
    return 0.001 * rate_scale * np.maximum(r, 0.0) * h


def spike_trace_coefficients(tau_s, h):
    """The spike trace's decay over a step and the increment of a spike of weight 1, per unit
    (gle_neuron's internals spike_decay and spike_gain; exp as NEST's C library computes it)."""
    decay = np.array([math.exp(-h / t) if t > 0 else 0.0 for t in tau_s])
    gain = np.array([1 / t if t > 0 else 1 / h for t in tau_s])
    return decay, gain


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def phi(x, activation):
    """Activation with the given code, elementwise (as in gle_neuron.nestml)."""
    return {
        0: lambda: x,
        1: lambda: np.tanh(x),
        2: lambda: _sigmoid(x),
        3: lambda: np.maximum(x, 0.0) + np.log(1.0 + np.exp(-np.abs(x))),
        4: lambda: np.maximum(x, 0.0),
        5: lambda: np.minimum(np.maximum(x / 6.0 + 0.5, 0.0), 1.0),
    }[activation]()


def phi_derivative_of_rate(r, activation):
    """phi'(x) from the rate r = phi(x), as an error neuron of a microcircuit computes it."""
    if activation == 1:
        return 1.0 - r * r
    if activation == 2:
        return r * (1.0 - r)
    if activation == 3:
        return 1.0 - np.exp(-r)
    if activation == 4:
        return np.where(r > 0.0, 1.0, 0.0)
    if activation == 5:
        return np.where((r > 0.0) & (r < 1.0), 1.0 / 6.0, 0.0)
    return np.ones_like(r)


def phi_derivative(x, activation):
    """Derivative of :func:`phi` (relu: 0 at 0; hard sigmoid: 1/6 on (-3, 3))."""
    if activation == 1:
        t = np.tanh(x)
        return 1.0 - t * t
    if activation == 2:
        s = _sigmoid(x)
        return s * (1.0 - s)
    if activation == 3:  # softplus' = the logistic sigmoid
        return _sigmoid(x)
    if activation == 4:
        return np.where(x > 0.0, 1.0, 0.0)
    if activation == 5:
        return np.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0)
    return np.ones_like(x)


class ReferenceNetwork:
    """Runs a :class:`~pygle_nest.network.NetworkSpec` step by step in NumPy.

    State persists between :meth:`run` calls; ``run(a)`` then ``run(b)`` equals ``run(a + b)``.
    ``synapses[name]`` holds the weight and optimizer states of every connection; those of the
    plastic ones are live (may be set between steps), static weights are fixed at construction.
    """

    def __init__(self, spec: NetworkSpec):
        self.spec = spec
        n = spec.n_units
        units = spec.units
        self.h = float(spec.resolution)
        self.params = {k: units[k].astype(float).copy() for k in ("tau_r", "gamma", "beta", "eta_bias", "eta_tau",
                                                                   "tau_m_min", "mu", "beta1", "beta2", "epsilon")}
        self.params["optimizer"] = units["optimizer"].copy()
        self.params["update_interval"] = units["update_interval"].copy()
        self.params["update_average"] = units["update_average"].copy()
        self.spike_decay, self.spike_gain = spike_trace_coefficients(units["tau_s"].astype(float), self.h)
        self.cross_entropy = units["loss"] == 1
        self.representation = units["role"] == 1
        self.error_neuron = units["role"] == 2
        self.prospective = units["prospective_error"].astype(bool)
        self.groups = [(a, np.flatnonzero(units["activation"] == a)) for a in sorted(ACTIVATIONS.values())
                       if np.any(units["activation"] == a)]
        # per-lane states (lanes x units; units with one lane), shared ones (units)
        self.lanes = () if spec.lanes == 1 else (spec.lanes,)
        self.state = {k: np.zeros(n if k in SHARED_STATES else self.lanes + (n,)) for k in RECORDABLES}
        # phi'(u_breve = 0), as the model derives it; an error neuron has none and keeps 1
        self.state["phi_prime"][:] = np.where(self.error_neuron, 1.0, self.activation(np.zeros(n), derivative=True))
        self.state["bias"] = units["bias"].astype(float).copy()
        self.state["tau_m"] = units["tau_m"].astype(float).copy()
        self.step_count = 0
        self.depth = spec.max_delay + 1
        # what each unit sent after the last step and the one before: ([lanes x] rate, error x units)
        self.sent = np.zeros(self.lanes + (2, n))
        self.sent_before = np.zeros_like(self.sent)
        #: the common properties of each connection model, as the connections learn with them now
        self.common = {m.name: dict(m.params) for m in spec.model_list()}
        self._init_connections()
        self._init_streams()
        self._init_spike_trains()

    def _init_connections(self):
        """Static connections: one sparse matrix per (port, channel, delay) over what the units
        sent. Plastic ones: their transmitted values w s, kept per connection for the delays."""
        c, n = self.spec.connections, self.spec.n_units
        models = self.spec.model_list()
        self.synapses = {k: (c["weight"].copy() if k == "weight" else np.zeros(len(c["pre"])))
                         for k in SYNAPSE_STATES}
        self.synapses["held"] = np.zeros((len(c["pre"]), self.spec.lanes))  # per lane
        channel = np.array([models[m].channel for m in c["model"]], dtype=int)
        plastic = np.array([models[m].plastic for m in c["model"]], dtype=bool)
        self.history = np.zeros((self.depth,) + self.lanes + (2, n))  # what each unit sent, ring over steps
        self.static_terms = []
        for port, ch, d in sorted({(p, h, d) for p, h, d, pl in zip(c["port"], channel, c["delay"], plastic) if not pl}):
            m = ~plastic & (c["port"] == port) & (channel == ch) & (c["delay"] == d)
            mat = sp.csr_matrix((c["weight"][m], (c["post"][m], c["pre"][m])), shape=(n, n))
            self.static_terms.append((int(port), int(ch), int(d), mat))
        self.plastic_idx = np.flatnonzero(plastic)
        self.plastic_channel = channel[self.plastic_idx]
        self.plastic_slot = c["port"][self.plastic_idx] * n + c["post"][self.plastic_idx]
        self.tx = np.zeros((self.depth,) + self.lanes + (len(self.plastic_idx),))  # transmitted w s, ring over steps
        delays = c["delay"][self.plastic_idx]
        self.plastic_by_delay = [(int(d), np.flatnonzero(delays == d)) for d in np.unique(delays)]
        # plastic connections by model: (model, indices, the rate unit and the error unit of each)
        self.plastic = []
        for k, model in enumerate(models):
            idx = np.flatnonzero(c["model"] == k)
            if model.plastic and len(idx):
                rate_unit = np.where(channel[idx] == 0, c["pre"][idx], c["post"][idx])
                error_unit = np.where(channel[idx] == 0, c["post"][idx], c["pre"][idx])
                self.plastic.append((model, idx, rate_unit, error_unit))

    def _init_streams(self):
        s, n = self.spec.stream_connections, self.spec.n_units
        self.stream_terms = []
        for port in np.unique(s["port"]):
            for d in np.unique(s["delay"][s["port"] == port]):
                m = (s["port"] == port) & (s["delay"] == d)
                mat = sp.csr_matrix((s["weight"][m], (s["post"][m], s["stream"][m])),
                                    shape=(n, len(self.spec.streams)))
                self.stream_terms.append((int(port), int(d), mat))

    def _init_spike_trains(self):
        """What the spike trains add to the receptor spikes of their units, by step of arrival."""
        self.spike_arrivals = {}
        for unit, times, weight, delay, counts in self.spec.spike_trains:
            for step, count in zip(np.round(times / self.h).astype(int) + delay - 1, counts):
                self.spike_arrivals.setdefault(int(step), []).append((unit, weight * count))

    def _stream_values(self, step):
        return np.array([x[min(step, len(x) - 1)] for x in self.spec.streams])

    def inputs(self, step, streams=True):
        """Port inputs (ports [x lanes] x units) that arrive in the given step from units (and
        streams: generators drive every lane alike; lane inputs each lane its own)."""
        n = self.spec.n_units
        flat = np.zeros(self.lanes + (len(RECEPTORS) * n,))
        for d, idx in self.plastic_by_delay:
            if step - d >= 0:
                tx = self.tx[(step - d) % self.depth][..., idx]
                for lane in np.ndindex(self.lanes):
                    flat[lane] += np.bincount(self.plastic_slot[idx], weights=tx[lane], minlength=flat.shape[-1])
        x = np.moveaxis(flat.reshape(self.lanes + (len(RECEPTORS), n)), -2, 0)
        for port, channel, d, mat in self.static_terms:
            if step - d >= 0:
                x[port] += (mat @ self.history[(step - d) % self.depth][..., channel, :].T).T
        for port, d, mat in self.stream_terms if streams else ():
            if step - d >= 0:
                x[port] += mat @ self._stream_values(step - d)
        for unit, (port, start, values) in self.spec.lane_inputs.items() if streams else ():
            if 0 <= step - start < len(values):
                x[port][..., unit] += values[step - start].reshape(self.lanes)
        for unit, weight in self.spike_arrivals.get(step, ()) if streams else ():
            x[RECEPTORS["spikes"]][..., unit] += weight
        return x

    def activation(self, x, derivative=False, of_rate=False):
        """phi (or phi', or phi' from the rate) of every unit applied to x (last axis: units)."""
        f = phi_derivative_of_rate if of_rate else phi_derivative if derivative else phi
        out = np.empty_like(x)
        for a, idx in self.groups:
            out[..., idx] = f(x[..., idx], a)
        return out

    def step(self, x):
        """Advance all units by one step with port inputs x (ports [x lanes] x units), then let
        every connection send and learn."""
        s, p, h = self.state, self.params, self.h
        fwd, bwd, target, soft_self, soft_sum, spikes = x
        s["s_in"] = self.spike_decay * s["s_in"] + self.spike_gain * spikes
        fwd = fwd + s["s_in"]
        errs = self.error_neuron
        rate_before = self.activation(s["u_breve"])  # of the previous step
        slope = self.activation(s["u_breve"], derivative=True)
        if errs.any():  # error neurons: their unit's rate arrives on fwd (exp(r) for loss 1)
            logged = self.cross_entropy & (fwd > 0.0)
            q = np.where(logged, np.log(np.where(logged, fwd, 1.0)), fwd)
            rate_before = np.where(errs, q, rate_before)
            slope = np.where(errs, self.activation(q, of_rate=True), slope)
        nudged = p["beta"] != 0.0
        squared = nudged & ~self.cross_entropy
        soft = nudged & self.cross_entropy & (soft_sum > 0.0)
        delta = np.where(squared, target - rate_before, 0.0)
        delta = np.where(soft, target - np.divide(soft_self, soft_sum, out=np.zeros_like(soft_sum), where=soft), delta)
        inst_e = slope * (bwd + p["beta"] * delta)
        dv = (inst_e - s["v"]) / p["tau_r"]
        s["err"] = np.where(self.representation, bwd, np.where(self.prospective, s["v"] + s["tau_m"] * dv, inst_e))
        s["v"] = np.where(self.representation, s["v"], np.where(self.prospective, s["v"] + h * dv, inst_e))
        du = np.where(errs, 0.0, (fwd + s["bias"] + p["gamma"] * s["err"] - s["u"]) / s["tau_m"])
        u_breve = s["u"] + p["tau_r"] * du
        r = self.activation(u_breve)
        s["u_breve"] = np.where(errs, s["u_breve"], u_breve)
        s["u"] = np.where(errs, s["u"], s["u"] + h * du)
        s["phi_prime"] = np.where(errs, s["phi_prime"], self.activation(u_breve, derivative=True))
        s["r"] = np.where(errs, s["r"], r)
        s["r_sum"] = np.where(errs, s["r_sum"], s["r_sum"] + r)
        s["g_bias"], s["g_tau"] = h * s["err"], -h * s["err"] * du
        self._learn_unit_parameters()
        s["I_fwd"], s["I_bwd"], s["y"] = fwd, bwd, target
        self.sent_before = self.sent.copy()
        self.sent[..., 0, :] = np.where(errs, fwd, np.where(self.cross_entropy, np.exp(s["r"]), s["r"]))
        self.sent[..., 1, :] = s["err"]
        self.history[self.step_count % self.depth] = self.sent
        self._connections_send_and_learn()
        self.step_count += 1

    def _learn_unit_parameters(self):
        """The bias and tau_m rules with the lane means of the lanes' increments."""
        s, p, h = self.state, self.params, self.h
        optimizer = (p["optimizer"], p["mu"], p["beta1"], p["beta2"], p["epsilon"])
        step_number = self.step_count + 1
        # a rule that is off (rate 0) sums nothing: its sum waits
        apply, g_bias, bias_sum, k = accumulate(p["update_interval"], p["update_average"], s["g_bias_sum"],
                                                lane_mean(s["g_bias"]), step_number)
        _, g_tau, tau_sum, _ = accumulate(p["update_interval"], p["update_average"], s["g_tau_sum"],
                                          lane_mean(s["g_tau"]), step_number)
        s["g_bias_sum"] = np.where(p["eta_bias"] != 0.0, bias_sum, s["g_bias_sum"])
        s["g_tau_sum"] = np.where(p["eta_tau"] != 0.0, tau_sum, s["g_tau_sum"])
        on = (p["eta_bias"] != 0.0) & apply
        m, v, step = optimizer_step(optimizer[0], s["m_bias"], s["s_bias"], g_bias, k, *optimizer[1:])
        s["m_bias"], s["s_bias"] = np.where(on, m, s["m_bias"]), np.where(on, v, s["s_bias"])
        s["bias"] = np.where(on, s["bias"] + p["eta_bias"] * step, s["bias"])
        on = (p["eta_tau"] != 0.0) & apply
        m, v, step = optimizer_step(optimizer[0], s["m_tau"], s["s_tau"], g_tau, k, *optimizer[1:])
        s["m_tau"], s["s_tau"] = np.where(on, m, s["m_tau"]), np.where(on, v, s["s_tau"])
        s["tau_m"] = np.where(on, np.maximum(s["tau_m"] + p["eta_tau"] * step, np.maximum(p["tau_m_min"], h)),
                              s["tau_m"])

    def _connections_send_and_learn(self):
        c, syn = self.spec.connections, self.synapses
        pre = c["pre"][self.plastic_idx]
        self.tx[self.step_count % self.depth] = syn["weight"][self.plastic_idx] * self.sent[..., self.plastic_channel, pre]
        k = self.step_count + 1  # Adam's step number
        for model, idx, rate_unit, error_unit in self.plastic:
            q = self.common[model.name]
            # rate_lag 1: the rate of the step before (the one that entered the target's update)
            rates = self.sent_before if q["rate_lag"] else self.sent
            rate, error = rates[..., 0, rate_unit], self.sent[..., 1, error_unit]
            if model.lagged:  # the carried side pairs the value of the previous step
                carried = self.sent_before[..., model.channel, c["pre"][idx]]
                if model.channel == 0 and q["rate_lag"]:  # the rate of two steps before, then keep this one
                    carried, syn["held"][idx] = syn["held"][idx].T.reshape(carried.shape), \
                        carried.reshape(-1, len(idx)).T
                rate, error = (carried, error) if model.channel == 0 else (rate, carried)
            if not q["learning"]:
                continue
            apply, g, syn["g_sum"][idx], step_number = accumulate(q["update_interval"], q["update_average"],
                                                                  syn["g_sum"][idx],
                                                                  lane_mean(self.h * error * rate), k)
            if not apply:
                continue
            m, s, step = optimizer_step(q["optimizer"], syn["m"][idx], syn["s"][idx], g, step_number,
                                        q["mu"], q["beta1"], q["beta2"], q["epsilon"])
            if q["optimizer"] != 0:  # gle_synapse keeps its moments only where it uses them
                syn["m"][idx] = m
                syn["s"][idx] = s
            syn["weight"][idx] += q["eta"] * step

    def run(self, n_steps, record=RECORDABLES):
        """Run n_steps; return {name: array (n_steps [, lanes], n_units)} of the values after
        each step (shared states: (n_steps, n_units))."""
        out = {k: np.empty((n_steps,) + self.state[k].shape) for k in record}
        for k in range(n_steps):
            self.step(self.inputs(self.step_count))
            for name in record:
                out[name][k] = self.state[name]
        return out
