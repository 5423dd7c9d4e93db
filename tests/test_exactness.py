"""NEST trajectories equal the NumPy reference of the same discrete scheme to round-off."""

import numpy as np
import pytest

import random_networks
from conftest import max_abs_difference, random_chunks, run_in_nest
from pygle_nest import ReferenceNetwork

N_STEPS = 2101  # the multimeter reports n_steps - 1 >= 2000 steps
TOLERANCE = 1e-12

NETWORKS = {
    "layered, delay 1": lambda: random_networks.layered(seed=1, n_steps=N_STEPS),
    "layered, delays 2 fwd / 3 bwd": lambda: random_networks.layered(seed=2, fwd_delay=2, bwd_delay=3,
                                                                     n_steps=N_STEPS),
    "recurrent, delays 1..5": lambda: random_networks.recurrent(seed=3, n_steps=N_STEPS),
}
_cache = {}


def network_and_reference(name):
    if name not in _cache:
        spec = NETWORKS[name]()
        _cache[name] = (spec, ReferenceNetwork(spec).run(N_STEPS))
    return _cache[name]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("split", ["one Simulate", "many short Simulates"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_nest_equals_reference(name, split, threads):
    spec, ref = network_and_reference(name)
    assert spec.n_units >= 50
    chunks = random_chunks(threads, N_STEPS) if split != "one Simulate" else None
    out = run_in_nest(spec, N_STEPS, threads=threads, chunks=chunks)
    diff, scale = max_abs_difference(out, ref)
    assert scale > 0.5, "the network is too quiet to test anything"
    assert np.all(np.isfinite(np.concatenate([v.ravel() for v in ref.values()])))
    assert diff <= TOLERANCE, f"max |NEST - reference| = {diff:.3g} (values up to {scale:.3g})"


def test_every_activation_and_group_is_exercised():
    spec, ref = network_and_reference("recurrent, delays 1..5")
    assert set(spec.units["activation"]) == set(range(6))
    tau_ratio = spec.units["tau_r"] / spec.units["tau_m"]
    assert {np.sign(x - 1) for x in tau_ratio} == {-1.0, 0.0, 1.0}
    # every unit moves; errors reach nearly all units (a relu unit may stay silent)
    assert np.all(np.ptp(ref["u"], axis=0) > 1e-3)
    assert np.mean(np.max(np.abs(ref["err"]), axis=0) > 1e-3) > 0.9


def test_reference_runs_split_equal_one_run():
    spec, ref = network_and_reference("layered, delays 2 fwd / 3 bwd")
    net = ReferenceNetwork(spec)
    parts = [net.run(n) for n in (700, 1, 1400)]
    for k in ref:
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), ref[k])
