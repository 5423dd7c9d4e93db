"""The network builder: the NEST graph it creates, the same network in the reference, and
bad configurations rejected before NEST is touched."""

import numpy as np
import pytest

import nest
from pygle_nest import ReferenceNetwork
from pygle_nest.builder import (AllToAllConnector, FixedProbabilityConnector, FromMatrixConnector, Group,
                                Network, OneToOneConnector)


def small_network(seed=0):
    net = Network(resolution=0.1, gamma=0.2, seed=seed)
    x = net.input("x", 2)
    h = net.layer("h", [Group(3, tau_m=1.0, tau_r=1.0), Group(2, tau_m=1.0, tau_r=0.5)], activation="tanh")
    y = net.output("y", 2, loss="cross_entropy", beta=0.5)
    net.project(x, h, optimizer="adam", eta=1e-3, delay=0.2, feedback_delay=0.3)
    net.project(h, y, feedback="random", optimizer="momentum", eta=1e-2)
    return net


def count(model):
    return len(nest.GetConnections(synapse_model=model))


def test_builder_creates_the_expected_graph(kernel):
    net = small_network()
    net.build()
    x, h, y = (net.populations[k] for k in "xhy")
    assert [len(p.nodes) for p in (x, h, y)] == [2, 5, 2]
    assert list(h.nodes.get("tau_r")) == [1.0, 1.0, 1.0, 0.5, 0.5] and list(h.nodes.get("activation")) == [1] * 5
    assert list(y.nodes.get("loss")) == [1, 1] and list(y.nodes.get("beta")) == [0.5, 0.5]
    assert list(h.nodes.get("gamma")) == [0.2] * 5
    fwd_xh, fwd_hy = (p.model for p in net.projections)
    assert count(fwd_xh) == count(fwd_xh + "_backward") == 10
    assert count(fwd_hy) == 10 and count(fwd_hy + "_backward") == 0
    assert count(fwd_hy + "_fixed_backward") == 10  # random feedback B
    assert nest.GetDefaults(fwd_hy + "_fixed_backward")["learning"] is False
    assert count("rate_connection_delayed") == 2 + 2 + 2 + 4  # streams (inputs, targets), softmax
    assert set(np.round(nest.GetConnections(synapse_model=fwd_xh).get("delay"), 12)) == {0.2}
    assert set(np.round(nest.GetConnections(synapse_model=fwd_xh + "_backward").get("delay"), 12)) == {0.3}
    assert nest.GetDefaults(fwd_xh)["optimizer"] == 2 and nest.GetDefaults(fwd_hy)["mu"] == 0.9


def test_built_network_equals_reference(kernel):
    net = small_network(seed=3)
    t = np.arange(600) * 0.1
    net.spec.streams[net.inputs["x"][0]] = np.sin(t)
    net.spec.streams[net.inputs["x"][1]] = np.cos(0.7 * t)
    net.spec.streams[net.targets["y"][0]] = (np.sin(0.3 * t) > 0).astype(float)
    net.spec.streams[net.targets["y"][1]] = (np.sin(0.3 * t) <= 0).astype(float)
    built = net.build()
    mm = built.multimeter(["r", "err"])
    nest.Simulate(60.0)
    from pygle_nest import nest_backend
    got = nest_backend.recorded(mm, built.units)
    ref = ReferenceNetwork(net.spec).run(600, record=("r", "err"))
    for k in got:
        np.testing.assert_allclose(got[k], ref[k][:599], rtol=0, atol=1e-12)
    assert np.ptp(got["err"]) > 1e-3


@pytest.mark.parametrize("connector, n", [(OneToOneConnector(), 3), (FixedProbabilityConnector(0.5), None),
                                          (FromMatrixConnector(np.eye(3)), 3), (AllToAllConnector(), 9)])
def test_connectors(connector, n):
    net = Network()
    a = net.layer("a", [Group(3, 1.0, 1.0)])
    b = net.layer("b", [Group(3, 1.0, 1.0)])
    proj = net.project(a, b, connector=connector, feedback="none")
    if n is not None:
        assert len(proj.forward) == n
    assert len(proj.backward) == 0


@pytest.mark.parametrize("make, message", [
    (lambda net, a, b: net.project(a, b, connector=FromMatrixConnector(np.ones((2, 3)))), "must be 3 x 4"),
    (lambda net, a, b: net.layer("c", [Group(2, tau_m=0.01, tau_r=1.0)]), r"tau_m of 'c' must be >= the resolution"),
    (lambda net, a, b: net.layer("c", [Group(2, 1.0, 1.0)], activation="swish"), "unknown activation 'swish'"),
    (lambda net, a, b: net.output("c", 2, loss="hinge"), "unknown loss 'hinge'"),
    (lambda net, a, b: net.layer("c", []), "needs groups of at least one unit"),
    (lambda net, a, b: net.layer("a", [Group(1, 1.0, 1.0)]), "exists already"),
    (lambda net, a, b: net.project(a, b, feedback="mirror"), "unknown feedback 'mirror'"),
    (lambda net, a, b: net.project(a, b, delay=0.15), "delay must be a multiple of the resolution"),
    (lambda net, a, b: net.project(a, b, weights=[1.0, 2.0]), "weights must be one number or 12 values"),
    (lambda net, a, b: net.project(a, b, optimizer="adam", beta1=1.0), r"beta1 must be in \[0, 1\)"),
    (lambda net, a, b: net.project(a, b, connector=OneToOneConnector()), "equal size"),
])
def test_bad_configurations_are_rejected_before_nest(kernel, make, message):
    net = Network(resolution=0.1)
    a = net.layer("a", [Group(3, 1.0, 1.0)])
    b = net.layer("b", [Group(4, 1.0, 1.0)])
    with pytest.raises(ValueError, match=message):
        make(net, a, b)
    assert nest.network_size == 0


def test_building_twice_is_refused(kernel):
    net = Network(resolution=0.1)
    x, y = net.input("x", 1), net.output("y", 2)
    net.project(x, y)
    net.build()
    with pytest.raises(ValueError, match="the network is built already"):
        net.build()
