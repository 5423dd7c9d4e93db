"""GLE's local updates against the exact gradient (BPTT through the same discrete dynamics).

The exact gradient comes from the hand-written adjoint in pygle_nest.bptt, itself checked
against finite differences. GLE's accumulated updates come from NEST: plastic connections with
the plain rule and a learning rate so small that the weights stay put; delta w / eta is then the
sum over the window of h e_i(n) r_j(n).
"""

import numpy as np
import pytest

import nest
from pygle_nest import ACTIVATIONS, NetworkSpec, nest_backend
from pygle_nest.bptt import exact_gradient

H = 0.05
N_STEPS = 3001
ETA = 1e-9


def teacher_task(tau_groups, seed=0, sizes=(2, 6, 6, 2), activation="tanh"):
    """A random student network (hidden units of the given activation) nudged towards smooth
    targets; forward connections plastic."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=H)
    spec.add_synapse_model("probe", optimizer="plain", eta=ETA)
    t = np.arange(N_STEPS) * H
    streams = spec.add_streams([np.sin(0.49 * t + 0.3), np.sin(1.07 * t) + 0.5 * np.sin(1.98 * t)])
    layers = []
    for k, n in enumerate(sizes[1:]):
        out = k == len(sizes) - 2
        tau_m, tau_r = np.array(tau_groups)[np.arange(n) % len(tau_groups)].T
        layers.append(spec.add_units(n, tau_m=1.0 if out else tau_m, tau_r=1.0 if out else tau_r,
                                     activation="linear" if out else activation, beta=1.0 if out else 0.0))
    pre, post = np.meshgrid(streams, layers[0], indexing="ij")
    spec.connect_stream(pre.ravel(), post.ravel(), rng.normal(0, 1.0, pre.size))
    for below, above in zip(layers[:-1], layers[1:]):
        pre, post = np.meshgrid(below, above, indexing="ij")
        w = rng.normal(0, 1.2 / np.sqrt(len(below)), pre.size)
        spec.connect(pre.ravel(), post.ravel(), w, synapse="probe")
        spec.connect(post.ravel(), pre.ravel(), w, synapse="probe_backward", port="bwd")
    targets = spec.add_streams([np.sin(0.7 * t + k) * np.cos(0.3 * t) for k in range(len(layers[-1]))])
    spec.connect_stream(targets, layers[-1], 1.0, port="target")
    return spec


def gle_updates(spec):
    """Accumulated GLE updates sum_n h e_i r_j of the forward plastic connections, from NEST."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    fwd = np.flatnonzero(spec.connections["model"] == list(spec.synapse_models).index("probe"))
    nest.Simulate(N_STEPS * spec.resolution)
    return fwd, (net.synapse_states(fwd)["weight"] - spec.connections["weight"][fwd]) / ETA


def frozen(spec):
    spec.synapse_models["probe"].params["learning"] = False
    spec.synapse_models["probe_backward"].params["learning"] = False
    return spec


def cosine(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_adjoint_equals_finite_differences(activation):
    spec = frozen(teacher_task([(1.0, 0.3), (0.5, 1.5)], sizes=(2, 3, 3, 2), activation=activation))
    n_steps = 400
    grad, _ = exact_gradient(spec, n_steps)
    rng = np.random.default_rng(1)
    for k in rng.choice(np.flatnonzero(grad), 6, replace=False):
        eps = 1e-6
        losses = []
        for sign in (1, -1):
            spec.connections["weight"][k] += sign * eps
            losses.append(exact_gradient(spec, n_steps)[1])
            spec.connections["weight"][k] -= sign * eps
        fd = (losses[0] - losses[1]) / (2 * eps)
        assert fd == pytest.approx(grad[k], rel=1e-5, abs=1e-9)


def test_instantaneous_units_give_the_gradient():
    """tau_m = tau_r everywhere: GLE errors are backprop's, one step late per layer."""
    spec = teacher_task([(1.0, 1.0)])
    fwd, updates = gle_updates(spec)
    grad, _ = exact_gradient(frozen(spec), N_STEPS)
    similarity = cosine(updates, -grad[fwd])
    print(f"instantaneous: cosine(GLE updates, -dL/dW) = {similarity:.4f}")
    assert similarity >= 0.99


def test_mixed_units_pinned():
    """Instantaneous, retrospective and prospective hidden units: GLE's causal errors have the
    adjoint's phase but not its gain (Ellenberger et al. 2024). Measured 0.876 (README); pinned."""
    spec = teacher_task([(1.0, 1.0), (1.0, 0.1), (0.5, 1.5)])
    fwd, updates = gle_updates(spec)
    grad, _ = exact_gradient(frozen(spec), N_STEPS)
    similarity = cosine(updates, -grad[fwd])
    print(f"mixed: cosine(GLE updates, -dL/dW) = {similarity:.4f}")
    assert similarity == pytest.approx(0.876, abs=0.02)
