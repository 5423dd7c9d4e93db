"""Online training and evaluation of a built :class:`~pygle_nest.builder.Network` in NEST.

Samples (sequences) are streamed one after another into one running simulation: for each
sample the input and target generators get the sample's values for its time window, then NEST
runs the window (``nest.Prepare`` once, ``nest.Run`` per sample, no per-step Python loop). States
are not reset between samples. Evaluation switches plasticity off (weights, biases and time
constants stay as they are); a sample's prediction is the argmax of the output rates summed
over the sample.
"""

import sys

import numpy as np

from . import checkpoint as checkpoints
from .nest_backend import gathered_status, stream_amplitudes
from .parallel import is_root

PLASTIC_UNIT_RATES = ("eta_bias", "eta_tau")


class Trainer:
    """Streams samples through a built network; the network must have one input and one output
    population."""

    def __init__(self, net):
        import nest

        if net.nest is None:
            raise ValueError("build the network first (net.build())")
        (self.input_name, inputs), = net.inputs.items()
        (self.output_name, targets), = net.targets.items()
        self.net = net
        self.output = net.populations[self.output_name]
        streams = net.nest.streams
        self.input_generators = streams[[int(k) for k in inputs]]
        self.target_generators = streams[[int(k) for k in targets]]
        self.h = net.spec.resolution
        self.step = int(round(nest.biological_time / self.h))
        self.models = [p.model for p in net.projections] + \
                      [p.model + "_backward" for p in net.projections if p.feedback == "transposed"]

    def _check(self, x, y=None):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        n_in = len(self.input_generators)
        if x.ndim != 2 or x.shape[1] != n_in or len(x) == 0:
            raise ValueError(f"a sample's input must be (steps x {n_in}) with at least one step; got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("a sample's input must be finite")
        if y is not None:
            y = np.broadcast_to(np.asarray(y, dtype=float), (len(x), len(self.target_generators)))
        return x, y

    def present(self, x, y=None):
        """Stream one sample (steps x inputs) with its targets (steps x outputs, or one row held
        for the whole sample; None: no target). Returns the output rates summed over the sample."""
        import nest

        x, y = self._check(x, y)
        n = len(x)
        y = np.zeros((n, len(self.target_generators))) if y is None else y
        self.input_generators.set([stream_amplitudes(x[:, k], self.h, self.step) for k in range(x.shape[1])])
        self.target_generators.set([stream_amplitudes(y[:, k], self.h, self.step) for k in range(y.shape[1])])
        self.output.nodes.set({"r_sum": 0.0})
        nest.Run(n * self.h)
        self.step += n
        return gathered_status(self.output.nodes, ["r_sum"])["r_sum"]

    def loss(self, mean_output, target):
        """The sample's cost of its mean output: cross-entropy of the softmax, or squared error."""
        target = np.asarray(target, dtype=float)
        target = target if target.ndim == 1 else target.mean(axis=0)
        if self.net.spec.units["loss"][self.output.indices[0]] == 1:
            z = mean_output - mean_output.max()
            return float(-np.sum(target * (z - np.log(np.sum(np.exp(z))))))
        return float(np.mean((mean_output - target) ** 2))

    def set_learning(self, on):
        """Switch plasticity of all projections (and of unit biases / time constants) on or off."""
        import nest

        for model in self.models:
            nest.SetDefaults(model, {"learning": bool(on)})
        units = self.net.nest
        if not on:
            self._unit_rates = units.unit_states(PLASTIC_UNIT_RATES)
            units.units.set({k: 0.0 for k in PLASTIC_UNIT_RATES})
        elif getattr(self, "_unit_rates", None):
            units.set_unit_states(self._unit_rates)
            self._unit_rates = None

    def set_learning_rate(self, eta):
        """The learning rate of all projections."""
        import nest

        for model in self.models:
            nest.SetDefaults(model, {"eta": float(eta)})

    def run(self, inputs, targets, train=True, after_sample=None):
        """Stream all samples; returns per sample the output summed over the sample and its cost
        (see loss). inputs: samples x steps (x inputs);
        targets: samples x outputs (held over the sample) or samples x steps x outputs.
        after_sample(done, sums, costs) is called after each sample with the lists so far."""
        import nest

        if len(inputs) == 0:
            raise ValueError("no samples: inputs is empty")
        if len(targets) != len(inputs):
            raise ValueError(f"{len(inputs)} samples but {len(targets)} targets")
        self.set_learning(train)
        sums, errors = [], []
        nest.Prepare()
        try:
            for x, y in zip(inputs, targets):
                sums.append(self.present(x, y))
                errors.append(self.loss(sums[-1] / len(x), y))
                if after_sample is not None:
                    after_sample(len(sums), sums, errors)
        finally:
            nest.Cleanup()
            self.set_learning(True)
        return np.array(sums), np.array(errors)

    def evaluate(self, inputs, labels):
        """Accuracy (argmax of the summed output) with plasticity off; labels: class per sample."""
        n_out = len(self.target_generators)
        onehot = np.eye(n_out)[np.asarray(labels, dtype=int)]
        sums, errors = self.run(inputs, onehot, train=False)
        return float(np.mean(np.argmax(sums, axis=1) == labels)), float(np.mean(errors))

    def train(self, inputs, labels, epochs=1, rng=None, lr_schedule=None, verbose=True, checkpoint=None,
              checkpoint_every=0, resume=False, after_epoch=None, extra=None):
        """Epochs of online training with shuffling; lr_schedule(epoch) -> learning rate.
        Returns per epoch the training accuracy and mean cost.

        checkpoint: a path; the network's state and the position in the data are written there
        after every epoch and every checkpoint_every samples. resume=True: load it first (into
        this network, freshly built in a fresh kernel) and continue where it was: the run goes
        on exactly as the one that wrote it would have.
        after_epoch(history): called after each epoch, before its checkpoint (it may evaluate);
        True stops the training. extra: a dict of the caller's (JSON values) that checkpoints
        keep; resume=True updates it with the saved one."""
        import nest

        rng = np.random.default_rng(0) if rng is None else rng
        if checkpoint is None and (checkpoint_every or resume):
            raise ValueError("checkpoint_every and resume need a checkpoint path")
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 (0: after every epoch only); got {checkpoint_every}")
        n_out = len(self.target_generators)
        labels = np.asarray(labels, dtype=int)
        # the position in the data: epoch, samples done, their order, summed outputs and costs
        at = {"epoch": 0, "sample": 0, "order": None, "sums": [], "errors": [], "history": []}
        extra = {} if extra is None else extra
        if resume:
            at = checkpoints.load(self.net, checkpoint)
            self.step = int(round(nest.biological_time / self.h))
            rng.bit_generator.state = at.pop("rng")
            extra.update(at.pop("extra"))

        def save():
            checkpoints.save(self.net, checkpoint, {**at, "rng": rng.bit_generator.state, "extra": extra})

        while at["epoch"] < epochs:
            if lr_schedule is not None:
                self.set_learning_rate(lr_schedule(at["epoch"]))
            if at["order"] is None:
                at["order"] = rng.permutation(len(inputs)).tolist()
            order = np.asarray(at["order"])
            done = at["sample"]
            at["sums"], at["errors"] = at["sums"][:done], at["errors"][:done]
            bar = ProgressBar(f"epoch {at['epoch'] + 1}/{epochs}", labels[order]) if verbose and is_root() else None

            def after_sample(k, sums, errors):
                at["sample"] = done + k
                at["sums"].append(sums[-1].tolist())
                at["errors"].append(errors[-1])
                if bar is not None:
                    bar(at["sums"], at["errors"])
                if checkpoint is not None and checkpoint_every and (done + k) % checkpoint_every == 0 and done + k < len(order):
                    save()

            self.run([inputs[k] for k in order[done:]], np.eye(n_out)[labels[order[done:]]], after_sample=after_sample)
            if bar is not None:
                bar.close()
            accuracy = float(np.mean(np.argmax(at["sums"], axis=1) == labels[order]))
            at = {"epoch": at["epoch"] + 1, "sample": 0, "order": None, "sums": [], "errors": [],
                  "history": at["history"] + [(accuracy, float(np.mean(at["errors"])))]}
            stop = after_epoch is not None and after_epoch([tuple(h) for h in at["history"]])
            if checkpoint is not None:
                save()
            if stop:
                break
        return [tuple(h) for h in at["history"]]


class ProgressBar:
    """A one-line progress bar with the running cost and accuracy (last 50 samples), on stderr."""

    def __init__(self, title, labels, width=30):
        self.title, self.labels, self.width = title, labels, width
        self.shown = -1

    def __call__(self, sums, errors):
        done, total = len(sums), len(self.labels)
        if int(100 * done / total) == self.shown:  # at most a hundred updates (logs stay short)
            return
        self.shown = int(100 * done / total)
        filled = int(self.width * done / total)
        recent = slice(max(0, done - 50), done)
        accuracy = np.mean(np.argmax(sums[recent], axis=1) == self.labels[recent])
        sys.stderr.write(f"\r{self.title} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
                         f"loss {np.mean(errors[recent]):.4f} accuracy {accuracy:.2f}")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")
