"""Demo: a 3-layer GLE network in NEST turns a time series into a spatial code; an error is
injected at the output and travels back through the layers while the network runs.

Layer 1 mixes time-constant groups (retrospective, instantaneous, prospective units), so each
unit sees the input through another lead-lag filter: a spatial code of the recent past. The
output is nudged towards a delayed copy of the input, and its error flows backwards through
the transposed weights. The same network run by the NumPy reference gives the same numbers.

    python examples/spatial_code.py [--out results/spatial_code.png]
"""

import argparse

import numpy as np

import nest
from pygle_nest import NetworkSpec, ReferenceNetwork, nest_backend
from pygle_nest.results import pyplot, write_figure

plt = pyplot()

H = 0.05  # ms
T = 60.0  # ms
GROUPS = [(2.0, 0.2), (2.0, 2.0), (1.0, 3.0), (4.0, 0.5)]  # (tau_m, tau_r) of layer 1, ms


def build_network(rng, n_steps):
    spec = NetworkSpec(resolution=H)
    t = np.arange(n_steps) * H
    signal = np.sin(0.5 * t) * np.sin(0.13 * t) + 0.6 * (np.mod(t, 20.0) < 4.0)
    target = np.r_[np.zeros(40), signal[:-40]]  # the input 2 ms ago
    tau_m, tau_r = np.repeat(np.array(GROUPS), 4, axis=0).T
    layer1 = spec.add_units(16, tau_m=tau_m, tau_r=tau_r, activation="tanh")
    layer2 = spec.add_units(8, tau_m=1.0, tau_r=1.0, activation="tanh")
    output = spec.add_units(1, tau_m=1.0, tau_r=1.0, activation="linear", beta=1.0)
    x, y = spec.add_streams([signal, target])
    spec.connect_stream(x, layer1, rng.normal(1.0, 0.5, 16))
    spec.connect_stream(y, output, 1.0, port="target")
    for below, above in ((layer1, layer2), (layer2, output)):
        pre, post = np.meshgrid(below, above, indexing="ij")
        w = rng.normal(0, 1.0 / np.sqrt(len(below)), pre.size)
        spec.connect(pre.ravel(), post.ravel(), w)
        spec.connect(post.ravel(), pre.ravel(), w, synapse="eprop_learning_signal_connection", port="bwd")
    return spec, signal, target, (layer1, layer2, output)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/spatial_code.png", help="figure to write")
    args = parser.parse_args()

    n_steps = int(T / H) + 1
    spec, signal, target, layers = build_network(np.random.default_rng(7), n_steps)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    mm = net.multimeter(["r", "err"])
    nest.Simulate(n_steps * H)
    rec = nest_backend.recorded(mm, net.units)
    ref = ReferenceNetwork(spec).run(n_steps, record=("r", "err"))
    deviation = max(np.abs(rec[k] - ref[k][: n_steps - 1]).max() for k in rec)
    print(f"NEST vs NumPy reference: max |difference| = {deviation:.2e} over {n_steps - 1} steps")

    t = np.arange(1, n_steps) * H
    fig, axes = plt.subplots(5, 1, figsize=(9, 11), sharex=True, constrained_layout=True)
    axes[0].plot(t, signal[:-1], label="input x")
    axes[0].plot(t, target[:-1], "--", label="target (x, 2 ms ago)")
    axes[0].plot(t, rec["r"][:, layers[2][0]], label="output rate")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title("Input, target and output")
    for ax, (name, key, idx) in zip(axes[1:], [("layer 1 rates: a spatial code", "r", layers[0]),
                                               ("layer 2 rates", "r", layers[1]),
                                               ("layer 1 errors (backpropagated)", "err", layers[0]),
                                               ("layer 2 errors", "err", layers[1])]):
        data = rec[key][:, idx].T
        lim = np.abs(data).max()
        im = ax.imshow(data, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       extent=[t[0], t[-1], -0.5, len(idx) - 0.5], interpolation="nearest")
        ax.set_title(name)
        ax.set_ylabel("unit")
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xlabel("time (ms)")
    out = write_figure(fig, args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
