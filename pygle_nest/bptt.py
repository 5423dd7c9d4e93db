"""Exact gradients of the discrete GLE dynamics by backpropagation through time (hand-written
adjoint), to measure how well GLE's local, online updates approximate them.

Scope: the forward dynamics of the reference (:mod:`pygle_nest.reference`) with fixed weights,
biases and time constants, gamma = 0 (errors do not act on the membranes) and squared-error
outputs. The loss pairs each output rate with the target that meets it in the GLE error source
(the target of the next step):

    L = sum_{n=0}^{T-2} sum_{i in outputs} beta_i / 2 (y_i(n + 1) - r_i(n))^2

Forward step of a unit (u_n before step n): du_n = (I_n + b - u_n) / tau_m,
ub_n = u_n + tau_r du_n, u_{n+1} = u_n + h du_n, r_n = phi(ub_n), with
I_n = sum_c w_c r_pre(c)(n - d_c) + streams. Backwards, with lambda_n = dL/du_n:

    dL/dr_n   = dl_n/dr_n + sum over connections c out of the unit of w_c dL/dI_post(c)(n + d_c)
    dL/dub_n  = phi'(ub_n) dL/dr_n
    dL/dI_n   = (tau_r / tau_m) dL/dub_n + (h / tau_m) lambda_{n+1}
    lambda_n  = (1 - tau_r / tau_m) dL/dub_n + (1 - h / tau_m) lambda_{n+1}
    dL/dw_c   = sum_n dL/dI_post(c)(n) r_pre(c)(n - d_c)
"""

import numpy as np

from .network import NetworkSpec
from .parameters import RECEPTORS
from .reference import ReferenceNetwork


def _check_scope(spec: NetworkSpec):
    u, c = spec.units, spec.connections
    if np.any(u["gamma"] != 0) or np.any(u["loss"] != 0) or np.any(u["eta_bias"] != 0) or np.any(u["eta_tau"] != 0):
        raise ValueError("exact gradients need gamma = 0, squared-error outputs and no bias or tau_m learning")
    models = spec.model_list()
    if any(models[m].plastic and models[m].params["learning"] for m in np.unique(c["model"])):
        raise ValueError("exact gradients need fixed weights: switch learning off")


def exact_gradient(spec: NetworkSpec, n_steps: int):
    """dL/dw for every rate connection into a forward port (0 elsewhere) and the loss L."""
    grad, loss, _ = adjoint(spec, n_steps)
    return grad, loss


def adjoint(spec: NetworkSpec, n_steps: int):
    """dL/dw (as exact_gradient), L, and dL/dI_n of every unit and step (n_steps x units):
    what GLE's error e_i(n) approximates as -dL/dI_i (up to its latency)."""
    _check_scope(spec)
    ref = ReferenceNetwork(spec)
    rec = ref.run(n_steps, record=("u_breve", "r", "y"))
    u, c = spec.units, spec.connections
    h, tau_m, tau_r, beta = spec.resolution, u["tau_m"], u["tau_r"], u["beta"]
    channel = np.array([m.channel for m in spec.model_list()])[c["model"]]
    conn = np.flatnonzero((channel == 0) & (c["port"] == RECEPTORS["fwd"]))
    pre, post, w, d = c["pre"][conn], c["post"][conn], c["weight"][conn], c["delay"][conn]
    dphi = ref.activation(rec["u_breve"], derivative=True)

    residual = np.zeros_like(rec["r"])  # y(n + 1) - r(n); the target arrives in step n + 1
    residual[:-1] = rec["y"][1:] - rec["r"][:-1]
    loss = 0.5 * np.sum(beta * residual ** 2)
    g_input = np.zeros_like(rec["r"])
    lam = np.zeros(spec.n_units)
    for n in range(n_steps - 1, -1, -1):
        g_r = -beta * residual[n]
        later = n + d < n_steps
        g_r += np.bincount(pre[later], weights=w[later] * g_input[n + d[later], post[later]],
                           minlength=spec.n_units)
        g_ub = dphi[n] * g_r
        g_input[n] = (tau_r / tau_m) * g_ub + (h / tau_m) * lam
        lam = (1 - tau_r / tau_m) * g_ub + (1 - h / tau_m) * lam
    grad = np.zeros(len(c["pre"]))
    for k, (j, i, delay) in enumerate(zip(pre, post, d)):
        grad[conn[k]] = np.dot(g_input[delay:, i], rec["r"][:n_steps - delay, j])
    return grad, loss, g_input
