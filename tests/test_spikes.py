"""GLE neurons in spiking NEST networks: spikes in through a synaptic trace, Poisson spikes out.

References independent of the module: the trace's closed form (a sum of decaying exponentials),
Poisson statistics of the emitted counts against the integrated rate, NEST's own spiking models
as sources and targets; and the NumPy reference with spike trains to round-off."""

import numpy as np
import pytest

import nest
import pygle_nest
from conftest import max_abs_difference, random_chunks, run_in_nest
from pygle_nest import ACTIVATIONS, NetworkSpec, ReferenceNetwork, RECEPTORS
from pygle_nest.reference import spike_mean

NESTError = nest.NESTError
H = 0.1
SPIKES = RECEPTORS["spikes"]


@pytest.mark.parametrize("tau_s", [0.0, 0.35, 2.0])
def test_spike_trace_is_a_sum_of_exponentials(kernel, tau_s):
    """Spikes of known times, weights and multiplicities (two sources, delays 1 and 2.5 ms):
    s_in(t) = sum_k w_k m_k / tau_s exp(-(t - t_k - d_k) / tau_s) for t >= t_k + d_k, and
    w_k m_k / h in the step that ends at t_k + d_k when tau_s = 0; I_fwd includes it."""
    nest.resolution = H
    gle = nest.Create("gle_neuron", params={"tau_s": tau_s, "tau_m": 1.0, "tau_r": 1.0})
    trains = [([1.0, 1.5, 4.2], [1, 2, 1], 0.5, 1.0), ([2.0, 2.1, 6.0], [3, 1, 1], -0.8, 2.5)]
    for times, counts, weight, delay in trains:
        sg = nest.Create("spike_generator", params={"spike_times": times, "spike_multiplicities": counts})
        nest.Connect(sg, gle, syn_spec={"weight": weight, "delay": delay, "receptor_type": SPIKES})
    mm = nest.Create("multimeter", params={"record_from": ["s_in", "I_fwd"], "interval": H})
    nest.Connect(mm, gle)
    nest.Simulate(12.0)
    t, s_in = mm.events["times"], mm.events["s_in"]
    expected = np.zeros_like(t)
    for times, counts, weight, delay in trains:
        for tk, m in zip(times, counts):
            arrival = tk + delay
            if tau_s == 0:
                expected += np.where(np.isclose(t, arrival), weight * m / H, 0.0)
            else:
                expected += np.where(t >= arrival - 1e-9, weight * m / tau_s * np.exp(-(t - arrival) / tau_s), 0.0)
    assert np.count_nonzero(expected) >= 6
    np.testing.assert_allclose(s_in, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(mm.events["I_fwd"], s_in)  # no rate input here


def test_mean_trace_of_a_poisson_train_is_weight_times_rate(kernel):
    """A Poisson train of rate nu into the trace: time average w nu (nu per ms)."""
    nest.resolution = H
    nest.rng_seed = 11
    gle = nest.Create("gle_neuron", params={"tau_s": 5.0})
    pg = nest.Create("poisson_generator", params={"rate": 2000.0})  # 2 per ms
    nest.Connect(pg, gle, syn_spec={"weight": 0.25, "receptor_type": SPIKES})
    mm = nest.Create("multimeter", params={"record_from": ["s_in"], "interval": H})
    nest.Connect(mm, gle)
    nest.Simulate(20000.0)
    s = mm.events["s_in"][1000:]
    # the trace's autocorrelation time is tau_s: about len(s) h / (2 tau_s) independent samples
    stderr = np.std(s) / np.sqrt(len(s) * H / (2 * 5.0))
    assert abs(np.mean(s) - 0.5) < 5 * stderr
    assert stderr < 0.01


def test_spiking_models_drive_gle_neurons_and_gle_neurons_drive_them(kernel):
    """poisson_generator, parrot_neuron and iaf_psc_alpha into gle_neuron with NEST's
    static_synapse; gle_neuron's Poisson spikes into iaf_psc_alpha, which fires from them."""
    nest.resolution = H
    gle = nest.Create("gle_neuron", params={"tau_s": 3.0, "rate_scale": 400.0, "activation": ACTIVATIONS["relu"],
                                             "tau_m": 2.0, "tau_r": 2.0})
    pg = nest.Create("poisson_generator", params={"rate": 1000.0})
    parrot = nest.Create("parrot_neuron")
    iaf_in = nest.Create("iaf_psc_alpha", params={"I_e": 400.0})  # fires regularly
    nest.Connect(pg, parrot)
    nest.Connect(parrot, gle, syn_spec={"synapse_model": "static_synapse", "weight": 1.0, "receptor_type": SPIKES})
    nest.Connect(iaf_in, gle, syn_spec={"weight": 0.5, "receptor_type": SPIKES})
    iaf_out = nest.Create("iaf_psc_alpha")
    nest.Connect(gle, iaf_out, syn_spec={"synapse_model": "static_synapse", "weight": 300.0, "delay": 1.0})
    recorders = nest.Create("spike_recorder", 3)
    nest.Connect(iaf_in, recorders[0])
    nest.Connect(gle, recorders[1])
    nest.Connect(iaf_out, recorders[2])
    nest.Simulate(2000.0)
    n_in, n_gle, n_out = recorders.get("n_events")
    assert n_in > 50 and n_gle > 500 and n_out > 20
    # the trace's mean: 1 per ms from the parrot, 0.5 x the iaf's rate; r = relu(trace) at steady state
    expected_r = 1.0 + 0.5 * n_in / 2000.0
    assert abs(n_gle / (400.0 * 2.0) - expected_r) < 0.15 * expected_r


def test_wrong_spike_wiring_is_refused(kernel):
    gle, other = nest.Create("gle_neuron", 2)
    sg = nest.Create("spike_generator")
    with pytest.raises(NESTError, match=r"spikes go to the receptor spikes \(receptor_type 5\), not to receptor 1"):
        nest.Connect(sg, gle, syn_spec={"receptor_type": 1})
    with pytest.raises(NESTError, match=r"receptor 5 \(spikes\) takes spikes only, not rates"):
        nest.Connect(other, gle, syn_spec={"synapse_model": "gle_synapse", "receptor_type": 5})
    with pytest.raises(NESTError, match=r"receptor 5 \(spikes\) takes spikes only, not rates"):
        nest.Connect(nest.Create("step_rate_generator"), gle,
                     syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": 5})
    with pytest.raises(NESTError, match="tau_s >= 0 ms"):
        gle.set({"tau_s": -1.0})
    with pytest.raises(NESTError, match="rate_scale >= 0"):
        gle.set({"rate_scale": -5.0})


def test_spikes_carry_one_lane(kernel):
    many = nest.Create("gle_neuron", params={"lanes": 3})
    with pytest.raises(NESTError, match="has 3 lanes: a spike connection carries one lane; spikes come from GLE "
                                        "neurons of one lane"):
        nest.Connect(many, nest.Create("iaf_psc_alpha"))
    # spikes in reach every lane alike: sent at 1 ms with a delay of 1 ms, read in the step ending at 2 ms
    sg = nest.Create("spike_generator", params={"spike_times": [1.0]})
    nest.Connect(sg, many, syn_spec={"weight": 2.0, "receptor_type": SPIKES})
    nest.Simulate(1.9)
    np.testing.assert_array_equal(many.get("s_in"), [0.0] * 3)
    nest.Simulate(0.1)
    np.testing.assert_array_equal(many.get("s_in"), [2.0 / nest.resolution] * 3)


def test_spikes_out_are_refused_on_nodes_of_more_lanes(kernel):
    """rate_scale > 0 on a node of several lanes would draw spikes in every lane and send none:
    refused, whichever of the two is set first; the node stays as it was."""
    node = nest.Create("gle_neuron", params={"lanes": 3})
    with pytest.raises(nest.NESTError, match=r"rate_scale > 0 \(spikes out\) needs a node of one lane; this one has 3"):
        node.set({"rate_scale": 10.0})
    assert node.get("rate_scale") == 0.0
    one = nest.Create("gle_neuron", params={"rate_scale": 10.0})
    with pytest.raises(nest.NESTError, match="has 2 lanes"):
        one.set({"lanes": 2})
    assert one.get("lanes") == 1


def test_lanes_take_spike_inputs_of_their_own(kernel):
    """lane_inputs on the receptor spikes: each lane its own summed spike weights per step."""
    nest.resolution = H
    gle = nest.Create("gle_neuron", params={"lanes": 2, "tau_s": 1.0})
    gle.set({"lane_inputs": [1.0, 0.0, 0.0, 3.0], "lane_inputs_port": SPIKES, "lane_inputs_start": 1})
    nest.Simulate(0.3)
    np.testing.assert_allclose(gle.get("s_in"), [1.0 * np.exp(-H), 3.0], rtol=1e-15)


def _poisson_run(seed, steps, rate_scale=3000.0):
    """A unit whose rate follows a slow sine (through a step_rate_generator), emitting spikes."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    pygle_nest.install()
    nest.resolution = H
    nest.rng_seed = seed
    gle = nest.Create("gle_neuron", params={"rate_scale": rate_scale, "tau_m": 1.0, "tau_r": 1.0, "bias": 0.4})
    t = np.arange(steps) * H
    drive = nest.Create("step_rate_generator", params={"amplitude_times": np.round(t[1:] + H, 9).tolist()[::10],
                                                       "amplitude_values": (0.8 * np.sin(2 * np.pi * t[1:] / 50.0))
                                                       .tolist()[::10]})
    nest.Connect(drive, gle, syn_spec={"synapse_model": "rate_connection_delayed"})
    mm = nest.Create("multimeter", params={"record_from": ["r"], "interval": H})
    nest.Connect(mm, gle)
    sr = nest.Create("spike_recorder")
    nest.Connect(gle, sr)
    nest.Simulate(steps * H)
    return mm.events["times"], mm.events["r"], sr.events["times"]


def test_poisson_spike_counts_follow_the_integrated_rate(kernel):
    """Inhomogeneous Poisson output: the count over 20 s, and over each phase bin of the sine,
    against sum_n rate_scale max(r(n), 0) h (the reference's spike_mean), within 4.5 sigma; the
    counts per step are Poisson (variance = mean). The spikes of step n carry the time (n + 1) h,
    as the recorded r of that step."""
    steps = 200000
    t, r, spikes = _poisson_run(seed=5, steps=steps)
    assert r.min() < -0.3 and r.max() > 1.0  # clipped at 0 part of the time
    mean = spike_mean(r, 3000.0, H)
    assert abs(len(spikes) - mean.sum()) < 4.5 * np.sqrt(mean.sum())
    steps_of = np.round(spikes / H).astype(int)
    index = np.round(t / H).astype(int)
    counts = np.bincount(steps_of, minlength=index.max() + 1)[index]
    assert counts[mean == 0].sum() == 0  # no spikes where r <= 0
    phase = (t % 50.0) // 5.0
    for k in range(10):
        expected = mean[phase == k].sum()
        assert abs(counts[phase == k].sum() - expected) < 4.5 * np.sqrt(expected) + 1, k
    busy = mean > 0.2  # where a Bernoulli draw would give var / mean = 1 - mean < 0.8
    assert abs(np.var(counts[busy]) / np.mean(counts[busy]) - 1) < 0.05


def test_the_same_seed_gives_the_same_spikes_and_another_seed_others(kernel):
    a = _poisson_run(seed=3, steps=5000)[2]
    b = _poisson_run(seed=3, steps=5000)[2]
    c = _poisson_run(seed=4, steps=5000)[2]
    np.testing.assert_array_equal(a, b)
    assert len(a) > 50 and not np.array_equal(a, c)


def spiking_spec(lanes=1, tau_s=(0.0, 0.35, 2.0), seed=0, n_steps=2000, learning=True):
    """Spike trains (random times, weights, delays 1..3 steps, multiplicities) into a first layer
    of units with the given trace time constants; a tanh layer; a squared-error output with a
    target stream; Adam on the weights, bias learning (learning=False: fixed weights)."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=H, lanes=lanes)
    model = spec.add_synapse_model("plastic", optimizer="adam", eta=2e-3, rate_lag=1, learning=learning)
    n_in = 3 * len(tau_s)
    first = spec.add_units(n_in, tau_m=1.0, tau_r=1.0, tau_s=np.repeat(tau_s, 3))
    hidden = spec.add_units(5, tau_m=np.array([1.0, 0.5, 1.0, 2.0, 1.0]), tau_r=np.array([1.0, 1.0, 0.4, 2.0, 1.0]),
                            activation="tanh", eta_bias=1e-3)
    out = spec.add_units(2, tau_m=1.0, tau_r=1.0, beta=0.5)
    for unit in first:
        times = np.unique(rng.integers(1, n_steps - 5, rng.integers(10, 60))) * H
        spec.add_spike_train(unit, times, weight=rng.normal(0, 0.2), delay=int(rng.integers(1, 4)),
                             multiplicities=rng.integers(1, 3, len(times)))
    for below, above in ((first, hidden), (hidden, out)):
        pre, post = np.meshgrid(below, above, indexing="ij")
        w = rng.normal(0, 1 / np.sqrt(len(below)), pre.size)
        spec.connect(pre.ravel(), post.ravel(), w, synapse=model)
        spec.connect(post.ravel(), pre.ravel(), w, synapse=model + "_backward", port="bwd")
    t = np.arange(n_steps) * H
    targets = spec.add_streams(np.sin(np.array([[0.7], [1.3]]) * t))
    spec.connect_stream(targets, out, 1.0, port="target")
    return spec


@pytest.mark.parametrize("learning, tolerance", [(False, 1e-12), (True, 1e-10)])
@pytest.mark.parametrize("threads, split", [(1, False), (2, True)])
def test_spike_input_network_equals_the_reference(threads, split, learning, tolerance):
    """NEST = reference with spike trains into traces of three time constants, without learning
    (1e-12) and with it (1e-10), at 1 and 2 threads, in one Simulate and in short ones."""
    n_steps = 2000
    spec = spiking_spec(n_steps=n_steps, learning=learning)
    if not learning:
        spec.units["eta_bias"][:] = 0.0
    ref = ReferenceNetwork(spec).run(n_steps)
    out = run_in_nest(spec, n_steps, threads=threads, chunks=random_chunks(7, n_steps) if split else None)
    diff, scale = max_abs_difference(out, ref)
    assert np.ptp(ref["s_in"]) > 1.0 and (np.ptp(ref["bias"]) > 1e-4) == learning
    assert diff <= tolerance * max(1.0, scale), f"max |NEST - reference| = {diff:.3g} (values up to {scale:.3g})"


def test_spike_input_network_with_lanes_equals_the_reference():
    n_steps = 600
    spec = spiking_spec(lanes=3, n_steps=n_steps)
    first = np.flatnonzero(spec.units["tau_s"] == 2.0)[0]
    spec.set_lane_inputs(first, np.random.default_rng(1).normal(0, 1, (n_steps, 3)), port="spikes")
    ref = ReferenceNetwork(spec).run(n_steps)
    out = run_in_nest(spec, n_steps, threads=2)
    diff, scale = max_abs_difference(out, {k: v[:, 0] if v.ndim == 3 else v for k, v in ref.items()})  # lane 0
    assert diff <= 1e-10 * max(1.0, scale), diff


def test_spike_trains_are_checked():
    spec = NetworkSpec(resolution=H)
    unit = spec.add_units(1)[0]
    with pytest.raises(ValueError, match=r"spike times must be > 0 ms and on the grid of the resolution \(0.1 ms\)"):
        spec.add_spike_train(unit, [0.0, 1.0])
    with pytest.raises(ValueError, match="on the grid"):
        spec.add_spike_train(unit, [0.15])
    with pytest.raises(ValueError, match="multiplicities must be integers >= 1"):
        spec.add_spike_train(unit, [1.0], multiplicities=[0])
    with pytest.raises(ValueError, match="delay must be an integer >= 1 step"):
        spec.add_spike_train(unit, [1.0], delay=0)


def test_a_resumed_simulation_with_spike_trains_continues_identically(tmp_path):
    """Checkpoint after 30.3 ms with spikes on their way (delays up to 3 steps) and traces
    decaying; in a fresh kernel the trains go on from there: the same trajectories and states."""
    from pygle_nest import checkpoint, nest_backend

    def build():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        net = nest_backend.create(spiking_spec(n_steps=800))
        return net, net.multimeter(["r", "s_in"])

    net, mm = build()
    nest.Simulate(30.3)
    checkpoint.save(net, tmp_path / "ckpt")
    nest.Simulate(40.0)
    uninterrupted = checkpoint.state(net), nest_backend.recorded(mm, net.units)
    net, mm = build()
    checkpoint.load(net, tmp_path / "ckpt")
    nest.Simulate(40.0)
    resumed = checkpoint.state(net), nest_backend.recorded(mm, net.units)
    for key in uninterrupted[0]:
        np.testing.assert_array_equal(uninterrupted[0][key], resumed[0][key], err_msg=key)
    for key in ("r", "s_in"):
        np.testing.assert_array_equal(uninterrupted[1][key][303:], resumed[1][key][:len(uninterrupted[1][key]) - 303])
    assert np.count_nonzero(np.diff(resumed[1]["s_in"], axis=0) > 0) > 20  # spikes arrived after the resume


def test_stdp_from_a_gle_neuron_to_a_spiking_one_and_not_back(kernel):
    """NEST's stdp_synapse starts at a GLE neuron (its spikes are the presynaptic ones) and learns;
    it cannot end at one (a GLE neuron keeps no spike history)."""
    nest.resolution = H
    gle = nest.Create("gle_neuron", params={"rate_scale": 300.0, "bias": 1.0, "tau_m": 1.0, "tau_r": 1.0})
    iaf = nest.Create("iaf_psc_alpha", params={"I_e": 300.0})
    nest.Connect(gle, iaf, syn_spec={"synapse_model": "stdp_synapse", "weight": 50.0})
    with pytest.raises(NESTError):
        nest.Connect(iaf, gle, syn_spec={"synapse_model": "stdp_synapse", "receptor_type": SPIKES})
    nest.Simulate(1000.0)
    assert nest.GetConnections(gle, iaf).get("weight") != 50.0
