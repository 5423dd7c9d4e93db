"""MNIST-1D with the paper's 14,956-parameter GLE network (gle.md section 5, third row), trained
online in NEST.

Scalar input, one point per dt = 0.2 ms (sequences of 360); 6 layers of 53 units, each of
18 (tau_m 0.6, tau_r 0.2), 18 (1.2, 0.2) and 17 (1.2, 1.2) ms units, the first layer linear, the
others tanh; 10 linear outputs with cross-entropy (beta = 1, gamma = 0); Adam on weights and
biases. The data (4000 train / 1000 test) is generated locally by the mnist1d package.
Writes a learning curve (PNG) and the figures (JSON) after every epoch.

    python examples/mnist1d_gle.py [--epochs 150] [--hours 2] [--train 4000] [--test 1000] [--out results/mnist1d]
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nest  # noqa: E402
import pygle_nest as pg  # noqa: E402
from pygle_nest.parallel import is_root  # noqa: E402
from pygle_nest.training import Trainer  # noqa: E402

GROUPS = [pg.Group(18, tau_m=0.6, tau_r=0.2), pg.Group(18, tau_m=1.2, tau_r=0.2), pg.Group(17, tau_m=1.2, tau_r=1.2)]


def dataset(cache):
    """MNIST-1D as published: default arguments, final_seq_length 360, seed 42, generated here."""
    from mnist1d.data import get_dataset, get_dataset_args

    args = get_dataset_args()
    args.final_seq_length = 360
    args.seed = 42
    data = get_dataset(args, path=str(cache), download=False, regenerate=not Path(cache).exists(), verbose=False)
    return data["x"], data["y"], data["x_test"], data["y_test"]


def network(lr, seed):
    net = pg.Network(resolution=0.2, gamma=0.0, seed=seed)
    layers = [net.input("x", 1)]
    for k in range(6):
        layers.append(net.layer(f"h{k + 1}", GROUPS, activation="linear" if k == 0 else "tanh",
                                eta_bias=lr, optimizer="adam"))
    layers.append(net.output("y", 10, loss="cross_entropy", beta=1.0, tau_m=0.2, eta_bias=lr, optimizer="adam"))
    for below, above in zip(layers[:-1], layers[1:]):
        net.project(below, above, optimizer="adam", eta=lr)
    net.build()
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--hours", type=float, default=2.0, help="stop after the epoch that passes this wall time")
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=3e-5, help="Adam step per dt (online, one sample at a time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/mnist1d")
    args = parser.parse_args()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x, y, x_test, y_test = dataset(out.with_name("mnist1d_data.pkl"))
    x, y, x_test, y_test = x[:args.train], y[:args.train], x_test[:args.test], y_test[:args.test]
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    trainer = Trainer(network(args.lr, args.seed))
    rng = np.random.default_rng(args.seed)
    start, curve = time.time(), []
    for epoch in range(args.epochs):
        (train_acc, train_loss), = trainer.train(x, y, epochs=1, rng=rng)
        test_acc, test_loss = trainer.evaluate(x_test, y_test)
        curve.append({"epoch": epoch + 1, "hours": (time.time() - start) / 3600, "train_accuracy": train_acc,
                      "train_loss": train_loss, "test_accuracy": test_acc, "test_loss": test_loss})
        if is_root():
            print(f"epoch {epoch + 1}: train {train_acc:.3f} (loss {train_loss:.3f}), test {test_acc:.3f} "
                  f"(loss {test_loss:.3f}), {curve[-1]['hours']:.2f} h", flush=True)
            write(out, curve, args)
        if time.time() - start > args.hours * 3600:
            break


def write(out, curve, args):
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    epochs = [c["epoch"] for c in curve]
    ax.plot(epochs, [c["train_accuracy"] for c in curve], "o-", label="train (online, plasticity on)")
    ax.plot(epochs, [c["test_accuracy"] for c in curve], "o-", label="test (plasticity off)")
    ax.set(xlabel="epoch", ylabel="accuracy", title="MNIST-1D, GLE in NEST", ylim=(0, 1))
    ax.legend()
    for suffix, writer in ((".png", lambda p: fig.savefig(p, dpi=100)),
                           (".json", lambda p: p.write_text(json.dumps({"args": vars(args), "curve": curve}, indent=2)))):
        partial = out.with_name(out.name + ".partial" + suffix)
        writer(partial)
        partial.replace(out.with_suffix(suffix))
    plt.close(fig)


if __name__ == "__main__":
    main()
