"""The explicit microcircuit mode: representation and error neurons as separate NEST neurons.
NEST equals the reference of the same network; with gamma = 0 and learning off it gives the
compact mode's trajectories exactly; with learning on it differs from the compact mode only
by the documented one-step lag of the learning pairs."""

import numpy as np
import pytest

import nest
from pygle_nest import ACTIVATIONS, ReferenceNetwork, nest_backend
from pygle_nest.builder import Group, Network

STEPS = 800


def network(microcircuit, gamma=0.0, learning=True, activation="tanh", seed=3, rate_lag=0):
    net = Network(resolution=0.1, gamma=gamma, seed=seed, microcircuit=microcircuit)
    x = net.input("x", 2)
    h1 = net.layer("h1", [Group(3, 1.0, 1.0), Group(2, 1.0, 0.4), Group(2, 0.5, 1.0)], activation=activation,
                   eta_bias=1e-3 if learning else 0.0, optimizer="adam")
    h2 = net.layer("h2", [Group(4, 1.0, 0.5)], activation=activation)
    y = net.output("y", 3, loss="cross_entropy", beta=0.5)
    # the same-step pairing in both modes by default (the builder's default is rate_lag 1)
    net.project(x, h1, optimizer="adam", eta=1e-3, rate_lag=rate_lag, learning=learning)
    net.project(h1, h2, optimizer="adam", eta=1e-3, rate_lag=rate_lag, learning=learning, feedback_delay=0.2)
    net.project(h2, y, optimizer="momentum", eta=3e-3, rate_lag=rate_lag, learning=learning)
    t = np.arange(STEPS) * 0.1
    net.spec.streams[net.inputs["x"][0]] = np.sin(t)
    net.spec.streams[net.inputs["x"][1]] = np.cos(0.7 * t)
    for k in range(3):
        net.spec.streams[net.targets["y"][k]] = (np.floor(t / 8) % 3 == k).astype(float)
    return net


def run_nest(net):
    built = net.build()
    mm = built.multimeter(["r", "err"])
    nest.Simulate(STEPS * 0.1)
    forward = np.concatenate([p.forward for p in net.projections])
    return nest_backend.recorded(mm, built.units), built.synapse_states(forward)["weight"]


def test_graph(kernel):
    net = network(True)
    net.build()
    h1, y = net.populations["h1"], net.populations["y"]
    assert len(h1.nodes) == len(h1.error_nodes) == 7
    assert set(h1.nodes.get("role")) == {1} and set(h1.error_nodes.get("role")) == {2}
    assert list(h1.error_nodes.get("tau_r")) == list(h1.nodes.get("tau_r"))
    assert set(y.error_nodes.get("beta")) == {0.5} and set(y.nodes.get("beta")) == {0.0}
    assert net.populations["x"].error_nodes is None
    # each unit's two links, and the backward twins between error neurons only
    links = nest.GetConnections(source=h1.nodes, target=h1.error_nodes)
    assert len(links) == 7 and set(links.get("synapse_model")) == {"rate_connection_delayed"}
    assert len(nest.GetConnections(source=h1.error_nodes, target=h1.nodes)) == 7
    model = net.projections[1].model
    assert nest.GetDefaults(model)["synapse_model"] == model
    assert len(nest.GetConnections(source=net.populations["h2"].error_nodes, target=h1.error_nodes,
                                   synapse_model=model + "_backward")) == 28
    assert len(nest.GetConnections(synapse_model=net.projections[0].model + "_backward")) == 0  # no input errors


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_microcircuit_equals_reference(kernel, gamma):
    net = network(True, gamma=gamma)
    got, weights = run_nest(net)
    ref = ReferenceNetwork(net.spec)
    expected = ref.run(STEPS, record=("r", "err"))
    forward = np.concatenate([p.forward for p in net.projections])
    for key in got:
        np.testing.assert_allclose(got[key], expected[key][:STEPS - 1], rtol=0, atol=1e-10, err_msg=key)
    # NEST's weights miss the last (undelivered) slice: compare with the reference one step earlier
    ref_before = ReferenceNetwork(net.spec)
    ref_before.run(STEPS - 1, record=())
    np.testing.assert_allclose(weights, ref_before.synapses["weight"][forward], rtol=0, atol=1e-10)
    for p in net.projections[1:]:  # exact W^T: the twins' weights are bitwise those of the forward connections
        np.testing.assert_array_equal(net.nest.synapse_states(p.backward)["weight"],
                                      net.nest.synapse_states(p.forward)["weight"])
    assert np.ptp(weights - net.spec.connections["weight"][forward]) > 1e-3


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_microcircuit_equals_compact_without_learning(activation):
    """gamma = 0, learning off: rates and errors of every unit are those of the compact mode.
    Bit for bit where the error neuron's phi' from the rate is the compact unit's formula; for
    softplus (1 - exp(-r) against the logistic sigmoid of u_breve) to round-off."""
    tolerance = 1e-12 if activation == "softplus" else 0.0
    compact, micro = network(False, learning=False, activation=activation), network(True, learning=False,
                                                                                   activation=activation)
    c, m = ReferenceNetwork(compact.spec).run(STEPS, ("r", "err")), ReferenceNetwork(micro.spec).run(STEPS, ("r", "err"))
    for name in ("h1", "h2", "y"):
        cp, mp = compact.populations[name], micro.populations[name]
        np.testing.assert_array_equal(m["r"][:, mp.indices], c["r"][:, cp.indices])
        np.testing.assert_allclose(m["err"][:, mp.error_indices], c["err"][:, cp.indices], rtol=0, atol=tolerance)
        # the representation neuron's error is its error neuron's, one step later
        np.testing.assert_array_equal(m["err"][1:, mp.indices], m["err"][:-1, mp.error_indices])
    assert np.ptp(c["err"]) > 1e-3


def test_microcircuit_learns_like_compact_one_step_later():
    """Learning on: the weight changes of both modes agree to a few percent (the lag is one step
    of 800); a one-step shift of the compact mode's learning pairs alone is the difference."""
    compact, micro = network(False), network(True)
    rc, rm = ReferenceNetwork(compact.spec), ReferenceNetwork(micro.spec)
    rc.run(STEPS, record=())
    rm.run(STEPS, record=())
    fc = np.concatenate([p.forward for p in compact.projections])
    fm = np.concatenate([p.forward for p in micro.projections])
    dc = rc.synapses["weight"][fc] - compact.spec.connections["weight"][fc]
    dm = rm.synapses["weight"][fm] - micro.spec.connections["weight"][fm]
    assert np.abs(dc).max() > 1e-2
    assert np.abs(dm - dc).max() < 0.05 * np.abs(dc).max()
    assert np.corrcoef(dc, dm)[0, 1] > 0.99


def test_microcircuit_rejects_tau_learning():
    net = Network(microcircuit=True)
    with pytest.raises(ValueError, match="eta_tau must be 0 in the microcircuit mode"):
        net.layer("h", [Group(2, 1.0, 1.0)], eta_tau=1e-3)


@pytest.mark.parametrize("rate_lag", [0, 1])
def test_microcircuit_with_lanes_equals_reference(kernel, rate_lag):
    """The microcircuit with 3 lanes, each with inputs of its own (lane inputs), learning with
    Adam and momentum, with both pairings (rate_lag 1: the error of step n - 1 with the rate of
    n - 2, the forward connections keeping that rate per lane): NEST equals the reference
    (rates, errors, weights), and the twins' weights are bitwise those of the forward
    connections; the lanes differ."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = Network(resolution=0.1, gamma=0.3, seed=3, microcircuit=True, lanes=3)
    x = net.input("x", 2)
    h = net.layer("h", [Group(3, 1.0, 1.0), Group(2, 1.0, 0.4)], activation="tanh", eta_bias=1e-3, optimizer="adam")
    y = net.output("y", 3, loss="cross_entropy", beta=0.5)
    net.project(x, h, optimizer="adam", eta=1e-3, rate_lag=rate_lag)
    net.project(h, y, optimizer="momentum", eta=3e-3, rate_lag=rate_lag)
    t = np.arange(STEPS) * 0.1
    for k, unit in enumerate(x.indices):
        net.spec.set_lane_inputs(unit, np.stack([np.sin((0.5 + lane + k) * t) for lane in range(3)], 1), first_step=0)
    for k, unit in enumerate(y.error_indices):
        net.spec.set_lane_inputs(unit, np.stack([(np.floor(t / 8 + lane) % 3 == k) * 1.0 for lane in range(3)], 1),
                                 port="target", first_step=0)
    built = net.build()
    mm = built.multimeter(["r", "err"])
    nest.Simulate(STEPS * 0.1)
    ref = ReferenceNetwork(net.spec)
    expected = ref.run(STEPS, record=("r", "err"))
    recorded = nest_backend.recorded(mm, built.units)  # lane 0 every step; all lanes at the end
    for key in recorded:
        np.testing.assert_allclose(recorded[key], expected[key][:STEPS - 1, 0], rtol=0, atol=1e-10, err_msg=key)
    final = built.unit_states(("r", "err"))
    for key in final:
        np.testing.assert_allclose(final[key], ref.state[key], rtol=0, atol=1e-10, err_msg=key)
    assert np.ptp(ref.state["r"][:, h.indices], axis=0).max() > 1e-3  # the lanes differ
    before = ReferenceNetwork(net.spec)
    before.run(STEPS - 1, record=())
    for p in net.projections:
        np.testing.assert_allclose(built.synapse_states(p.forward)["weight"], before.synapses["weight"][p.forward],
                                   rtol=0, atol=1e-10)
    for p in net.projections[1:]:
        np.testing.assert_array_equal(built.synapse_states(p.backward)["weight"],
                                      built.synapse_states(p.forward)["weight"])
    assert np.ptp(before.synapses["weight"] - net.spec.connections["weight"]) > 1e-3


@pytest.mark.parametrize("rate_lag", [0, 1])
def test_a_resumed_microcircuit_continues_identically(tmp_path, rate_lag):
    """The lagged connections pair the value of the step before, which the checkpoint's last_sent
    carries into the fresh kernel, and with rate_lag 1 the forward ones the rate of two steps
    before, which they keep (held) and the checkpoint with them."""
    from pygle_nest import checkpoint

    def build():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        return network(True, gamma=0.3, rate_lag=rate_lag).build()

    net = build()
    nest.Simulate(30.3)
    checkpoint.save(net, tmp_path / "mc")
    nest.Simulate(40.0)
    uninterrupted = checkpoint.state(net)
    net = build()
    checkpoint.load(net, tmp_path / "mc")
    nest.Simulate(40.0)
    resumed = checkpoint.state(net)
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    held = np.concatenate([v.ravel() for k, v in uninterrupted.items() if k.endswith("_held")])
    assert (np.nanmax(held, initial=0) - np.nanmin(held, initial=0) > 0) == (rate_lag == 1)
def test_phi_prime_after_set_status_is_the_reference_s(kernel):
    """After a SetStatus, a representation neuron's phi_prime is phi'(u_breve) (0.25 for the
    sigmoid at 0) and an error neuron's, which has no representation part, stays what the
    reference keeps (1); equal to the reference's initial state, per role."""
    spec = network(True, activation="sigmoid").spec
    nest_net = nest_backend.create(spec)
    nest_net.units.set({"u": 0.0})
    np.testing.assert_array_equal(nest_net.unit_states(("phi_prime",))["phi_prime"],
                                  ReferenceNetwork(spec).state["phi_prime"])
    roles = spec.units["role"]
    sigmoid = (spec.units["activation"] == ACTIVATIONS["sigmoid"]) & (roles == 1)
    assert sigmoid.any() and np.all(nest_net.unit_states(("phi_prime",))["phi_prime"][sigmoid] == 0.25)
    assert np.all(nest_net.unit_states(("phi_prime",))["phi_prime"][roles == 2] == 1.0)
