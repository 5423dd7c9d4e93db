"""Lanes: B copies of a network's dynamics in lockstep through shared connections (the paper's
parallel streams). NEST equals the reference with lanes, every lane's trajectory to 1e-12 without
plasticity and to 1e-10 with it, at B in {1, 3, 16}; forward and backward weights stay bitwise
equal; one lane is the network of one stream exactly."""

import numpy as np
import pytest

import nest
import pygle_nest
import random_networks
from conftest import max_abs_difference
from pygle_nest import NetworkSpec, ReferenceNetwork, nest_backend
from pygle_nest.reference import SHARED_STATES

N_STEPS = 1201
PER_LANE = ("u", "u_breve", "r", "v", "err", "I_fwd", "I_bwd", "g_bias")
ADAM = {"optimizer": "adam", "eta": 2e-3, "beta1": 0.9, "beta2": 0.99}
UNIT_LEARNING = {"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam", "tau_m_min": 0.3}


def run(spec, threads=1, chunks=(N_STEPS,)):
    """NEST: the last lane's trajectories (multimeter), every lane's final states, the synapses."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = nest_backend.create(spec)
    net.units.set({"recorded_lane": spec.lanes - 1})
    mm = net.multimeter(PER_LANE)
    for steps in chunks:
        nest.Simulate(steps * spec.resolution)
    final = net.unit_states(PER_LANE + SHARED_STATES)
    plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
    return nest_backend.recorded(mm, net.units), final, net.synapse_states(plastic), plastic


def reference(spec, steps):
    """The reference's final states and the last lane's trajectories."""
    ref = ReferenceNetwork(spec)
    out = ref.run(steps, record=PER_LANE)
    return ref, {k: v[:, -1] if v.ndim == 3 else v for k, v in out.items()}


@pytest.mark.parametrize("lanes", [1, 3, 16])
@pytest.mark.parametrize("plastic", [False, True])
def test_nest_equals_reference_with_lanes(lanes, plastic):
    spec = random_networks.layered(seed=11, sizes=(8, 8, 6), n_steps=N_STEPS, lanes=lanes,
                                   plasticity=ADAM if plastic else None,
                                   unit_learning=UNIT_LEARNING if plastic else None, fwd_delay=1, bwd_delay=2)
    tolerance = 1e-10 if plastic else 1e-12
    traces, final, synapses, plastic_idx = run(spec, threads=2, chunks=(400, 1, 800))
    ref, ref_traces = reference(spec, N_STEPS)
    diff, scale = max_abs_difference(traces, ref_traces)
    assert scale > 0.5 and diff <= tolerance, f"lane {lanes - 1}: max |NEST - reference| = {diff:.3g}"
    for key in PER_LANE + SHARED_STATES:
        np.testing.assert_allclose(final[key], ref.state[key], rtol=0, atol=tolerance, err_msg=key)
    if lanes > 1:  # the lanes differ
        assert np.ptp(ref.state["u"], axis=0).max() > 0.05
    if plastic:
        # NEST's connections lack the last slice's updates: the reference one step earlier
        before = ReferenceNetwork(spec)
        before.run(N_STEPS - 1, record=())
        for key in ("weight", "m", "s"):
            np.testing.assert_allclose(synapses[key], before.synapses[key][plastic_idx], rtol=0, atol=tolerance,
                                       err_msg=key)
        moved = synapses["weight"] - spec.connections["weight"][plastic_idx]
        assert np.abs(moved).max() > 1e-3 and np.ptp(final["bias"]) > 1e-4


def test_lanes_are_independent_streams():
    """With learning off, lane k of a B-lane network is the one-lane network fed lane k's inputs."""
    spec = random_networks.recurrent(seed=13, n=30, n_steps=500, lanes=4)
    ref, _ = reference(spec, 500)
    assert np.ptp(ref.state["u"], axis=0).max() > 0.05
    for lane in (0, 3):
        single = random_networks.recurrent(seed=13, n=30, n_steps=500, lanes=4)
        single.lanes = 1
        single.lane_inputs = {u: (p, s, v[:, lane:lane + 1]) for u, (p, s, v) in spec.lane_inputs.items()}
        one, _ = reference(single, 500)
        np.testing.assert_array_equal(ref.state["u"][lane], one.state["u"])


@pytest.mark.parametrize("rate_lag", [0, 1])
def test_twins_stay_bitwise_equal_with_lanes(rate_lag):
    spec = random_networks.layered(seed=14, sizes=(6, 6, 4), n_steps=800, lanes=5,
                                   plasticity={**ADAM, "rate_lag": rate_lag}, fwd_delay=1, bwd_delay=3)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    nest.Simulate(800 * spec.resolution)
    c = spec.connections
    fwd = np.flatnonzero(c["model"] == list(spec.synapse_models).index("plastic"))
    bwd = np.flatnonzero(c["model"] == list(spec.synapse_models).index("plastic_backward"))
    key = lambda idx, a, b: np.argsort(c[a][idx] * spec.n_units + c[b][idx])
    w_fwd = net.synapse_states(fwd)["weight"][key(fwd, "pre", "post")]
    w_bwd = net.synapse_states(bwd)["weight"][key(bwd, "post", "pre")]
    np.testing.assert_array_equal(w_fwd, w_bwd)
    ref = ReferenceNetwork(spec)
    ref.run(799, record=())
    np.testing.assert_allclose(net.synapse_states(fwd)["weight"], ref.synapses["weight"][fwd], rtol=0, atol=1e-10)


def test_wrong_wiring_of_lanes_raises(kernel):
    three = nest.Create("gle_neuron", 2, {"lanes": 3})
    one = nest.Create("gle_neuron")
    with pytest.raises(nest.NESTError, match="the source has 3 lanes, the target 1"):
        nest.Connect(three[0], one, syn_spec={"synapse_model": "gle_synapse"})
    for model in ("rate_connection_delayed", "eprop_learning_signal_connection"):
        with pytest.raises(nest.NESTError, match=r"has 3 lanes: NEST's .* carries one lane"):
            nest.Connect(three[0], three[1], syn_spec={"synapse_model": model, "receptor_type": 1})
    lin = nest.Create("lin_rate_ipn")
    with pytest.raises(nest.NESTError, match="has 3 lanes"):
        nest.Connect(three[0], lin, syn_spec={"synapse_model": "rate_connection_delayed"})
    with pytest.raises(nest.NESTError, match=r"recorded_lane must be in \[0, lanes - 1\] = \[0, 2\]; got 3"):
        three.set({"recorded_lane": 3})
    with pytest.raises(nest.NESTError, match="u needs one value per lane \\(3\\); got 2"):
        three[0].set({"u": [0.1, 0.2]})
    with pytest.raises(nest.NESTError, match="all GLE neurons of a kernel must have the same number of lanes"):
        nest.Simulate(1.0)
    nest.ResetKernel()
    pygle_nest.install()
    three = nest.Create("gle_neuron", 2, {"lanes": 3})
    three[0].set({"u": [0.1, 0.2, 0.3]})
    assert list(three[0].get("u")) == [0.1, 0.2, 0.3]
    nest.Connect(three[0], three[1], syn_spec={"synapse_model": "gle_synapse", "delay": 0.1})
    nest.Simulate(1.0)
    # a lane: 24 numbers of state (23 doubles, spikes_out), 6 receptors x 2 steps of input ring,
    # 2 channels x 2 steps
    assert three[0].get("bytes_per_lane") == (24 + 6 * 2 + 2 * 2) * 8
    assert nest.GetConnections(synapse_model="gle_synapse").get("sizeof") == 56  # as with one lane
    with pytest.raises(nest.NESTError, match="lanes can only be set before the first Simulate"):
        three.set({"lanes": 2})
    with pytest.raises(ValueError, match="lanes must be an integer >= 1"):
        NetworkSpec(resolution=0.1, lanes=0)
    spec = NetworkSpec(resolution=0.1, lanes=2)
    spec.add_units(1)
    with pytest.raises(ValueError, match=r"first_step must be >= 0 \(a step of the simulation\); got -1"):
        spec.set_lane_inputs(0, np.zeros((3, 2)), first_step=-1)


def test_lane_inputs_set_between_calls_play_from_the_next_step(kernel):
    """After T steps, lane inputs with lane_inputs_start = T play row 0 in step T, the next one
    (row k in step start + k, as documented); a new set replaces the old one from the next step
    on; rows of steps already run are skipped. I_fwd shows the row read in a step."""
    node = nest.Create("gle_neuron", params={"lanes": 2})

    def steps(n):
        seen = []
        for _ in range(n):
            nest.Simulate(0.1)
            seen.append(list(node.get("I_fwd")))
        return seen

    nest.Simulate(0.3)  # steps 0, 1, 2
    node.set({"lane_inputs": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "lane_inputs_start": 3})
    assert steps(1) == [[1, 2]]  # step 3
    node.set({"lane_inputs": [7.0, 8.0], "lane_inputs_start": 4})  # replaces rows 1 and 2 of the old set
    assert steps(2) == [[7, 8], [0, 0]]  # steps 4, 5
    node.set({"lane_inputs": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0], "lane_inputs_start": 5})  # row 0 (step 5) is past
    assert steps(3) == [[2, 2], [3, 3], [0, 0]]  # steps 6, 7, 8


def test_lane_inputs_held_rows(kernel):
    """lane_inputs_hold: each row of lane inputs is played for that many steps (a target held over
    a sample needs one row); the row read in a step is its forward input I_fwd; 0 is refused."""
    node = nest.Create("gle_neuron", params={"lanes": 2})
    node.set({"lane_inputs": [1.0, 2.0, 3.0, 4.0], "lane_inputs_start": 2, "lane_inputs_hold": 3})
    assert node.get("lane_inputs_steps") == 6
    seen = []
    for _ in range(10):
        nest.Simulate(0.1)  # step n reads the row of step n: rows from step 2 (the third step) on
        seen.append(list(node.get("I_fwd")))
    np.testing.assert_array_equal(seen, [[0, 0], [0, 0]] + [[1, 2]] * 3 + [[3, 4]] * 3 + [[0, 0]] * 2)
    with pytest.raises(nest.NESTError, match=r"lane_inputs_hold \(steps per row of lane_inputs\) must be >= 1"):
        node.set({"lane_inputs_hold": 0})


def test_a_lane_count_mismatch_is_refused_before_the_first_step(kernel):
    """Nodes of different lane counts: connected, refused at Connect with both counts; not
    connected, refused when the simulation is prepared (NEST's Create sets its nodes one after
    another, so Create cannot tell), naming the node, its count and the one set last."""
    three = nest.Create("gle_neuron", 2, {"lanes": 3})
    one = nest.Create("gle_neuron")
    with pytest.raises(nest.NESTError, match="the source has 3 lanes, the target 1"):
        nest.Connect(three[0], one, syn_spec={"synapse_model": "gle_synapse", "delay": 0.1})
    with pytest.raises(nest.NESTError, match=rf"node {three[0].global_id}\) has 3 lane\(s\), a GLE neuron \(set last\) "
                                             r"has 1: all GLE neurons of a kernel must have the same number of lanes"):
        nest.Simulate(1.0)
    assert nest.biological_time == 0.0
    one.set({"lanes": 3})
    nest.Simulate(1.0)


def test_a_static_connection_is_as_small_as_nest_s_rate_connection(kernel):
    """gle_synapse_static (and its twin) keep the weight only: the size of NEST's
    rate_connection_delayed; the plastic one keeps its optimizer states (56 bytes)."""
    a, b = nest.Create("gle_neuron", 2)
    sizes = {}
    for model in ("rate_connection_delayed", "gle_synapse_static", "gle_synapse_static_backward", "gle_synapse"):
        receptor = 1 if model.endswith("backward") else 0
        nest.Connect(a, b, syn_spec={"synapse_model": model, "delay": 0.1, "receptor_type": receptor})
        conn = nest.GetConnections(synapse_model=model)
        sizes[model] = conn.get("sizeof")
        assert "m" not in conn.get() or model == "gle_synapse"
    assert sizes["gle_synapse_static"] == sizes["gle_synapse_static_backward"] == sizes["rate_connection_delayed"]
    assert sizes["gle_synapse"] == 56
    with pytest.raises(nest.NESTError, match="gle_synapse_static_backward: weight must be a finite number"):
        nest.GetConnections(synapse_model="gle_synapse_static_backward").set({"weight": np.inf})
