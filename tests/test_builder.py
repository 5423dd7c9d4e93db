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
    net.project(x, h, optimizer="adam", eta=1e-3, rate_lag=0, delay=0.2, feedback_delay=0.3)
    net.project(h, y, feedback="random", optimizer="momentum", eta=1e-2, rate_lag=0)
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
    (lambda net, a, b: net.project(a, b, weights=[1.0, 2.0]),
     r"weights must be one number, 12 values or a 3 x 4 \(pre x post\) matrix; got 2 values"),
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


def test_declarations_after_build_are_refused(kernel):
    """Before, a population or projection declared after build() was left out of NEST silently."""
    net = Network(resolution=0.1)
    x, y = net.input("x", 1), net.output("y", 2)
    net.project(x, y)
    net.build()
    for declare, what in ((lambda: net.layer("h", [Group(2, 1.0, 1.0)]), "population 'h'"),
                          (lambda: net.input("x2", 1), "population 'x2'"),
                          (lambda: net.output("y2", 2), "population 'y2'"),
                          (lambda: net.spike_input("s", 2), "population 's'"),
                          (lambda: net.project(x, y), "projections")):
        with pytest.raises(ValueError, match=rf"the network is built already: declare {what} before net.build\(\)"):
            declare()
    assert list(net.populations) == ["x", "y"] and len(net.projections) == 1 and len(net.inputs) == 1


def test_weight_matrices_are_pre_x_post_in_project_as_in_set(kernel):
    """Before, project(weights=M) took a matrix in NEST's post x pre shape silently (its values
    raveled); now both take pre x post matrices, read at the connections, and refuse others."""
    net = Network(resolution=0.1)
    a, b = net.layer("a", [Group(3, 1.0, 1.0)]), net.layer("b", [Group(4, 1.0, 1.0)])
    m = np.arange(12.0).reshape(3, 4)
    message = r"a weight matrix must be 3 x 4 \(pre x post, not NEST's post x pre\); got 4 x 3"
    with pytest.raises(ValueError, match=message):
        net.project(a, b, weights=m.T)
    full = net.project(a, b, weights=m, feedback="none")
    sparse = net.project(a, b, connector=FixedProbabilityConnector(0.5), weights=m, feedback="none")
    c = net.spec.connections
    assert 0 < len(sparse.forward) < 12
    np.testing.assert_array_equal(c["weight"][sparse.forward],
                                  m[c["pre"][sparse.forward] - a.indices[0], c["post"][sparse.forward] - b.indices[0]])
    net.build()
    np.testing.assert_array_equal(full.get("weight", format="array"), m)
    with pytest.raises(ValueError, match=message):
        full.set(m.T)


def test_projections_default_to_the_papers_scheme():
    """net.project defaults to Adam and rate_lag 1, as the command line and the paper (before:
    plain and 0), in the microcircuit mode too (its twins stay exact: test_microcircuit.py)."""
    from pygle_nest import OPTIMIZERS

    net = Network()
    a, b = net.layer("a", [Group(2, 1.0, 1.0)]), net.layer("b", [Group(2, 1.0, 1.0)])
    model = net.project(a, b).model
    for name in (model, model + "_backward"):
        params = net.spec.synapse_models[name].params
        assert (params["optimizer"], params["rate_lag"], params["eta"]) == (OPTIMIZERS["adam"], 1, 1e-3)
    assert net.spec.synapse_models[net.project(a, b, optimizer="plain", rate_lag=0).model].params["rate_lag"] == 0
    micro = Network(microcircuit=True)
    c, d = micro.layer("c", [Group(2, 1.0, 1.0)]), micro.layer("d", [Group(2, 1.0, 1.0)])
    params = micro.spec.synapse_models[micro.project(c, d).model].params
    assert (params["optimizer"], params["rate_lag"]) == (OPTIMIZERS["adam"], 1)


def test_pynn_vocabulary(kernel):
    """Populations by name, per-layer gamma, labels, record/get_data, Projection.get/set in
    PyNN's formats (W^T kept by set), list and array connectors, allow_self_connections."""
    import pygle_nest as pg

    net = Network(resolution=0.1, gamma=0.0, seed=2)
    x = net.input("x", 2)
    h = net.layer("h", [Group(3, 1.0, 0.5)], gamma=0.3)          # per-layer gamma (was a TypeError)
    y = net.output("y", 2)
    p1 = net.project("x", "h", connector=pg.FromListConnector([(0, 0, 0.5), (1, 2, -0.25)]))
    rec = net.project(h, h, connector=pg.AllToAllConnector(allow_self_connections=False), feedback="none")
    p2 = net.project(h, "y", connector=pg.ArrayConnector(np.array([[True, False], [True, True], [False, True]])))
    assert len(rec.forward) == 6 and len(p1.forward) == 2 and len(p2.forward) == 4 and h.label == "h"
    assert set(net.spec.units["gamma"][h.indices]) == {0.3} and set(net.spec.units["gamma"][y.indices]) == {0.0}
    with pytest.raises(ValueError, match="no population 'z'; the network has x, h, y"):
        net.project("z", "y")
    with pytest.raises(ValueError, match=r"conn_list indices must be integers in \[0, 1\]"):
        net.project(x, h, connector=pg.FromListConnector([(5, 0)]))
    h.record(["r", "err"])
    net.build()
    np.testing.assert_array_equal(p1.get("weight"), [0.5, -0.25])
    w = p2.get("weight", format="array")
    assert w.shape == (3, 2) and np.isnan(w[0, 1]) and np.isnan(w[2, 0])
    p2.set(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(p2.get("weight", format="array")[~np.isnan(w)], [0.0, 2.0, 3.0, 5.0])
    np.testing.assert_array_equal(np.sort(net.nest.synapse_states(p2.backward)["weight"]), [0.0, 2.0, 3.0, 5.0])
    nest.Simulate(2.0)
    data = h.get_data()
    assert data["r"].shape == (19, 3) and set(data) == {"r", "err"}


def test_a_trainer_needs_one_input_and_one_output(kernel):
    import pygle_nest as pg

    net = Network(resolution=0.1)
    x = net.input("x", 1)
    for name in ("y1", "y2"):
        net.project(x, net.output(name, 2))
    net.build()
    with pytest.raises(ValueError, match=r"one input and one output population; .* outputs \['y1', 'y2'\]"):
        pg.Trainer(net)
