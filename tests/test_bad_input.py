"""Bad parameters and wrong wiring give clear errors that name the problem; NEST stays usable."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nest
from pygle_nest import NetworkSpec
from random_networks import diverging_network
from pygle_nest.parameters import unit_params

NESTError = nest.NESTError if hasattr(nest, "NESTError") else Exception


@pytest.mark.parametrize("name, value", [("tau_m", 0.0), ("tau_m", -1.0), ("tau_r", 0.0),
                                         ("tau_r", -2.0), ("tau_m", 0.05), ("tau_r", 0.09)])
def test_time_constant_below_resolution(kernel, name, value):
    with pytest.raises(NESTError, match=rf"{name} >= resolution\(\)"):
        nest.Create("gle_neuron", params={name: value})
    n = nest.Create("gle_neuron")
    with pytest.raises(NESTError, match=rf"{name} >= resolution\(\)"):
        n.set({name: value})
    assert n.get(name) == 10.0  # a failed set leaves the node unchanged
    nest.Simulate(1.0)  # the kernel is still usable


def test_defaults_below_a_coarse_resolution_fail_before_simulating(kernel):
    nest.resolution = 20.0
    nest.Create("gle_neuron")  # default tau_m = 10 ms
    with pytest.raises(NESTError, match=r"tau_[mr] >= resolution\(\).*resolution 20"):
        nest.Simulate(100.0)
    assert nest.biological_time == 0.0


@pytest.mark.parametrize("name, value, allowed", [("activation", 6, "activation <= 5"),
                                                  ("activation", -1, "activation >= 0"),
                                                  ("loss", 2, "loss <= 1"), ("beta", -0.5, "beta >= 0"),
                                                  ("update_interval", 0, "update_interval >= 1"),
                                                  ("update_interval", 2.5, "update_interval takes an integer")])
def test_out_of_range_codes(kernel, name, value, allowed):
    with pytest.raises(NESTError, match=allowed):
        nest.Create("gle_neuron", params={name: value})


def test_unknown_names_in_python():
    spec = NetworkSpec(resolution=0.1)
    with pytest.raises(ValueError, match="unknown activation 'swish'; allowed: linear, tanh"):
        spec.add_units(3, activation="swish")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        spec.add_units(3, loss="hinge")
    with pytest.raises(ValueError, match=r"tau_r must be >= the resolution \(0.1 ms\)"):
        spec.add_units(3, tau_r=0.01)
    with pytest.raises(ValueError, match="unknown gle_neuron parameter"):
        unit_params(0.1, tau=3.0)
    units = spec.add_units(3)
    with pytest.raises(ValueError, match="unknown receptor 'feedback'; allowed: fwd, bwd"):
        spec.connect(units[0], units[1], 1.0, port="feedback")
    with pytest.raises(ValueError, match="delay must be >= 1 step"):
        spec.connect(units[0], units[1], 1.0, delay=0)
    with pytest.raises(ValueError, match="unknown synapse model 'stdp_synapse'"):
        spec.connect(units[0], units[1], 1.0, synapse="stdp_synapse")
    with pytest.raises(ValueError, match="post must index the 3 units"):
        spec.connect(units[0], 7, 1.0)


@pytest.mark.parametrize("synapse_model", ["rate_connection_delayed", "eprop_learning_signal_connection"])
def test_receptor_out_of_range(kernel, synapse_model):
    a, b = nest.Create("gle_neuron", 2)
    with pytest.raises(NESTError, match="Receptor type 6 is not available in gle_neuron"):
        nest.Connect(a, b, syn_spec={"synapse_model": synapse_model, "receptor_type": 6})
    what = "rates" if synapse_model == "rate_connection_delayed" else "errors"
    with pytest.raises(NESTError, match=f"receptor 5 \\(spikes\\) takes spikes only, not {what}"):
        nest.Connect(a, b, syn_spec={"synapse_model": synapse_model, "receptor_type": 5})
    assert b.get("receptor_types") == {"fwd": 0, "bwd": 1, "target": 2, "softmax_self": 3, "softmax_sum": 4,
                                       "spikes": 5}


def test_rate_connection_to_spiking_model(kernel):
    gle = nest.Create("gle_neuron")
    iaf = nest.Create("iaf_psc_alpha")
    with pytest.raises(NESTError, match="does not support delayed rate input"):
        nest.Connect(gle, iaf, syn_spec={"synapse_model": "rate_connection_delayed"})
    spikes = nest.Create("spike_generator")
    with pytest.raises(NESTError, match=r"gle_neuron: spikes go to the receptor spikes \(receptor_type 5\), not to receptor 0"):
        nest.Connect(spikes, gle)
    nest.Simulate(1.0)
    assert np.isfinite(gle.get("u"))


@pytest.mark.parametrize("params, message", [
    ({"eta": -0.1}, "eta >= 0"), ({"beta1": 1.0}, "beta1 >= 0 and beta1 < 1"),
    ({"beta2": -0.2}, "beta2 >= 0 and beta2 < 1"), ({"mu": 1.5}, "mu >= 0 and mu < 1"),
    ({"epsilon": 0.0}, "epsilon > 0"), ({"optimizer": 3}, "optimizer <= 2"),
    ({"update_interval": 0}, "update_interval >= 1"), ({"update_interval": 1.5}, "update_interval takes an integer")])
def test_synapse_hyperparameters_out_of_range(kernel, params, message):
    with pytest.raises(NESTError, match=message):
        nest.SetDefaults("gle_synapse", params)
    with pytest.raises(NESTError, match=message):
        nest.CopyModel("gle_synapse_backward", "my_backward", params)
    assert nest.GetDefaults("gle_synapse")["eta"] == 0.001  # unchanged


def test_learning_rates_out_of_range_in_python():
    spec = NetworkSpec(resolution=0.1)
    with pytest.raises(ValueError, match=r"eta must be >= 0; got -1"):
        spec.add_synapse_model("fast", eta=-1)
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\); got 1.0"):
        spec.add_synapse_model("fast", optimizer="adam", beta1=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; allowed: plain, momentum, adam"):
        spec.add_synapse_model("fast", optimizer="sgd")
    with pytest.raises(ValueError, match="eta_tau must be >= 0"):
        spec.add_units(2, eta_tau=-0.1)
    for bad in (0, 2.5, -3, np.nan):
        with pytest.raises(ValueError, match=rf"update_interval must be an integer >= 1 \(steps\); got {bad}"):
            spec.add_synapse_model("fast", update_interval=bad)
        with pytest.raises(ValueError, match=rf"update_interval must be an integer >= 1 \(steps\); got {bad}"):
            spec.add_units(2, update_interval=bad)


def test_backward_twin_connected_forwards(kernel):
    a, b = nest.Create("gle_neuron", 2)
    with pytest.raises(NESTError, match="takes rates, not errors; errors .* go to the receptor bwd"):
        nest.Connect(a, b, syn_spec={"synapse_model": "gle_synapse_backward"})
    with pytest.raises(NESTError, match="takes rates, not errors"):
        nest.Connect(a, b, syn_spec={"synapse_model": "eprop_learning_signal_connection", "receptor_type": 2})
    nest.Connect(b, a, syn_spec={"synapse_model": "gle_synapse_backward", "receptor_type": 1})


@pytest.mark.parametrize("target_model", ["lin_rate_ipn", "iaf_psc_alpha"])
def test_plastic_synapse_onto_a_non_gle_target(kernel, target_model):
    gle = nest.Create("gle_neuron")
    other = nest.Create(target_model)
    with pytest.raises(NESTError, match="connects GLE rate neurons .* only"):
        nest.Connect(gle, other, syn_spec={"synapse_model": "gle_synapse"})


def test_plastic_synapse_from_a_device(kernel):
    generator = nest.Create("step_rate_generator")
    gle = nest.Create("gle_neuron")
    with pytest.raises(NESTError, match="connects GLE rate neurons .* not devices"):
        nest.Connect(generator, gle, syn_spec={"synapse_model": "gle_synapse"})


NON_FINITE = [np.nan, np.inf, -np.inf]


def real_entries(defaults, exclude=()):
    return sorted(k for k, v in defaults.items() if isinstance(v, float) and k not in exclude)


def test_every_real_neuron_entry_rejects_non_finite_values(kernel):
    """Every real-valued parameter and state of gle_neuron, found from its defaults (so that a
    new one is covered too), refuses NaN and +-inf by name, at Create and at set; the node stays
    as it was and the kernel usable."""
    names = real_entries(nest.GetDefaults("gle_neuron"))
    assert {"tau_m", "tau_r", "bias", "gamma", "beta", "eta_bias", "eta_tau", "tau_m_min", "mu", "beta1",
            "beta2", "epsilon", "u", "v", "r", "err"} <= set(names)
    node = nest.Create("gle_neuron")
    before = node.get(names)
    for name in names:
        for value in NON_FINITE:
            with pytest.raises(NESTError, match=rf"gle_neuron: {name} must be a finite number; got {value}"):
                nest.Create("gle_neuron", params={name: value})
            other = "bias" if name == "gamma" else "gamma"
            with pytest.raises(NESTError, match=rf"{name} must be a finite number"):
                node.set({other: 0.5, name: value})  # a set that fails changes nothing
    assert node.get(names) == before
    for value in NON_FINITE:
        with pytest.raises(NESTError, match="pending_inputs must be a finite number"):
            node.set({"pending_inputs": [0.0, value, 0.0, 0.0, 0.0, 0.0]})  # a step of the 6 receptors
    nest.Simulate(1.0)
    assert np.isfinite(node.get("u"))


def test_every_real_synapse_entry_rejects_non_finite_values(kernel):
    """Common properties (SetDefaults, CopyModel) and per-connection states (weight, m, s, g_sum)."""
    common = real_entries(nest.GetDefaults("gle_synapse"), exclude=("delay", "weight", "m", "s", "g_sum"))
    assert set(common) == {"eta", "mu", "beta1", "beta2", "epsilon"}
    for name in common:
        for k, value in enumerate(NON_FINITE):
            with pytest.raises(NESTError, match=rf"gle_synapse: {name} must be a finite number; got {value}"):
                nest.SetDefaults("gle_synapse", {name: value})
            with pytest.raises(NESTError, match=rf"{name} must be a finite number"):
                nest.CopyModel("gle_synapse_backward", f"copy_{name}_{k}", {name: value})
    assert nest.GetDefaults("gle_synapse")["eta"] == 0.001
    a, b = nest.Create("gle_neuron", 2)
    nest.Connect(a, b, syn_spec={"synapse_model": "gle_synapse", "weight": 0.5})
    nest.Connect(a, b, syn_spec={"synapse_model": "gle_synapse_lagged", "weight": 0.5})
    for model, names in (("gle_synapse", ("weight", "m", "s", "g_sum")),
                         ("gle_synapse_lagged", ("weight", "m", "s", "g_sum"))):
        conn = nest.GetConnections(synapse_model=model)
        for name in names:
            for value in NON_FINITE:
                with pytest.raises(NESTError, match=rf"{model}: {name} must be a finite number"):
                    conn.set({name: value})
        assert conn.get("weight") == 0.5
    for value in (np.inf, -np.inf):  # NEST's kernel passes a NaN weight on as "no weight given"
        with pytest.raises(NESTError, match=rf"gle_synapse_backward: weight must be a finite number; got {value}"):
            nest.Connect(b, a, syn_spec={"synapse_model": "gle_synapse_backward", "weight": value, "receptor_type": 1})
    assert len(nest.GetConnections(synapse_model="gle_synapse_backward")) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["tau_m", "tau_r", "bias", "gamma", "beta", "eta_bias", "eta_tau", "tau_m_min", "mu",
                             "beta1", "beta2", "epsilon"]),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from([0.0, 0.1, 1.0, -0.0, 1e-300, 0.09999999999999999])))
def test_nest_and_python_accept_the_same_values(kernel, name, value):
    """Property: NEST accepts a value of a gle_neuron parameter exactly when the package's own
    check (used before NEST is touched) does, for any float, NaN and infinities included."""
    try:
        unit_params(nest.resolution, **{name: value})
        python_accepts = True
    except ValueError as e:
        assert name in str(e)
        python_accepts = False
    try:
        nest.Create("gle_neuron", params={name: value})
        nest_accepts = True
    except NESTError as e:
        assert name in str(e)
        nest_accepts = False
    assert nest_accepts == python_accepts, (name, value)


def test_divergence_stops_the_simulation(kernel):
    """A plain rule at eta = 1e6 (NaN within 10 ms): the first Simulate past it raises
    NumericalInstability naming the model, node, quantities, time and the cause."""
    x, y = diverging_network()
    with pytest.raises(nest.NESTErrors.NumericalInstability) as info:
        for _ in range(40):
            nest.Simulate(1.0)
    message = str(info.value)
    assert nest.biological_time <= 11.0
    assert re.search(r"gle_neuron \(node [23]\): numerical instability, .*(nan|inf).* after the steps from "
                     r"t = [0-9.]+ to [0-9.]+ ms; non-finite input on receptor (fwd|bwd)", message), message


def test_a_learned_tau_m_that_diverges_says_so(kernel):
    """Before, a NaN tau_m was reported one call later as a violated 'tau_m >= resolution()'."""
    diverging_network(unit_params={"eta_tau": 1e-3})
    with pytest.raises(nest.NESTErrors.NumericalInstability,
                       match=r"gle_neuron \(node 2\): numerical instability, .*tau_m = nan.*; learning with "
                             r"eta_tau = 0.001"):
        nest.Simulate(20.0)


def test_internal_entries_are_not_in_the_status(kernel):
    node = nest.Create("gle_neuron")
    for status in (nest.GetDefaults("gle_neuron"), node.get()):
        assert not [k for k in status if k.startswith("_") or k in ("rate_out", "err_out")]
    with pytest.raises(NESTError, match="Unaccessed.*rate_out"):
        node.set({"rate_out": 1.0})


def test_codes_given_as_names_list_the_codes(kernel):
    """A NEST user who passes "tanh" learns the integer codes (pygle_nest.ACTIVATIONS,
    OPTIMIZERS name them in Python), not "Failed to cast 'activation' from std::string"."""
    with pytest.raises(NESTError, match=r"gle_neuron: activation takes an integer \(0 lin, 1 tanh, 2 sigmoid, 3 softplus"):
        nest.Create("gle_neuron", params={"activation": "tanh"})
    with pytest.raises(NESTError, match=r"gle_synapse: optimizer takes an integer \(0 plain, 1 momentum, 2 Adam\)"):
        nest.SetDefaults("gle_synapse", {"optimizer": "adam"})
    from pygle_nest import ACTIVATIONS, OPTIMIZERS
    assert ACTIVATIONS["tanh"] == 1 and OPTIMIZERS["adam"] == 2
