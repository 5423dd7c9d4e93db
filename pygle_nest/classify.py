"""Sequence classification with a layered GLE network, trained online in NEST: the paper's
MNIST-1D task (gle.md section 5, third row) or any data set of labelled sequences. What
``python -m pygle_nest train`` and ``evaluate`` run.

The network (defaults: the paper's 14,956-parameter MNIST-1D network): an input relay per
input channel; ``layers`` hidden layers made of time-constant groups, the first linear, the
others tanh; a linear output unit per class with cross-entropy (beta = 1, gamma = 0). Every
projection all-to-all with transposed feedback; weights and biases learn with one optimizer.
Prediction: argmax of the output summed over the sequence.
"""

import time
from pathlib import Path

import numpy as np

from .builder import Group, Network
from .build import cache_dir
from .results import pyplot, write_figure, write_json

#: The paper's MNIST-1D set-up (learning rates: the ones of this project's online runs).
CONFIG = {
    "data": "mnist1d",          # "mnist1d" (generated locally) or a .npz with x_train, y_train, x_test, y_test
    "train": 4000,              # samples used (at most)
    "test": 1000,
    "resolution": 0.2,          # ms per sequence point
    "layers": 6,
    "groups": [[18, 0.6, 0.2], [18, 1.2, 0.2], [17, 1.2, 1.2]],  # per layer: (n, tau_m, tau_r)
    "output_tau": 0.2,          # tau_m = tau_r of the output units
    "optimizer": "adam",
    "lr": 1e-5,                 # per step of the weights and biases
    "seed": 0,
}


def mnist1d(cache=None):
    """MNIST-1D as published (mnist1d's default arguments, sequence length 360, seed 42),
    generated locally (cached). Returns x_train, y_train, x_test, y_test."""
    from mnist1d.data import get_dataset, get_dataset_args

    args = get_dataset_args()
    args.final_seq_length = 360
    args.seed = 42
    path = Path(cache or cache_dir()) / "mnist1d_360_seed42.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = get_dataset(args, path=str(path), download=False, regenerate=not path.exists(), verbose=False)
    return data["x"], data["y"], data["x_test"], data["y_test"]


def load_data(config):
    """The data set of a config, checked: (x_train, y_train, x_test, y_test) with x as samples x
    steps x inputs and integer labels >= 0."""
    if config["data"] == "mnist1d":
        arrays = mnist1d()
    else:
        path = Path(config["data"])
        if not path.exists():
            raise ValueError(f"data: no file {path} (give 'mnist1d' or a .npz with x_train, y_train, x_test, y_test)")
        with np.load(path) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise ValueError(f"data: {path} lacks {sorted(missing)}")
            arrays = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    for name, limit in (("train", 1), ("test", 1)):
        if not isinstance(config[name], int) or config[name] < limit:
            raise ValueError(f"{name} (samples) must be an integer >= {limit}; got {config[name]!r}")
    out = []
    for (x, y), n, part in zip((arrays[:2], arrays[2:]), (config["train"], config["test"]), ("train", "test")):
        x, y = np.asarray(x, dtype=float)[:n], np.asarray(y)[:n]
        x = x[:, :, None] if x.ndim == 2 else x
        if x.ndim != 3 or len(x) == 0 or x.shape[1] == 0 or len(y) != len(x):
            raise ValueError(f"data: x_{part} must be samples x steps (x inputs) with one label per sample; "
                             f"got x {x.shape}, y {y.shape}")
        if not np.all(np.isfinite(x)) or not np.issubdtype(y.dtype, np.integer) or np.any(y < 0):
            raise ValueError(f"data: x_{part} must be finite and y_{part} integer labels >= 0")
        out += [x, y]
    return tuple(out)


def network(config, n_inputs, n_classes, threads=1):
    """Build the config's network in a fresh kernel with `threads` threads per process."""
    import nest

    if not isinstance(config["layers"], int) or config["layers"] < 1:
        raise ValueError(f"layers must be an integer >= 1; got {config['layers']!r}")
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    lr, opt = config["lr"], config["optimizer"]
    net = Network(resolution=config["resolution"], gamma=0.0, seed=config["seed"])
    layers = [net.input("x", n_inputs)]
    groups = [Group(int(n), float(tm), float(tr)) for n, tm, tr in config["groups"]]
    for k in range(config["layers"]):
        layers.append(net.layer(f"h{k + 1}", groups, activation="linear" if k == 0 else "tanh", eta_bias=lr,
                                optimizer=opt))
    layers.append(net.output("y", n_classes, loss="cross_entropy", beta=1.0, tau_m=config["output_tau"],
                             eta_bias=lr, optimizer=opt))
    for below, above in zip(layers[:-1], layers[1:]):
        net.project(below, above, optimizer=opt, eta=lr)
    net.build()
    return net


def network_and_data(config, threads=1):
    """The config's data set and its network (as many inputs and classes as the data has)."""
    data = load_data(config)
    x, y, _, y_test = data
    return network(config, x.shape[2], int(max(y.max(), y_test.max())) + 1, threads), data


def train(config, epochs, hours=None, out="results/train", checkpoint=None, checkpoint_every=500, resume=False,
          threads=1):
    """Train online for `epochs` (or as many as end within `hours`, judged by the last one), test after
    every epoch (plasticity off); writes out.png (learning curve) and out.json after every epoch
    and a checkpoint (default: out.ckpt.npz). Returns the learning curve."""
    from .parallel import is_root
    from .training import Trainer

    net, (x, y, x_test, y_test) = network_and_data(config, threads)
    out = Path(out)
    checkpoint = Path(checkpoint) if checkpoint else out.with_name(out.name + ".ckpt.npz")
    extra = {"config": config, "curve": []}
    trainer = Trainer(net)
    last = [time.time()]

    def after_epoch(history):
        accuracy, cost = trainer.evaluate(x_test, y_test)
        now = time.time()
        epoch_hours = (now - last[0]) / 3600
        spent = (extra["curve"][-1]["hours"] if extra["curve"] else 0.0) + epoch_hours
        last[0] = now
        extra["curve"].append({"epoch": len(history), "hours": spent, "train_accuracy": history[-1][0],
                               "train_loss": history[-1][1], "test_accuracy": accuracy, "test_loss": cost})
        if is_root():
            c = extra["curve"][-1]
            print(f"epoch {c['epoch']}: train {c['train_accuracy']:.3f} (loss {c['train_loss']:.3f}), "
                  f"test {accuracy:.3f} (loss {cost:.3f}), {c['hours']:.2f} h", flush=True)
            write_results(extra, out)
        return hours is not None and spent + epoch_hours > hours  # the next epoch would end too late

    trainer.train(x, y, epochs=epochs, rng=np.random.default_rng(config["seed"]), checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, resume=resume, after_epoch=after_epoch, extra=extra)
    return extra["curve"]


def write_results(extra, out):
    curve = extra["curve"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    epochs = [c["epoch"] for c in curve]
    ax.plot(epochs, [c["train_accuracy"] for c in curve], "o-", label="train (online, plasticity on)")
    ax.plot(epochs, [c["test_accuracy"] for c in curve], "o-", label="test (plasticity off)")
    ax.set(xlabel="epoch", ylabel="accuracy", title=f"{extra['config']['data']}, GLE in NEST", ylim=(0, 1))
    ax.legend()
    write_figure(fig, Path(out).with_suffix(".png"), dpi=100)
    write_json({"config": extra["config"], "curve": curve}, Path(out).with_suffix(".json"))


def evaluate(checkpoint, threads=1):
    """Test accuracy and mean cost of a training checkpoint, in a fresh kernel."""
    from . import checkpoint as checkpoints
    from .training import Trainer

    net, (_, _, x_test, y_test) = network_and_data(checkpoints.position(checkpoint)["extra"]["config"], threads)
    checkpoints.load(net, checkpoint)
    return Trainer(net).evaluate(x_test, y_test)
