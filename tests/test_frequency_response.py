"""One GLE unit in NEST against the theory (Ellenberger et al. 2024): for a sinusoidal input the
representation part is a lead-lag filter (1 + i w tau_r) / (1 + i w tau_m) and the error part
its inverse (1 + i w tau_m) / (1 + i w tau_r)."""

import numpy as np
import pytest

from conftest import run_in_nest
from pygle_nest import NetworkSpec

H = 0.002  # ms; <= tau / 100 for every tau below
TAU_M = 1.0
OMEGAS = (0.5, 2.0, 8.0)  # rad/ms


def complex_amplitude(y, t, omega):
    """Least-squares fit y = Re(A exp(i w t)) + c; returns A."""
    basis = np.column_stack([np.cos(omega * t), np.sin(omega * t), np.ones_like(t)])
    (a, b, _), *_ = np.linalg.lstsq(basis, y, rcond=None)
    return a - 1j * b


@pytest.mark.parametrize("tau_r", [0.25, 4.0], ids=["retrospective", "prospective"])
def test_gain_and_phase(tau_r):
    n_steps = int(8 * 2 * np.pi / min(OMEGAS) / H)
    t = np.arange(n_steps) * H
    spec = NetworkSpec(resolution=H)
    units = spec.add_units(len(OMEGAS), tau_m=TAU_M, tau_r=tau_r, activation="linear")
    fwd = spec.add_streams(np.sin(np.multiply.outer(OMEGAS, t)))
    bwd = spec.add_streams(np.cos(np.multiply.outer(OMEGAS, t)))
    spec.connect_stream(fwd, units, 1.0, port="fwd")
    spec.connect_stream(bwd, units, 1.0, port="bwd")
    out = run_in_nest(spec, n_steps, record=["I_fwd", "I_bwd", "r", "err"])

    window = slice(len(out["r"]) // 2, None)  # steady state: the transients decay with tau <= 4
    times = t[1:][window]
    for k, omega in enumerate(OMEGAS):
        fit = lambda name: complex_amplitude(out[name][window, k], times, omega)
        forward = fit("r") / fit("I_fwd")
        backward = fit("err") / fit("I_bwd")
        expected_forward = (1 + 1j * omega * tau_r) / (1 + 1j * omega * TAU_M)
        print(f"tau_r={tau_r} omega={omega}: forward rel. error {abs(forward / expected_forward - 1):.2e}, backward {abs(backward * expected_forward - 1):.2e}")
        assert abs(forward / expected_forward - 1) < 0.01, (omega, forward, expected_forward)
        assert abs(backward * expected_forward - 1) < 0.01, (omega, backward, 1 / expected_forward)
        # the check is not vacuous: gain and phase differ clearly from an identity
        assert abs(expected_forward - 1) > 0.1
