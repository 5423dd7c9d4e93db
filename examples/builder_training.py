"""A GLE classifier built with pygle_nest.Network, trained with lanes (parallel streams through
the shared weights), evaluated, saved and resumed: noisy oscillating sequences of three classes
that differ in their mean level.

    python examples/builder_training.py [--epochs 4] [--lanes 8] [--out results/builder_training]
"""

import argparse
from pathlib import Path

import numpy as np

import nest
import pygle_nest as pg
from pygle_nest.results import pyplot, write_figure, write_json

STEPS = 60


def data(n, rng):
    labels = rng.integers(0, 3, n)
    t = np.arange(STEPS) * 0.2
    x = 0.5 * (labels[:, None] - 1.0) + 0.4 * np.sin(0.8 * t[None, :] + rng.uniform(0, 6, (n, 1)))
    return x + 0.2 * rng.normal(size=x.shape), labels


def network(lanes):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = pg.Network(resolution=0.2, gamma=0.0, seed=0, lanes=lanes)
    x = net.input("x", 1)
    h = net.layer("h", [pg.Group(8, tau_m=1.0, tau_r=0.2), pg.Group(8, tau_m=2.0, tau_r=2.0)], activation="tanh",
                  eta_bias=2e-3, optimizer="adam")
    y = net.output("y", 3, loss="cross_entropy", beta=1.0, tau_m=1.0, eta_bias=2e-3, optimizer="adam")
    net.project(x, h, optimizer="adam", eta=2e-3, rate_lag=1, weights="uniform")
    net.project(h, y, optimizer="adam", eta=2e-3, rate_lag=1, weights="uniform")
    net.build()
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--out", default="results/builder_training")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    (x, y), (x_test, y_test) = data(96, rng), data(48, rng)
    out = Path(args.out)
    ckpt = out.with_suffix(".ckpt")

    trainer = pg.Trainer(network(args.lanes))
    before = trainer.evaluate(x_test, y_test)
    curve = []
    history = trainer.train(x, y, epochs=args.epochs, verbose=False, checkpoint=ckpt,
                            after_epoch=lambda h: curve.append(trainer.evaluate(x_test, y_test)) and False)
    after = trainer.evaluate(x_test, y_test)
    resumed = pg.Trainer(network(args.lanes))  # a fresh kernel, the network built again
    pg.checkpoint.load(resumed.net, ckpt)
    print(f"test accuracy: {before[0]:.2f} before, {after[0]:.2f} after {args.epochs} epochs; "
          f"after resuming: {resumed.evaluate(x_test, y_test)[0]:.2f}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    ax.plot(range(1, len(curve) + 1), [c[0] for c in curve], "o-", label="test (plasticity off)")
    ax.plot(range(1, len(history) + 1), [h[0] for h in history], ".--", label="online (label shown)")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    ax.legend(fontsize=8)
    write_figure(fig, out.with_suffix(".png"))
    write_json({"test_before": before, "test_after": after, "curve": curve, "online": history}, out.with_suffix(".json"))
    return before, after


if __name__ == "__main__":
    main()
