"""Sequence classification with a layered GLE network trained in NEST: the paper's MNIST-1D
task or any data set of labelled sequences. What ``python -m pygle_nest train`` and
``evaluate`` run.

The network (defaults: the paper's 14,956-parameter MNIST-1D network): an input relay per
input channel; ``layers`` hidden layers made of time-constant groups, the first linear, the
others tanh; a linear output unit per class with cross-entropy (beta = 1, gamma = 0), tau_m =
tau_r = ``output_tau``. Every projection all-to-all with transposed feedback; weights and biases
start uniform in +-1/sqrt(fan_in) and learn with one optimizer at every step. Prediction:
argmax of the output summed over the sequence.

The protocol (defaults: the paper's): ``lanes`` samples at a time through the shared weights
(the paper's batch of 100 parallel streams; states are never reset), Adam at ``lr`` every step
on the lane mean of e r, the rate of the step before paired with the error (``rate_lag`` 1, the
paper's scheme), and a reduce-on-plateau schedule (``patience``, ``factor``) stepped once per
epoch on the test loss (``plateau_on`` "test", as the paper, which has no validation split) or
on the loss of a validation split held out of the training data (``plateau_on`` "validation",
the last ``validation`` training samples). Training stops after ``epochs`` or once the
schedule has brought the rate below ``lr_floor``. ``accumulate`` K >= 1 (not the paper's):
weights and biases take one optimizer step per K batches, with the increments of their steps
summed (``update_interval`` = K x the steps of a sample; with one lane and K = 1, once per sample).
"""

import time
from pathlib import Path

import numpy as np

from .builder import Group, Network
from .build import cache_dir
from .results import pyplot, write_figure, write_json

#: The paper's MNIST-1D set-up.
CONFIG = {
    "data": "mnist1d",          # "mnist1d" (generated locally) or a .npz with x_train, y_train, x_test, y_test
    "train": 4000,              # samples used (at most)
    "test": 1000,
    "resolution": 0.2,          # ms per sequence point
    "layers": 6,
    "groups": [[18, 0.6, 0.2], [18, 1.2, 0.2], [17, 1.2, 1.2]],  # per layer: (n, tau_m, tau_r)
    "output_tau": 1.2,          # tau_m = tau_r of the output units
    "lanes": 100,               # samples at a time (parallel streams through the shared weights)
    "optimizer": "adam",
    "lr": 1e-3,                 # per step, of the weights and biases
    "rate_lag": 1,              # 1: e(n) with r(n - 1), the paper's scheme; 0: e(n) with r(n)
    "accumulate": 0,            # 0: an optimizer step every time step (the paper); K: one per K batches, the sum
    "patience": 2,              # reduce-on-plateau: epochs without improvement before the rate falls
    "factor": 0.5,              # ... by this factor
    "plateau_on": "test",       # the loss the schedule watches: "test" (the paper) or "validation"
    "validation": 500,          # training samples held out for plateau_on "validation"
    # stop once the schedule has brought the rate below this: at 1e-8 an epoch (14,400 steps)
    # moves a weight by 1.4e-4 at most; a floor of 1e-6 stopped MNIST-1D at 0.914 (seed 0, epoch
    # 45), which went on to 0.93 at rates of 1e-7 to 3e-8 (epochs 55 to 63)
    "lr_floor": 1e-8,
    "seed": 0,
    "microcircuit": False,      # the explicit microcircuit (representation and error neurons apart)
}


#: The paper's MNIST-1D networks by parameter count (6 hidden layers; groups (n, tau_m, tau_r)).
#: 15k: the published network (14,956 parameters). 42k: the paper's 42k variant (93.5 +- 0.9 %),
#: whose layout the paper does not print; read as the same depth and groups, 90 units a layer:
#: 2 x 90 + 5 x (90^2 + 90) + 90 x 10 + 10 = 42,040 parameters.
NETWORKS = {"15k": CONFIG["groups"], "42k": [[30, 0.6, 0.2], [30, 1.2, 0.2], [30, 1.2, 1.2]]}

#: The pin of setup.py and requirements.txt.
MNIST1D_REQUIREMENT = "mnist1d==0.0.2.post1"


def mnist1d(cache=None):
    """MNIST-1D as published (mnist1d's default arguments, sequence length 360, seed 42),
    generated locally (cached). Returns x_train, y_train, x_test, y_test."""
    try:
        from mnist1d.data import get_dataset, get_dataset_args
    except ImportError:  # a one-line message through the command line's error path, not a traceback
        raise ValueError(f"data 'mnist1d' needs the package mnist1d, which is not installed: "
                         f"pip install {MNIST1D_REQUIREMENT} (or give --data FILE.npz)") from None

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
        if y.ndim != 1:
            raise ValueError(f"data: y_{part} must hold one integer label per sample (not one-hot rows); "
                             f"got shape {y.shape}")
        if x.ndim != 3 or len(x) == 0 or x.shape[1] == 0 or len(y) != len(x):
            raise ValueError(f"data: x_{part} must be samples x steps (x inputs) with one label per sample; "
                             f"got x {x.shape}, y {y.shape}")
        if not np.all(np.isfinite(x)) or not np.issubdtype(y.dtype, np.integer) or np.any(y < 0):
            raise ValueError(f"data: x_{part} must be finite and y_{part} integer labels >= 0")
        out += [x, y]
    if out[0].shape[2] != out[2].shape[2]:
        raise ValueError(f"data: x_train has {out[0].shape[2]} inputs per step, x_test {out[2].shape[2]}")
    return tuple(out)


def network(config, n_inputs, n_classes, threads=1, sample_steps=None):
    """Build the config's network in a fresh kernel with `threads` threads per process, for
    samples of `sample_steps` steps (needed for ``accumulate`` > 0)."""
    import nest

    if not isinstance(config["layers"], int) or config["layers"] < 1:
        raise ValueError(f"layers must be an integer >= 1; got {config['layers']!r}")
    if not (isinstance(config["accumulate"], int) and not isinstance(config["accumulate"], bool)
            and config["accumulate"] >= 0):
        raise ValueError(f"accumulate (--accumulate) must be an integer >= 0 (batches per optimizer step; "
                         f"0: every step); got {config['accumulate']!r}")
    if config["accumulate"] and not (isinstance(sample_steps, int) and sample_steps >= 1):
        raise ValueError(f"accumulate > 0 needs the steps of a sample (sample_steps >= 1); got {sample_steps!r}")
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    lr, opt = config["lr"], config["optimizer"]
    optimizer = {"optimizer": opt, "update_interval": max(1, config["accumulate"] * (sample_steps or 1))}
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr (--lr) must be a number > 0; got {lr!r}")
    if not config["output_tau"] >= config["resolution"]:
        raise ValueError(f"output_tau (--output-tau, {config['output_tau']} ms) must be >= the resolution "
                         f"(--resolution, {config['resolution']} ms)")
    if not (isinstance(config["lanes"], int) and config["lanes"] >= 1):
        raise ValueError(f"lanes (--lanes) must be an integer >= 1; got {config['lanes']!r}")
    net = Network(resolution=config["resolution"], gamma=0.0, seed=config["seed"], lanes=config["lanes"],
                  microcircuit=config["microcircuit"])
    rng = np.random.default_rng(config["seed"] + 1)

    def biases(n, fan_in):  # uniform in +-1/sqrt(fan_in), as the weights
        return rng.uniform(-1.0, 1.0, n) / np.sqrt(fan_in)

    layers = [net.input("x", n_inputs)]
    groups = [Group(int(n), float(tm), float(tr)) for n, tm, tr in config["groups"]]
    width = sum(g.n for g in groups)
    for k in range(config["layers"]):
        layers.append(net.layer(f"h{k + 1}", groups, activation="linear" if k == 0 else "tanh", eta_bias=lr,
                                bias=biases(width, layers[-1].size), **optimizer))
    layers.append(net.output("y", n_classes, loss="cross_entropy", beta=1.0, tau_m=config["output_tau"],
                             eta_bias=lr, bias=biases(n_classes, layers[-1].size), **optimizer))
    for below, above in zip(layers[:-1], layers[1:]):
        net.project(below, above, eta=lr, rate_lag=config["rate_lag"], weights="uniform", **optimizer)
    net.build()
    return net


def data_shape(data):
    """Input channels and classes of a data set (x_train, y_train, x_test, y_test)."""
    x, y, _, y_test = data
    return {"inputs": int(x.shape[2]), "classes": int(max(y.max(), y_test.max())) + 1}


def network_and_data(config, threads=1, shape=None):
    """The config's data set and its network (as many inputs and classes as the data has);
    shape: a trained network's inputs and classes, which the data must fit (else a ValueError
    that names both)."""
    data = load_data(config)
    found = data_shape(data)
    if shape is not None:
        if found["inputs"] != shape["inputs"] or found["classes"] > shape["classes"]:
            raise ValueError(f"the data {config['data']} has {found['inputs']} input channel(s) and labels of "
                             f"{found['classes']} classes; the trained network takes {shape['inputs']} input "
                             f"channel(s) and {shape['classes']} classes")
        found = shape
    return network(config, found["inputs"], found["classes"], threads, sample_steps=data[0].shape[1]), data


class _Extra(dict):
    """What the checkpoints of train keep besides the network. Trainer.train(resume=True) updates
    it with the saved one; the limits stay this run's, so that a resumed run's own --epochs and
    --hours are what its checkpoints keep for the next --resume."""

    def update(self, saved):
        super().update(saved, limits=self["limits"])


def train(config, epochs, hours=None, out="results/train", checkpoint=None, checkpoint_every=2000, resume=False,
          threads=1):
    """Train for `epochs` (or as many as end within `hours`, judged by the last one, or until the
    plateau schedule brings the rate below lr_floor), test after every epoch (plasticity off);
    writes out.png (learning curve) and out.json after every epoch and a checkpoint (default:
    out.ckpt), which keeps `epochs` and `hours` too (``extra["limits"]`` of its position).
    Returns the learning curve."""
    from .parallel import is_root
    from .training import PlateauSchedule, Trainer

    net, (x, y, x_test, y_test) = network_and_data(config, threads)
    if config["plateau_on"] not in ("test", "validation"):
        raise ValueError(f"plateau_on must be 'test' or 'validation'; got {config['plateau_on']!r}")
    x_val = y_val = None
    if config["plateau_on"] == "validation":
        n_val = config["validation"]
        if not (isinstance(n_val, int) and 1 <= n_val < len(x)):
            raise ValueError(f"validation must be an integer in [1, {len(x) - 1}] (training samples held out); "
                             f"got {n_val!r}")
        x, y, x_val, y_val = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    out = Path(out)
    checkpoint = Path(checkpoint) if checkpoint else out.with_name(out.name + ".ckpt")
    schedule = PlateauSchedule(config["lr"], config["patience"], config["factor"])
    extra = _Extra(config=config, limits={"epochs": epochs, "hours": hours}, curve=[], schedule=schedule.state(),
                   samples={"train": len(x), "validation": 0 if x_val is None else len(x_val), "test": len(x_test)},
                   shape=data_shape((x, y, x_test, y_test)))
    trainer = Trainer(net)
    last = [time.time()]

    def after_epoch(history):
        from . import checkpoint as checkpoints
        # the checkpoint keeps the state this test pass starts from: evaluate reproduces it
        trainer.test_state = checkpoints.state(net, connections=False) if checkpoint is not None else None
        scores = trainer.scores(x_test, y_test, restore=False)  # the paper's protocol: states carry on
        accuracy, cost = scores["accuracy"], scores["loss"]
        entry = {"epoch": len(history), "lr": schedule.rate, "online_accuracy": history[-1][0],
                 "online_loss": history[-1][1], "test_accuracy": accuracy, "test_loss": cost,
                 "test_accuracy_centred": scores["centred_accuracy"],
                 "test_accuracy_running_centred": scores["running_centred_accuracy"]}
        if x_val is not None:
            entry["validation_accuracy"], entry["validation_loss"] = trainer.evaluate(x_val, y_val, restore=False)
        now = time.time()
        epoch_hours = (now - last[0]) / 3600
        entry["hours"] = (extra["curve"][-1]["hours"] if extra["curve"] else 0.0) + epoch_hours
        last[0] = now
        extra["curve"].append(entry)
        trainer.set_learning_rate(schedule.step(entry["validation_loss" if x_val is not None else "test_loss"]))
        extra["schedule"] = schedule.state()
        if is_root():
            print(f"epoch {entry['epoch']}: online {entry['online_accuracy']:.3f} (loss {entry['online_loss']:.3f}), "
                  f"test {accuracy:.3f} (loss {cost:.3f}; outputs centred over the test set "
                  f"{entry['test_accuracy_centred']:.3f}, by their running mean "
                  f"{entry['test_accuracy_running_centred']:.3f}), lr {entry['lr']:.2g}, {entry['hours']:.2f} h",
                  flush=True)
            write_results(extra, out)
        too_late = hours is not None and entry["hours"] + epoch_hours > hours  # the next epoch would end too late
        return too_late or schedule.rate < config["lr_floor"]

    if resume:
        from . import checkpoint as checkpoints
        schedule.restore(checkpoints.position(checkpoint)["extra"]["schedule"])
        trainer.set_learning_rate(schedule.rate)
    trainer.train(x, y, epochs=epochs, rng=np.random.default_rng(config["seed"]), checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, resume=resume, after_epoch=after_epoch, extra=extra)
    return extra["curve"]


#: The paper's mean test accuracy per epoch on MNIST-1D (10 seeds; Ellenberger et al. 2024, Fig. 8d)
PUBLISHED_MNIST1D = {1: 0.135, 3: 0.219, 5: 0.377, 10: 0.458, 20: 0.512, 30: 0.608, 50: 0.877, 75: 0.915,
                     150: 0.917}


def learning_curve(extra):
    """The figure of train's learning curve: accuracies; losses and the learning rate on axes of
    their own (log scales). The x-range is the run's epochs: a short run is not squeezed into the
    corner of the published curve's 150 epochs, which is cut where the run ends."""
    curve = extra["curve"]
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    epochs = [c["epoch"] for c in curve]
    ax.plot(epochs, [c["test_accuracy"] for c in curve], "o-", ms=3, label="test (plasticity off)")
    ax.plot(epochs, [c["test_accuracy_centred"] for c in curve], "--", lw=1,
            label="test, outputs centred over the test set")
    if "test_accuracy_running_centred" in curve[0]:  # curves of earlier versions lack it
        ax.plot(epochs, [c["test_accuracy_running_centred"] for c in curve], ":", lw=1.5,
                label="test, outputs minus their running mean (label-free, causal)")
    if "validation_accuracy" in curve[0]:
        ax.plot(epochs, [c["validation_accuracy"] for c in curve], "o-", ms=3, label="validation (plasticity off)")
    ax.plot(epochs, [c["online_accuracy"] for c in curve], ".-", ms=3, alpha=0.6,
            label="online (while learning, label shown)")
    if extra["config"]["data"] == "mnist1d":
        ax.plot(list(PUBLISHED_MNIST1D), list(PUBLISHED_MNIST1D.values()), "k*--", label="published (mean of 10 seeds)")
    ax.set(ylabel="accuracy", title=f"{extra['config']['data']}, GLE in NEST", ylim=(0, 1))
    ax.legend(fontsize=8)
    bx.semilogy(epochs, [c["test_loss"] for c in curve], "o-", ms=3, label="test loss")
    bx.semilogy(epochs, [c["online_loss"] for c in curve], ".-", ms=3, label="online loss")
    bx.set(ylabel="loss", title="loss and learning rate")
    rate = bx.twinx()
    rate.semilogy(epochs, [c["lr"] for c in curve], "k:", label="learning rate")
    rate.set_ylabel("learning rate")
    bx.legend(*(a + b for a, b in zip(bx.get_legend_handles_labels(), rate.get_legend_handles_labels())), fontsize=8)
    margin = max(0.5, 0.03 * epochs[-1])
    for a in (ax, bx):
        a.set(xlabel="epoch", xlim=(epochs[0] - margin, epochs[-1] + margin))
        a.xaxis.get_major_locator().set_params(integer=True)
    return fig


def write_results(extra, out):
    write_figure(learning_curve(extra), Path(out).with_suffix(".png"), dpi=100)
    write_json({"config": extra["config"], "samples": extra["samples"], "curve": extra["curve"]},
               Path(out).with_suffix(".json"))


def evaluate(checkpoint, threads=1, data=None):
    """Test accuracy and mean cost of a training checkpoint, in a fresh kernel: from the state
    that the last epoch's test pass started from (the learning curve's figures), where the
    checkpoint kept it, else from its final state. data: another data set to test on (same
    inputs and classes)."""
    from . import checkpoint as checkpoints
    from .training import Trainer

    extra = checkpoints.position(checkpoint)["extra"]
    config = {**CONFIG, **extra["config"]}  # settings added since the checkpoint: their defaults
    if data is not None:
        config["data"] = str(data)
    net, (_, _, x_test, y_test) = network_and_data(config, threads, shape=extra["shape"])
    checkpoints.load(net, checkpoint, at="test" if checkpoints.has_test_state(checkpoint) and data is None else "end")
    return Trainer(net).evaluate(x_test, y_test)
