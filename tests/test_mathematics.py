"""The models against mathematics, not against a copy of their own formulas.

- phi' of every activation, as NEST and the reference compute it, equals a central finite
  difference of phi as they compute it;
- an error neuron's phi' from its unit's rate equals phi' of the prospective potential;
- a u_breve set by hand enters the next step's error with phi' in closed form;
- the exact gradient (pygle_nest.bptt) equals finite differences of the loss for every
  activation (tests/test_gradient.py).
"""

import numpy as np
import pytest

import nest
from conftest import run_in_nest
from pygle_nest import ACTIVATIONS, NetworkSpec, ReferenceNetwork, nest_backend

H = 0.1
EPS = 1e-5
# away from the kinks of relu (0) and the hard sigmoid (+-3)
POINTS = np.array([-3.7, -2.0, -0.6, 0.3, 1.0, 2.4, 4.1])


def units_at(activation, x):
    """Instantaneous units (tau_m = tau_r) whose bias puts u_breve at x in the first step."""
    spec = NetworkSpec(resolution=H)
    spec.add_units(len(x), tau_m=1.0, tau_r=1.0, bias=x, activation=activation)
    return spec


def first_step(spec, backend):
    """u_breve, r and phi_prime after the first step, from NEST or the reference."""
    keys = ("u_breve", "r", "phi_prime")
    if backend == "reference":
        out = ReferenceNetwork(spec).run(1, record=keys)
        return {k: out[k][0] for k in keys}
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    nest.Simulate(spec.resolution)
    return net.unit_states(keys)


@pytest.mark.parametrize("backend", ["nest", "reference"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_phi_prime_is_the_derivative_of_phi(activation, backend):
    x = np.concatenate([POINTS - EPS, POINTS, POINTS + EPS])
    got = first_step(units_at(activation, x), backend)
    ub, r = got["u_breve"].reshape(3, -1), got["r"].reshape(3, -1)
    np.testing.assert_allclose(ub[1], POINTS, rtol=0, atol=1e-12)  # the points are where we put them
    finite_difference = (r[2] - r[0]) / (ub[2] - ub[0])
    np.testing.assert_allclose(got["phi_prime"].reshape(3, -1)[1], finite_difference, rtol=1e-6, atol=1e-10,
                               err_msg=f"{activation}: phi' at u_breve = {POINTS}")
    assert np.ptp(finite_difference) > 0 or activation == "linear"  # a slope that varies is tested


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_error_neuron_slope_from_the_rate_equals_phi_prime(activation):
    """An error neuron (explicit microcircuit) sees only its unit's rate q = phi(u_breve) and
    computes phi' from it: with instantaneous errors and a backward input of 1 its error is that
    slope. It must equal phi'(u_breve) of the compact unit (itself checked above)."""
    compact = first_step(units_at(activation, POINTS), "nest")
    spec = NetworkSpec(resolution=H)
    errors = spec.add_units(len(POINTS), tau_m=1.0, tau_r=1.0, activation=activation, role="error",
                            prospective_error=False)
    rates, ones = spec.add_streams(compact["r"][:, None]), spec.add_streams(np.ones((len(POINTS), 1)))
    spec.connect_stream(rates, errors, 1.0, port="fwd")
    spec.connect_stream(ones, errors, 1.0, port="bwd")
    nest_err = run_in_nest(spec, 4, record=("err",))["err"][-1]
    ref_err = ReferenceNetwork(spec).run(4, record=("err",))["err"][-1]
    for err in (nest_err, ref_err):
        np.testing.assert_allclose(err, compact["phi_prime"], rtol=1e-9, atol=1e-12, err_msg=activation)


def test_softplus_slope_is_the_logistic_sigmoid():
    """The case that was wrong (phi' = s (1 - s) instead of s): the closed form."""
    got = first_step(units_at("softplus", POINTS), "nest")
    np.testing.assert_allclose(got["phi_prime"], 1 / (1 + np.exp(-POINTS)), rtol=1e-12)
    np.testing.assert_allclose(got["r"], np.log1p(np.exp(POINTS)), rtol=1e-12)


# phi and phi' in closed form, written here (not the package's formulas)
CLOSED_FORMS = {
    "linear": (lambda x: x, lambda x: np.ones_like(x)),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "softplus": (lambda x: np.log1p(np.exp(x)), lambda x: 1 / (1 + np.exp(-x))),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "hard_sigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), lambda x: ((x > -3) & (x < 3)) / 6),
}


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_a_u_breve_set_by_hand_gives_the_next_error_its_slope(kernel, activation):
    """The error part of a step uses phi'(u_breve) of the state before it (kept as phi_prime).
    With u_breve set by SetStatus (three lanes, three values), an output unit with
    instantaneous errors, target 0 and beta = 1 has after one step e = phi'(x) (0 - phi(x)), in
    closed form; phi_prime reads phi'(x) right after the SetStatus."""
    f, df = CLOSED_FORMS[activation]
    x = np.array([-1.3, 0.4, 2.2])
    node = nest.Create("gle_neuron", params={"lanes": 3, "activation": ACTIVATIONS[activation], "beta": 1.0,
                                             "prospective_error": False})
    node.set({"u_breve": x.tolist()})
    np.testing.assert_allclose(node.get("phi_prime"), df(x), rtol=1e-12)
    nest.Simulate(H)
    np.testing.assert_allclose(node.get("err"), df(x) * (0 - f(x)), rtol=1e-12, atol=1e-15)
