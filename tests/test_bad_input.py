"""Bad parameters and wrong wiring give clear errors that name the problem; NEST stays usable."""

import numpy as np
import pytest

import nest
from pygle_nest import NetworkSpec
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
                                                  ("loss", 2, "loss <= 1"), ("beta", -0.5, "beta >= 0")])
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
    with pytest.raises(NESTError, match="Receptor type 5 is not available in gle_neuron"):
        nest.Connect(a, b, syn_spec={"synapse_model": synapse_model, "receptor_type": 5})
    assert b.get("receptor_types") == {"fwd": 0, "bwd": 1, "target": 2, "softmax_self": 3, "softmax_sum": 4}


def test_rate_connection_to_spiking_model(kernel):
    gle = nest.Create("gle_neuron")
    iaf = nest.Create("iaf_psc_alpha")
    with pytest.raises(NESTError, match="does not support delayed rate input"):
        nest.Connect(gle, iaf, syn_spec={"synapse_model": "rate_connection_delayed"})
    spikes = nest.Create("spike_generator")
    with pytest.raises(NESTError, match="does not support spike input"):
        nest.Connect(spikes, gle)
    with pytest.raises(NESTError, match="Source node does not send output"):
        nest.Connect(gle, iaf)  # a GLE neuron sends no spikes
    nest.Simulate(1.0)
    assert np.isfinite(gle.get("u"))


@pytest.mark.parametrize("params, message", [
    ({"eta": -0.1}, "eta >= 0"), ({"beta1": 1.0}, "beta1 >= 0 and beta1 < 1"),
    ({"beta2": -0.2}, "beta2 >= 0 and beta2 < 1"), ({"mu": 1.5}, "mu >= 0 and mu < 1"),
    ({"epsilon": 0.0}, "epsilon > 0"), ({"optimizer": 3}, "optimizer <= 2")])
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
