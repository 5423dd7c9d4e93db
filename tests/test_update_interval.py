"""Accumulate, then apply (``update_interval`` of gle_synapse and gle_neuron): the increments of
K steps are summed and applied in one optimizer step. Against the arithmetic of the rule itself
(weights and biases move by eta times the recorded increments summed over each interval, and
not in between), against the reference with lanes and Adam, with exact W^T, and across a
checkpoint taken in the middle of an interval."""

import numpy as np
import pytest

import nest
import random_networks
from conftest import max_abs_difference
from test_lanes import ADAM, N_STEPS, PER_LANE, UNIT_LEARNING, reference, run
from test_plasticity import twins
from pygle_nest import ReferenceNetwork
from pygle_nest.reference import SHARED_STATES

H = 0.1


def summed_rule(start, increments, on, interval, average=False):
    """The value after each step under the documented rule, step by step: increments of the
    steps where learning is on are summed, and the sum (average: the sum / interval) is applied
    in the steps (on) whose number k = n + 1 is a multiple of the interval."""
    value, total, out = start, 0.0, []
    for n, (g, active) in enumerate(zip(increments, on)):
        if active:
            total += g
            if (n + 1) % interval == 0:
                value, total = value + (total / interval if average and interval > 1 else total), 0.0
        out.append(value)
    return np.array(out)


@pytest.mark.parametrize("interval, average", [(1, False), (5, False), (5, True)])
def test_weights_and_biases_move_by_the_summed_increments(kernel, interval, average):
    """A plain NEST script: two driven units into an output unit through gle_synapse (plain
    SGD), learning on, then off for 9 steps (as while a Trainer evaluates), then on again.
    Recorded every step: the rates r_j and the output's error e. The weight moves by eta times
    the sums of h e(m) r_j(m) over the steps learned from, in the steps whose number is a
    multiple of K, and not in between; the output's bias likewise with eta_bias h e(m); with
    update_average, by their means (NEST e-prop's batch average)."""
    eta, eta_bias, calls = 0.3, 0.2, (23, 9, 28)
    pre = nest.Create("gle_neuron", 2, {"tau_m": 1.0, "tau_r": 0.5, "activation": 1, "bias": [0.8, -0.5]})
    post = nest.Create("gle_neuron", 1, {"tau_m": 1.0, "tau_r": 1.0, "activation": 1, "beta": 1.0,
                                          "eta_bias": eta_bias, "update_interval": interval,
                                          "update_average": average})
    target = nest.Create("step_rate_generator", params={"amplitude_times": [0.5], "amplitude_values": [0.7]})
    nest.Connect(target, post, syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": 2})
    recorder = nest.Create("weight_recorder")
    nest.SetDefaults("gle_synapse", {"eta": eta, "update_interval": interval, "update_average": average,
                                     "weight_recorder": recorder})
    nest.Connect(pre, post, syn_spec={"synapse_model": "gle_synapse", "weight": 0.4, "delay": H})
    mm = nest.Create("multimeter", params={"record_from": ["r", "err", "bias"], "interval": H})
    nest.Connect(mm, pre + post)
    for k, steps in enumerate(calls):
        on = k != 1
        nest.SetDefaults("gle_synapse", {"learning": on})
        post.set({"eta_bias": eta_bias if on else 0.0})
        nest.Simulate(steps * H)

    ev = mm.events
    steps = np.round(ev["times"] / H).astype(int) - 1  # the step after which each row was recorded
    by_step = {(s, i): (r, e, b) for s, i, r, e, b in zip(steps, ev["senders"], ev["r"], ev["err"], ev["bias"])}
    recorded = steps.max() + 1  # the multimeter has the steps before the last one
    assert recorded == sum(calls) - 1
    ids = pre.tolist() + post.tolist()
    rate = np.array([[by_step[(n, i)][0] for i in ids[:2]] for n in range(recorded)])
    error = np.array([by_step[(n, ids[2])][1] for n in range(recorded)])
    bias = np.array([by_step[(n, ids[2])][2] for n in range(recorded)])
    # units and connections learn from the steps of the calls with learning on: NEST delivers a
    # call's last step at the start of the next, and the connection learns from it with the
    # common properties of the call that simulated it
    n = np.arange(recorded)
    unit_on = synapse_on = (n < calls[0]) | (n >= calls[0] + calls[1])
    np.testing.assert_allclose(bias, summed_rule(0.0, eta_bias * H * error, unit_on, interval, average), rtol=1e-12,
                               atol=1e-15)
    wr = recorder.events
    w_steps = np.round(wr["times"] / H).astype(int) - 1
    for k, source in enumerate(ids[:2]):
        mine = wr["senders"] == source
        want = summed_rule(0.4, eta * H * error * rate[:, k], synapse_on, interval, average)
        np.testing.assert_allclose(wr["weights"][mine], want[w_steps[mine]], rtol=1e-12, atol=1e-15)
    assert np.ptp(bias) > 1e-3 and len(np.unique(wr["weights"])) > 3
    if interval > 1:  # constant within intervals
        assert len(np.unique(bias)) <= recorded // interval + 1


@pytest.mark.parametrize("lanes", [1, 3])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_accumulating_network_equals_reference(lanes, optimizer):
    """update_interval 7 for every connection and unit (Adam: its step counts the optimizer
    steps), at 2 threads in three Simulate calls that end within intervals: NEST equals the
    reference to 1e-10; forward and backward weights stay bitwise equal. Momentum with the
    interval's mean (update_average), Adam with its sum."""
    learning = {"momentum": {"optimizer": "momentum", "eta": 0.14, "mu": 0.9}, "adam": ADAM}[optimizer]
    average = optimizer == "momentum"
    units = {**UNIT_LEARNING, "optimizer": optimizer, "update_interval": 7, "update_average": average}
    spec = random_networks.layered(seed=11, sizes=(8, 8, 6), n_steps=N_STEPS, lanes=lanes,
                                   plasticity={**learning, "update_interval": 7, "update_average": average},
                                   unit_learning=units,
                                   fwd_delay=1, bwd_delay=2)
    traces, final, synapses, plastic = run(spec, threads=2, chunks=(400, 3, 798))
    ref, ref_traces = reference(spec, N_STEPS)
    diff, _ = max_abs_difference(traces, ref_traces)
    assert diff <= 1e-10, f"max |NEST - reference| = {diff:.3g}"
    for key in PER_LANE + SHARED_STATES:
        np.testing.assert_allclose(final[key], ref.state[key], rtol=0, atol=1e-10, err_msg=key)
    before = ReferenceNetwork(spec)  # NEST's connections lack the last slice's updates
    before.run(N_STEPS - 1, record=())
    for key in ("weight", "m", "s", "g_sum"):
        np.testing.assert_allclose(synapses[key], before.synapses[key][plastic], rtol=0, atol=1e-10, err_msg=key)
    assert np.abs(synapses["g_sum"]).max() > 0 and np.abs(final["g_bias_sum"]).max() > 0  # mid-interval
    assert np.abs(synapses["weight"] - spec.connections["weight"][plastic]).max() > 1e-3
    fwd, bwd = twins(spec)
    index = {k: i for i, k in enumerate(plastic)}
    for key in ("weight", "m", "s", "g_sum"):
        np.testing.assert_array_equal(synapses[key][[index[k] for k in fwd]], synapses[key][[index[k] for k in bwd]])
