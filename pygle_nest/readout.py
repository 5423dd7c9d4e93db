"""GLE readouts of spiking networks: the spikes of NEST neurons, through spike traces (gle_neuron's
receptor ``spikes``), drive a hidden layer of time-constant groups (a memory of the last tens of
milliseconds) and a linear output, which learns online, with local plasticity only, to follow a
target signal streamed into it. With the baselines to judge one by: the same network with
instantaneous errors (``prospective_error`` false), and a linear regression of the target on the
spike traces fitted offline (the best memoryless linear readout).

Used by ``examples/spiking_readout.py`` (Brunel's balanced network) and
``examples/microcircuit_readout.py`` (Potjans & Diesmann's cortical microcircuit).
"""

import numpy as np

from .builder import Group, Network
from .nest_backend import recorded, stream_amplitudes
from .parameters import RECEPTORS
from .results import pyplot

#: The hidden layer's groups: 15 tanh units each, memories of about 5, 15 and 40 ms.
MEMORY = (Group(15, tau_m=5.0, tau_r=0.5), Group(15, tau_m=15.0, tau_r=1.5), Group(15, tau_m=40.0, tau_r=4.0))


def smooth_signal(n_samples, rng, sample, tau=15.0):
    """A smooth random signal, one value per `sample` ms: white noise through two low-pass
    filters of tau ms, zero mean, unit variance."""
    from scipy.signal import lfilter

    k = np.exp(-sample / tau)
    x = rng.normal(size=n_samples + 2000)
    for _ in range(2):
        x = lfilter([1 - k], [1, -k], x)
    x = x[2000:]  # past the filters' start
    return (x - x.mean()) / x.std()


class SpikeReadout:
    """A GLE network reading n_inputs spike trains: traces (tau_s ms) -> MEMORY -> one linear
    output; Adam on the weights at rate eta (biases fixed at 0: with one input stream a learning
    output bias follows the target online instead of learning it). Built in the current kernel
    when created."""

    def __init__(self, name, n_inputs, prospective_error=True, seed=1, eta=1.5e-5, resolution=0.1, tau_s=5.0):
        self.net = net = Network(resolution=resolution, seed=seed)
        self.traces = net.spike_input(name + "_traces", n_inputs, tau_s=tau_s)
        adam = {"optimizer": "adam", "prospective_error": prospective_error}
        self.memory = net.layer(name + "_memory", list(MEMORY), **adam)
        self.out = net.output(name + "_readout", 1, beta=1.0, tau_m=1.0, **adam)
        net.project(self.traces, self.memory, optimizer="adam", eta=eta, rate_lag=1)
        net.project(self.memory, self.out, optimizer="adam", eta=eta, rate_lag=1)
        net.build()
        self.recorder = None

    def read(self, neurons, weight=20.0):
        """Feed the spikes of NEST neurons (one per trace unit) into the traces."""
        import nest

        nest.Connect(neurons, self.traces.nodes, "one_to_one",
                     syn_spec={"weight": weight, "receptor_type": RECEPTORS["spikes"]})

    def set_target(self, values):
        """The target, one value per step from time 0."""
        (stream,) = self.net.targets[self.out.name]
        self.net.nest.streams[stream].set(stream_amplitudes(values, self.net.spec.resolution))

    def record(self, interval):
        """Record the output and its target every interval ms."""
        import nest

        self.recorder = nest.Create("multimeter", params={"record_from": ["r", "y"], "interval": interval})
        nest.Connect(self.recorder, self.out.nodes)

    def set_learning(self, rate):
        """Adam's rate on every weight (0: plasticity off)."""
        import nest

        for p in self.net.projections:
            for model in (p.model, p.model + "_backward"):
                nest.SetDefaults(model, {"eta": rate, "learning": rate > 0})

    def recorded(self):
        """{"output", "target"}: the recordings (on every rank)."""
        values = recorded(self.recorder, self.out.nodes)
        return {"output": values["r"][:, 0], "target": values["y"][:, 0]}


def attach(readouts, neurons, target, sample):
    """Every readout reads the neurons and learns the target (one value per step from time 0),
    its output recorded every sample ms; returns a multimeter of the first one's traces."""
    import nest

    for readout in readouts.values():
        readout.read(neurons)
        readout.set_target(target)
        readout.record(sample)
    traces = nest.Create("multimeter", params={"record_from": ["r"], "interval": sample})
    nest.Connect(traces, next(iter(readouts.values())).traces.nodes)
    return traces


def learn_then_test(readouts, seconds_train, seconds_test, eta, sample):
    """seconds_train of online learning, Adam's rate eta falling to a third, a tenth and a
    thirtieth of it by quarters (one input stream: the rate alone averages the noise out), then
    seconds_test (and one sample more) with plasticity off."""
    import nest

    for rate in (eta, eta / 3, eta / 10, eta / 30):
        for readout in readouts.values():
            readout.set_learning(rate)
        nest.Simulate(1000.0 * seconds_train / 4)
    for readout in readouts.values():
        readout.set_learning(0.0)
    nest.Simulate(1000.0 * seconds_test + sample)


def nmse(prediction, target):
    """Normalised mean squared error: 0 perfect, 1 predicting the mean."""
    return float(np.mean((prediction - target) ** 2) / np.var(target))


def linear_regression(traces, target, n_train):
    """The target as predicted from the traces (samples x traces) by least squares on the first
    n_train samples (with an offset)."""
    features = np.c_[traces, np.ones(len(traces))]
    coef, *_ = np.linalg.lstsq(features[:n_train], target[:n_train], rcond=None)
    return features @ coef


def scores(runs, regression, n_train, per_second):
    """Test NMSE (after sample n_train + 1) of each run ({name: recorded()}) and of the
    regression, and the NMSE of each run's last second of training (per_second samples)."""
    target = next(iter(runs.values()))["target"]
    test = slice(n_train + 1, None)
    last = slice(n_train - per_second, n_train)
    out = {name: {"test_nmse": nmse(r["output"][test], r["target"][test]),
                  "last_train_second_nmse": nmse(r["output"][last], r["target"][last])} for name, r in runs.items()}
    out["linear regression (offline, memoryless)"] = {"test_nmse": nmse(regression[test], target[test])}
    return out


def report(runs, traces, n_train, sample, setup, target_label, out):
    """The scores of the runs and of the regression on the traces, with `setup`; printed, and
    written as out.png (figure) and out.json by rank 0. Returns them."""
    from pathlib import Path

    from .parallel import is_root
    from .results import write_figure, write_json

    regression = linear_regression(traces, next(iter(runs.values()))["target"], n_train)
    metrics = {**scores(runs, regression, n_train, int(round(1000.0 / sample))), "setup": setup}
    if is_root():
        for name, m in metrics.items():
            print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()})
        out = Path(out)
        write_figure(figure(runs, regression, n_train, sample, target_label), out.with_suffix(".png"))
        write_json(metrics, out.with_suffix(".json"))
        print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return metrics


def figure(runs, regression, n_train, sample, target_label):
    """Two panels: two seconds of the test period (each readout against the target), and the
    NMSE per second over the whole run."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(11, 7), constrained_layout=True)
    per_second = int(round(1000.0 / sample))
    first = next(iter(runs.values()))
    window = slice(n_train + 1, n_train + 1 + 2 * per_second)
    t = np.arange(len(first["target"]))[window] * sample / 1000.0
    ax.plot(t, first["target"][window], "k", lw=2, label=f"target: {target_label}")
    for k, (name, r) in enumerate(runs.items()):
        ax.plot(t, r["output"][window], alpha=1.0 if k == 0 else 0.8, label=name)
    ax.plot(t, regression[window], alpha=0.8, label="linear regression (offline)")
    ax.set_xlabel("time (s), test period (plasticity off)")
    ax.legend(fontsize=8)
    for name, r in runs.items():
        err = (r["output"] - r["target"]) ** 2
        seconds = len(err) // per_second
        curve = err[: seconds * per_second].reshape(seconds, per_second).mean(axis=1) / np.var(r["target"])
        bx.semilogy(np.arange(1, seconds + 1), curve, label=name)
    bx.axvline(n_train * sample / 1000.0, color="k", lw=0.8, ls=":")
    bx.set_xlabel("time (s); learning until the dotted line")
    bx.set_ylabel("NMSE per second")
    bx.legend(fontsize=8)
    return fig
