"""Plastic GLE networks in NEST equal the NumPy reference: neuron trajectories, weights and
optimizer states, with exact transposed weights in the backward twins."""

import numpy as np
import pytest

import nest
import random_networks
from conftest import max_abs_difference, random_chunks
from pygle_nest import ReferenceNetwork, nest_backend

N_STEPS = 2101
TOLERANCE = 1e-10
OPTIMIZERS = {
    "plain": {"optimizer": "plain", "eta": 0.5},
    "momentum": {"optimizer": "momentum", "eta": 0.05, "mu": 0.9},
    "adam": {"optimizer": "adam", "eta": 2e-4, "beta1": 0.9, "beta2": 0.99},
}
# bias and tau_m learn with the same optimizer as the weights
UNIT_LEARNING = {
    "plain": {"eta_bias": 0.05, "eta_tau": 0.02},
    "momentum": {"eta_bias": 0.005, "eta_tau": 0.002, "optimizer": "momentum", "mu": 0.9},
    "adam": {"eta_bias": 2e-4, "eta_tau": 2e-4, "optimizer": "adam", "beta1": 0.8, "beta2": 0.995},
}
RECORD = ("u", "r", "v", "err", "bias", "tau_m", "m_bias", "s_bias", "m_tau", "s_tau")


def twins(spec):
    """Indices of the plastic forward connections and, in the same order, of their twins."""
    c = spec.connections
    models = spec.model_list()
    plastic = np.array([models[m].plastic for m in c["model"]])
    channel = np.array([models[m].channel for m in c["model"]])
    fwd = np.flatnonzero(plastic & (channel == 0))
    bwd = np.flatnonzero(plastic & (channel == 1))
    n = spec.n_units
    fwd = fwd[np.argsort(c["pre"][fwd] * n + c["post"][fwd])]
    bwd = bwd[np.argsort(c["post"][bwd] * n + c["pre"][bwd])]
    assert np.array_equal(c["pre"][fwd], c["post"][bwd]) and np.array_equal(c["post"][fwd], c["pre"][bwd])
    return fwd, bwd


def min_delay(spec):
    return int(min(spec.connections["delay"].min(), spec.stream_connections["delay"].min()))


def first_undelivered(done, md):
    """NEST delivers a min_delay slice at the start of the next one: after `done` steps the
    connections have processed the steps before this one."""
    return ((done + md - 1) // md - 1) * md


def run_both(spec, threads, set_at=None, new_weights=None):
    """Simulate in many short calls; at the call boundary after `set_at` steps set the plastic
    weights (forward and twin alike) to new_weights, in NEST and in the reference.

    A weight set after n steps applies from the first undelivered step on, in the reference
    too; the synapse states returned are the reference's at the first undelivered step.
    """
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = nest_backend.create(spec)
    mm = net.multimeter(RECORD)
    ref = ReferenceNetwork(spec)
    plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
    ref_out, done = [], 0
    for c in random_chunks(threads + 10, N_STEPS):
        nest.Simulate(c * spec.resolution)
        done += c
        if set_at is not None and done >= set_at:
            ref_out.append(ref.run(first_undelivered(done, min_delay(spec)) - ref.step_count, RECORD))
            net.set_synapse_states(plastic, weight=new_weights)
            ref.synapses["weight"][plastic] = new_weights
            set_at = None
    ref_out.append(ref.run(first_undelivered(N_STEPS, min_delay(spec)) - ref.step_count, RECORD))
    synapses = {k: v[plastic].copy() for k, v in ref.synapses.items()}
    ref_out.append(ref.run(N_STEPS - ref.step_count, RECORD))
    ref_out = {k: np.concatenate([r[k] for r in ref_out]) for k in RECORD}
    return net, nest_backend.recorded(mm, net.units), synapses, ref_out, plastic


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("delays", [(1, 1), (2, 3)], ids=["delay 1", "fwd 2 bwd 3"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_plastic_network_equals_reference(optimizer, delays, threads):
    spec = random_networks.layered(seed=4, sizes=(8, 8, 8, 4), fwd_delay=delays[0], bwd_delay=delays[1],
                                   stream_delay=delays[0], n_steps=N_STEPS,
                                   plasticity=OPTIMIZERS[optimizer],
                                   unit_learning={**UNIT_LEARNING[optimizer], "tau_m_min": 0.3})
    fwd, bwd = twins(spec)
    new_weights = np.empty(len(spec.connections["pre"]))
    new_weights[fwd] = new_weights[bwd] = np.random.default_rng(5).normal(0, 0.3, len(fwd))
    plastic = np.sort(np.r_[fwd, bwd])
    net, out, ref_synapses, ref_out, plastic = run_both(spec, threads, set_at=1000,
                                                        new_weights=new_weights[plastic])

    diff, scale = max_abs_difference(out, ref_out)
    assert diff <= TOLERANCE, f"neurons: max |NEST - reference| = {diff:.3g} (values up to {scale:.3g})"
    states = net.synapse_states(plastic)
    for k in ("weight", "m", "s"):
        np.testing.assert_allclose(states[k], ref_synapses[k], rtol=0, atol=TOLERANCE, err_msg=k)
    # learning happened, for the weights and for bias and tau_m
    assert np.max(np.abs(states["weight"] - spec.connections["weight"][plastic])) > 0.05
    assert np.ptp(out["tau_m"]) > 0.01 and np.ptp(out["bias"]) > 0.01
    # forward and backward twins: the same weights, bit for bit
    fwd_states, bwd_states = net.synapse_states(fwd), net.synapse_states(bwd)
    for k in ("weight", "m", "s"):
        np.testing.assert_array_equal(fwd_states[k], bwd_states[k])


def test_learning_switched_off_freezes_weights(kernel):
    """learning off between two calls freezes the weights from the next step on: the call's
    last step, delivered at the start of the next call, is still learned from (its own call's
    properties), so the weights after it stay fixed until learning is on again."""
    spec = random_networks.layered(seed=6, sizes=(6, 6, 3), n_steps=400, plasticity=OPTIMIZERS["adam"])
    net = nest_backend.create(spec)
    plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
    nest.Simulate(20.0)
    nest.SetDefaults("plastic", {"learning": False})
    nest.SetDefaults("plastic_backward", {"learning": False})
    assert [e["learning"] for e in nest.GetDefaults("plastic", "earlier_properties")] == [True]
    nest.Simulate(0.1)  # delivers the first call's last step: learned from
    before = net.synapse_states(plastic)["weight"]
    nest.Simulate(20.0)
    frozen = net.synapse_states(plastic)["weight"]
    assert nest.GetDefaults("plastic", "earlier_properties") == []  # all delivered
    nest.SetDefaults("plastic", {"learning": True})
    nest.SetDefaults("plastic_backward", {"learning": True})
    nest.Simulate(20.0)
    after = net.synapse_states(plastic)["weight"]
    np.testing.assert_array_equal(frozen, before)
    assert np.max(np.abs(after - frozen)) > 1e-3


def test_properties_set_between_calls_apply_from_the_next_step(kernel):
    """A learning rate and learning itself changed between two Simulate calls apply to the
    steps after the change, the steps before (delivered in the next call) keep those they ran
    with: NEST in calls of 7 steps with changes in between equals the reference with the same
    changes at the same steps (min_delay 1 and 3 steps)."""
    for delay in (1, 3):
        spec = random_networks.layered(seed=6, sizes=(5, 4, 3), n_steps=120, fwd_delay=delay, bwd_delay=delay,
                                       plasticity=OPTIMIZERS["adam"])
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        net = nest_backend.create(spec)
        ref = ReferenceNetwork(spec)
        plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
        changes = [{"eta": 3e-3}, {"learning": False}, {"learning": True, "eta": 1e-4}, {}, {"eta": 2e-2}]
        for change in changes:
            for model in ("plastic", "plastic_backward"):
                nest.SetDefaults(model, change)
                ref.common[model].update(change)
            nest.Simulate(7 * spec.resolution)
            ref.run(7, record=())
        nest.Simulate(spec.resolution)  # delivers the last call's steps (its own is not yet delivered)
        np.testing.assert_allclose(net.synapse_states(plastic)["weight"], ref.synapses["weight"][plastic],
                                   rtol=0, atol=1e-12)
        moved = np.abs(ref.synapses["weight"][plastic] - spec.connections["weight"][plastic])
        assert np.max(moved) > 1e-3


@pytest.mark.parametrize("fwd_delay, bwd_delay", [(1, 1), (3, 4)])
def test_weight_recorder_records_the_weights_once_per_slice(fwd_delay, bwd_delay):
    """NEST's weight_recorder on gle_synapse and its twin: once per delivered min_delay slice,
    the weight after the slice's updates, stamped with the end of the slice's last step; equal to
    the reference's weights at those steps, and equal for forward and backward (exact W^T)."""
    spec = random_networks.layered(seed=4, sizes=(4, 3, 2), fwd_delay=fwd_delay, bwd_delay=bwd_delay, n_steps=300,
                                   plasticity=OPTIMIZERS["adam"], stream_delay=fwd_delay)
    fwd, bwd = twins(spec)
    n_steps, h, md = 300, spec.resolution, min_delay(spec)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    recorders = {}
    for model in ("plastic", "plastic_backward"):
        recorders[model] = nest.Create("weight_recorder")
        nest.SetDefaults(model, {"weight_recorder": recorders[model]})
    nest.Simulate(n_steps * h)

    ref = ReferenceNetwork(spec)
    weights = []  # after each step's updates
    for _ in range(n_steps):
        ref.run(1, record=())
        weights.append(ref.synapses["weight"].copy())
    weights = np.array(weights)
    ids = np.asarray(net.units.tolist())
    c = spec.connections
    for model, which, source, target in (("plastic", fwd, c["pre"], c["post"]), ("plastic_backward", bwd, c["pre"], c["post"])):
        ev = recorders[model].events
        slices = np.unique(ev["times"])
        # every delivered slice, one record per connection (the last slice is still undelivered)
        ends = np.arange(md, first_undelivered(n_steps, md) + 1, md)
        np.testing.assert_allclose(slices, ends * h, rtol=0, atol=1e-9)
        assert len(ev["times"]) == len(slices) * len(which)
        steps = np.round(ev["times"] / h).astype(int) - 1  # the step whose update the weight follows
        key = {(ids[s], ids[t]): k for k, s, t in zip(which, source[which], target[which])}
        k = np.array([key[(s, t)] for s, t in zip(ev["senders"], ev["targets"])])
        np.testing.assert_allclose(ev["weights"], weights[steps, k], rtol=0, atol=1e-10)
        recorders[model] = (ev["times"], ev["weights"], k)
    assert np.ptp(weights[:, fwd]) > 1e-3
    # W^T: the twin records the same weights at the same times
    (tf, wf, kf), (tb, wb, kb) = recorders["plastic"], recorders["plastic_backward"]
    order_f, order_b = np.lexsort((kf, tf)), np.lexsort((np.searchsorted(bwd, kb), tb))
    np.testing.assert_array_equal(wf[order_f], wb[order_b])
