"""A GLE network in a plain NEST script: two hidden units of different time constants learn,
online and with local plasticity only, to turn a square wave into a delayed, smoothed copy of
itself; NEST's weight_recorder records the weights, a multimeter the output.

    python examples/plain_nest_learning.py [--time 400] [--out results/plain_nest_learning.png]
"""

import argparse

import numpy as np

import nest
import pygle_nest
from pygle_nest.results import pyplot, write_figure


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=400.0, help="ms (default 400)")
    parser.add_argument("--out", default="results/plain_nest_learning.png")
    args = parser.parse_args()

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = 0.1
    nest.Install(pygle_nest.module_path())
    times = np.arange(1.0, args.time, 10.0)
    wave = nest.Create("step_rate_generator", params={"amplitude_times": times.tolist(),
                                                      "amplitude_values": np.resize([1.0, -1.0], len(times)).tolist()})
    late = nest.Create("step_rate_generator", params={"amplitude_times": (times + 3.0).tolist(),
                                                      "amplitude_values": np.resize([0.5, -0.5], len(times)).tolist()})
    relay = nest.Create("gle_neuron", params={"tau_m": 1.0, "tau_r": 1.0})
    hidden = nest.Create("gle_neuron", 2, params={"tau_m": 2.0, "tau_r": [2.0, 0.2], "activation": pygle_nest.ACTIVATIONS["tanh"]})
    out = nest.Create("gle_neuron", params={"tau_m": 1.0, "tau_r": 1.0, "beta": 1.0})
    step = {"delay": 0.1}
    nest.Connect(wave, relay, syn_spec={"synapse_model": "rate_connection_delayed", **step})
    nest.Connect(late, out, syn_spec={"synapse_model": "rate_connection_delayed", "receptor_type": 2, **step})
    for model in ("gle_synapse", "gle_synapse_backward"):  # the same rule and rate for a connection and its twin
        nest.SetDefaults(model, {"optimizer": pygle_nest.OPTIMIZERS["adam"], "eta": 2e-3})
    recorder = nest.Create("weight_recorder")
    nest.SetDefaults("gle_synapse", {"weight_recorder": recorder})
    rng = np.random.default_rng(1)
    for pre, post in ((relay, hidden), (hidden, out)):
        w = rng.normal(0.0, 0.5, (len(post), len(pre)))
        nest.Connect(pre, post, "all_to_all", syn_spec={"synapse_model": "gle_synapse", "weight": w, **step})
        nest.Connect(post, pre, "all_to_all", syn_spec={"synapse_model": "gle_synapse_backward", "weight": w.T,
                                                         "receptor_type": 1, **step})
    meter = nest.Create("multimeter", params={"record_from": ["r", "y"], "interval": 0.1})
    nest.Connect(meter, out)
    nest.Simulate(args.time)

    ev, wr = meter.events, recorder.events
    error = ev["r"] - ev["y"]
    first, last = np.mean(error[: len(error) // 5] ** 2), np.mean(error[-len(error) // 5:] ** 2)
    print(f"output mean squared error: first fifth {first:.4f}, last fifth {last:.4f}")
    plt = pyplot()
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, constrained_layout=True)
    a.plot(ev["times"], ev["y"], "k", lw=0.8, label="target (y)")
    a.plot(ev["times"], ev["r"], label="output (r)")
    a.legend(fontsize=8)
    for s, t in sorted(set(zip(wr["senders"], wr["targets"]))):
        sel = (wr["senders"] == s) & (wr["targets"] == t)
        b.plot(wr["times"][sel], wr["weights"][sel], lw=0.8, label=f"{s} -> {t}")
    b.set(xlabel="time (ms)", ylabel="weight (weight_recorder)")
    b.legend(fontsize=7, ncol=3)
    write_figure(fig, args.out)
    print(f"wrote {args.out}")
    return first, last


if __name__ == "__main__":
    main()
