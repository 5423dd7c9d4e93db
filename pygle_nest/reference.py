"""NumPy reference of the discrete GLE scheme that the NEST module implements.

The one place in Python that knows the equations. Vectorised over units; runs without NEST.
Per step n (h = resolution, all units updated together; see README, "The discrete scheme"):

    inputs: x_p,i(n) = sum over connections c into port p of unit i of w_c * s_c(n - d_c)
            where s_c(m) is what the sender sent after its step m: rate_out, err_out, or the
            stream's value m (0 before the first step; a stream holds its last value)
    inst_e = phi'(u_breve) * (x_bwd + beta * delta)        u_breve of step n - 1
             delta = x_target - phi(u_breve)                 (loss 0, beta != 0)
             delta = x_target - x_self / x_sum if x_sum > 0  (loss 1, beta != 0)
    dv = (inst_e - v) / tau_r ;  err = v + tau_m dv ;  v += h dv
    du = (x_fwd + bias + gamma err - u) / tau_m ;  u_breve = u + tau_r du ;  u += h du
    r = phi(u_breve) ;  phi_prime = phi'(u_breve)
    rate_out = r (loss 0) or exp(r) (loss 1) ;  err_out = err
"""

import numpy as np
import scipy.sparse as sp

from .network import NetworkSpec
from .parameters import ACTIVATIONS, RECEPTORS

RECORDABLES = ("u", "u_breve", "r", "phi_prime", "v", "err", "I_fwd", "I_bwd", "y")


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


def phi_derivative(x, activation):
    """Derivative of :func:`phi` (relu: 0 at 0; hard sigmoid: 1/6 on (-3, 3))."""
    if activation == 1:
        t = np.tanh(x)
        return 1.0 - t * t
    if activation in (2, 3):
        s = _sigmoid(x)
        return s * (1.0 - s)
    if activation == 4:
        return np.where(x > 0.0, 1.0, 0.0)
    if activation == 5:
        return np.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0)
    return np.ones_like(x)


class ReferenceNetwork:
    """Runs a :class:`~pygle_nest.network.NetworkSpec` step by step in NumPy.

    State persists between :meth:`run` calls; ``run(a)`` then ``run(b)`` equals ``run(a + b)``.
    """

    def __init__(self, spec: NetworkSpec):
        self.spec = spec
        n = spec.n_units
        units = spec.units
        self.h = float(spec.resolution)
        self.tau_m, self.tau_r = units["tau_m"].copy(), units["tau_r"].copy()
        self.bias, self.gamma, self.beta = units["bias"].copy(), units["gamma"].copy(), units["beta"].copy()
        self.cross_entropy = units["loss"] == 1
        self.groups = [(a, np.flatnonzero(units["activation"] == a)) for a in sorted(ACTIVATIONS.values())
                       if np.any(units["activation"] == a)]
        self.state = {k: np.zeros(n) for k in RECORDABLES}
        self.state["phi_prime"][:] = 1.0
        self.step_count = 0
        self.depth = spec.max_delay + 1
        self.sent = {"rate": np.zeros((self.depth, n)), "error": np.zeros((self.depth, n))}
        self.streams = spec.streams
        self._build_matrices()

    def _build_matrices(self):
        """One sparse matrix per (port, source kind, delay): input = sum M @ sent(n - d)."""
        spec, n = self.spec, self.spec.n_units
        self.terms = []
        c = spec.connections
        for kind, channel in (("rate", 0), ("error", 1)):
            sel = c["channel"] == channel
            for port in np.unique(c["port"][sel]):
                for d in np.unique(c["delay"][sel & (c["port"] == port)]):
                    m = sel & (c["port"] == port) & (c["delay"] == d)
                    mat = sp.csr_matrix((c["weight"][m], (c["post"][m], c["pre"][m])), shape=(n, n))
                    self.terms.append((int(port), kind, int(d), mat))
        s = spec.stream_connections
        n_streams = len(spec.streams)
        for port in np.unique(s["port"]):
            for d in np.unique(s["delay"][s["port"] == port]):
                m = (s["port"] == port) & (s["delay"] == d)
                mat = sp.csr_matrix((s["weight"][m], (s["post"][m], s["stream"][m])), shape=(n, n_streams))
                self.terms.append((int(port), "stream", int(d), mat))

    def _stream_values(self, step):
        if step < 0:
            return np.zeros(len(self.streams))
        return np.array([x[min(step, len(x) - 1)] for x in self.streams])

    def inputs(self, step):
        """Port inputs (ports x units) that arrive in the given step from units and streams."""
        x = np.zeros((len(RECEPTORS), self.spec.n_units))
        for port, kind, d, mat in self.terms:
            if step - d < 0:
                continue
            if kind == "stream":
                x[port] += mat @ self._stream_values(step - d)
            else:
                x[port] += mat @ self.sent[kind][(step - d) % self.depth]
        return x

    def _phi(self, x, derivative=False):
        f = phi_derivative if derivative else phi
        out = np.empty_like(x)
        for a, idx in self.groups:
            out[idx] = f(x[idx], a)
        return out

    def step(self, x):
        """Advance all units by one step with port inputs x (shape: ports x units)."""
        s, h = self.state, self.h
        fwd, bwd, target, soft_self, soft_sum = x
        delta = np.zeros_like(fwd)
        nudged = self.beta != 0.0
        squared = nudged & ~self.cross_entropy
        delta[squared] = target[squared] - self._phi(s["u_breve"])[squared]
        soft = nudged & self.cross_entropy & (soft_sum > 0.0)
        delta[soft] = target[soft] - soft_self[soft] / soft_sum[soft]
        inst_e = self._phi(s["u_breve"], derivative=True) * (bwd + self.beta * delta)
        dv = (inst_e - s["v"]) / self.tau_r
        s["err"] = s["v"] + self.tau_m * dv
        s["v"] = s["v"] + h * dv
        du = (fwd + self.bias + self.gamma * s["err"] - s["u"]) / self.tau_m
        s["u_breve"] = s["u"] + self.tau_r * du
        s["u"] = s["u"] + h * du
        s["r"] = self._phi(s["u_breve"])
        s["phi_prime"] = self._phi(s["u_breve"], derivative=True)
        s["I_fwd"], s["I_bwd"], s["y"] = fwd, bwd, target
        slot = self.step_count % self.depth
        self.sent["rate"][slot] = np.where(self.cross_entropy, np.exp(s["r"]), s["r"])
        self.sent["error"][slot] = s["err"]
        self.step_count += 1

    def run(self, n_steps, record=RECORDABLES):
        """Run n_steps; return {name: array (n_steps, n_units)} of the values after each step."""
        out = {k: np.empty((n_steps, self.spec.n_units)) for k in record}
        for k in range(n_steps):
            self.step(self.inputs(self.step_count))
            for name in record:
                out[name][k] = self.state[name]
        return out
