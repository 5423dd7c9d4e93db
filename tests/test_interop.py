"""GLE neurons with NEST's own models: driven by step_rate_generator, feeding and fed by
lin_rate_ipn, recorded by multimeter; compared step by step with the reference."""

import numpy as np
import pytest

import nest
from pygle_nest import NetworkSpec, ReferenceNetwork, nest_backend

H = 0.1
N_STEPS = 1201
LIN = {"tau": 2.0, "mu": 0.3, "g": 1.0, "sigma": 0.0}
W_GLE_TO_LIN, D_GLE_TO_LIN = 0.8, 3
W_LIN_TO_GLE, D_LIN_TO_GLE = -1.2, 2


def reference_with_lin_rate(spec, a, b):
    """The reference network co-simulated with a lin_rate_ipn: a -> lin -> b.

    lin_rate_ipn (exact integration, linear input): it sends its rate before its update in
    step n; rate += P2 * (mu + g * input) after rate *= P1, with P1 = exp(-h/tau),
    P2 = -expm1(-h/tau).
    """
    ref = ReferenceNetwork(spec)
    p1, p2 = np.exp(-H / LIN["tau"]), -np.expm1(-H / LIN["tau"])
    lin_rate, lin_sent, a_sent = 0.0, [], []
    out = {"r": [], "err": [], "lin": []}
    for n in range(N_STEPS):
        x = ref.inputs(n)
        if n >= D_LIN_TO_GLE:
            x[0, b] += W_LIN_TO_GLE * lin_sent[n - D_LIN_TO_GLE]
        lin_input = W_GLE_TO_LIN * a_sent[n - D_GLE_TO_LIN] if n >= D_GLE_TO_LIN else 0.0
        ref.step(x)
        a_sent.append(ref.state["r"][a])
        lin_sent.append(lin_rate)
        lin_rate = p1 * lin_rate + p2 * LIN["mu"]
        lin_rate += p2 * LIN["g"] * lin_input
        out["r"].append(ref.state["r"].copy())
        out["err"].append(ref.state["err"].copy())
        out["lin"].append(lin_rate)
    return {k: np.array(v) for k, v in out.items()}


def test_generator_lin_rate_ipn_multimeter(kernel):
    spec = NetworkSpec(resolution=H)
    a, b = spec.add_units(2, tau_m=1.0, tau_r=[0.5, 1.5], activation="tanh", beta=[0.0, 0.4])
    t = np.arange(N_STEPS) * H
    drive, target = spec.add_streams([np.sin(0.7 * t) + (t > 30), 0.5 * np.cos(0.4 * t)])
    spec.connect_stream(drive, a, 1.5, delay=1)
    spec.connect_stream(target, b, 1.0, delay=4, port="target")
    spec.connect(b, a, 0.7, delay=2, synapse="eprop_learning_signal_connection", port="bwd")
    ref = reference_with_lin_rate(spec, a, b)

    net = nest_backend.create(spec)
    lin = nest.Create("lin_rate_ipn", params=LIN)
    syn = {"synapse_model": "rate_connection_delayed"}
    nest.Connect(net.units[a], lin, syn_spec={**syn, "weight": W_GLE_TO_LIN, "delay": D_GLE_TO_LIN * H})
    nest.Connect(lin, net.units[b], syn_spec={**syn, "weight": W_LIN_TO_GLE, "delay": D_LIN_TO_GLE * H})
    mm = net.multimeter(["r", "err"])
    mm_lin = nest.Create("multimeter", params={"record_from": ["rate"], "interval": H})
    nest.Connect(mm_lin, lin)
    nest.Simulate(N_STEPS * H)

    got = nest_backend.recorded(mm, net.units)
    lin_rate = mm_lin.events["rate"]
    assert np.ptp(lin_rate) > 0.2 and np.ptp(got["r"][:, b]) > 0.2
    for k in ("r", "err"):
        np.testing.assert_allclose(got[k], ref[k][: N_STEPS - 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(lin_rate, ref["lin"][: N_STEPS - 1], rtol=0, atol=1e-12)


def test_a_device_connection_reads_back_into_connect(kernel):
    """GetConnections shows a device's connection with its receptor marked (target 2 shows 8:
    the template places a device's values apart); Connect takes the shown receptor back and
    the copy drives the node as the original does."""
    drive = nest.Create("step_rate_generator", params={"amplitude_times": [0.1], "amplitude_values": [0.5]})
    a, b = nest.Create("gle_neuron", 2, {"beta": 1.0})
    nest.Connect(drive, a, syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": 2, "delay": 0.1})
    shown = nest.GetConnections(drive, a).get("receptor")
    nest.Connect(drive, b, syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": shown, "delay": 0.1})
    assert nest.GetConnections(drive, b).get("receptor") == shown
    nest.Simulate(1.0)
    assert a.get("y") == b.get("y") == 0.5
    with pytest.raises(nest.NESTError, match="Receptor type 8 is not available in gle_neuron"):  # from a neuron
        nest.Connect(a, b, syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": shown, "delay": 0.1})
