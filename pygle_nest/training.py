"""Training and evaluation of a built :class:`~pygle_nest.builder.Network` in NEST, one batch of
samples at a time: a network of B lanes takes B samples at once, one per lane, through its
shared connections (the paper's parallel streams); B = 1 is online learning, one sample after
another.

For each batch the input units and the output units get the samples' values and targets as
lane inputs (``lane_inputs`` of gle_neuron, one row of lanes per step), then NEST runs the
batch's steps (``nest.Prepare`` once, ``nest.Run`` per batch, no per-step Python loop). States
are not reset between batches. Evaluation switches plasticity off (weights, biases and time
constants stay as they are); a sample's prediction is the argmax of the output rates summed
over the sample. Accuracies measured while learning, with the label shown, are reported as
"online" accuracies: they are not training accuracies of the network.

Plasticity switches exactly at the boundary of two passes: NEST hands a Run's last step to the
connections at the start of the next Run, and they learn from it with the common properties
that were in force while it ran (gle_synapse keeps them), so the last training step is learned
from (with ``update_interval``, its optimizer step is taken before the evaluation's first
step) and an evaluation's last step is not. Projections and units that the user froze stay
frozen: the Trainer switches back on only what it switched off.
"""

import sys

import numpy as np

from . import checkpoint as checkpoints
from .nest_backend import gathered_status
from .parallel import is_root
from .parameters import RECEPTORS

PLASTIC_UNIT_RATES = ("eta_bias", "eta_tau")


class Trainer:
    """Streams batches through a built network; the network must have one input and one output
    population."""

    def __init__(self, net, readout_decay=0.9):
        """readout_decay: of the running mean of each output's summed output, per batch (see
        :meth:`scores`); in [0, 1)."""
        if not 0 <= readout_decay < 1:
            raise ValueError(f"readout_decay must be in [0, 1); got {readout_decay}")
        if net.nest is None:
            raise ValueError("build the network first (net.build())")
        if len(net.inputs) != 1 or len(net.targets) != 1:
            raise ValueError(f"the Trainer takes a network of one input and one output population; this one has "
                             f"inputs {list(net.inputs)} and outputs {list(net.targets)}")
        (self.input_name, _), = net.inputs.items()
        (self.output_name, _), = net.targets.items()
        self.net = net
        self.inputs = net.populations[self.input_name]
        self.output = net.populations[self.output_name]
        self.lanes = net.spec.lanes
        self.h = net.spec.resolution
        self.models = [p.model for p in net.projections] + \
                      [p.model + "_backward" for p in net.projections if p.feedback == "transposed"]
        #: a state of the network (checkpoint.state) that the next checkpoint keeps as its test state
        self.test_state = None
        #: what set_learning(False) switched off: the models' learning flags and the units' rates
        self._switched_off = None
        #: the running mean over the batches streamed (training and testing) of each output's
        #: output summed over a sample: label-free, each output its own (None before the first)
        self.readout_mean = None
        self.readout_decay = float(readout_decay)
        #: the summed outputs of the last run() minus readout_mean as it was before each batch
        self.centred_sums = None

    @property
    def step(self):
        """The kernel's step now (read when needed: a Simulate elsewhere moves it)."""
        import nest

        return int(round(nest.biological_time / self.h))

    def _check(self, x, y=None):
        """A batch as (steps x lanes x inputs) and its targets as (rows x lanes x outputs), a row
        per step, or one row held over the batch (targets given per lane, or none)."""
        x = np.asarray(x, dtype=float)
        n_in, n_out, lanes = self.inputs.size, self.output.size, self.lanes
        if lanes == 1 and x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3 or x.shape[1:] != (lanes, n_in) or len(x) == 0:
            raise ValueError(f"a batch's input must be (steps x {lanes} lanes x {n_in} inputs) with at least one step; "
                             f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("a sample's input must be finite")
        y = np.zeros((lanes, n_out)) if y is None else np.asarray(y, dtype=float)
        if y.ndim != 3 and y.size == lanes * n_out:
            y = y.reshape(1, lanes, n_out)
        if y.ndim != 3 or len(y) not in (1, len(x)) or y.shape[1:] != (lanes, n_out):
            raise ValueError(f"a batch's targets must be ({lanes} lanes x {n_out} outputs) or (steps x {lanes} lanes x "
                             f"{n_out} outputs); got {y.shape}")
        return x, y

    def present(self, x, y=None):
        """Stream one batch: x (steps x lanes x inputs; one lane: steps x inputs), y its targets
        (lanes x outputs, held for the batch, or steps x lanes x outputs; None: no target).
        Returns the output rates summed over the batch's steps, lanes x outputs."""
        import nest

        x, y = self._check(x, y)
        first = self.step  # row k is read in the Run's step k
        targets = self.output.nodes if self.output.error_nodes is None else self.output.error_nodes
        for units, values, port in ((self.inputs.nodes, x, "fwd"), (targets, y, "target")):
            units.set([{"lane_inputs": values[:, :, k].ravel().tolist(), "lane_inputs_port": RECEPTORS[port],
                        "lane_inputs_start": first, "lane_inputs_hold": len(x) // len(values)}
                       for k in range(len(units))])
        self.output.nodes.set({"r_sum": 0.0})
        nest.Run(len(x) * self.h)
        sums = gathered_status(self.output.nodes, ["r_sum"])["r_sum"]
        return sums.reshape(self.output.size, self.lanes).T

    def loss(self, mean_output, target):
        """The sample's cost of its mean output: cross-entropy of the softmax, or squared error."""
        target = np.asarray(target, dtype=float)
        target = target if target.ndim == 1 else target.mean(axis=0)
        if self.net.spec.units["loss"][self.output.indices[0]] == 1:
            z = mean_output - mean_output.max()
            return float(-np.sum(target * (z - np.log(np.sum(np.exp(z))))))
        return float(np.mean((mean_output - target) ** 2))

    def set_learning(self, on):
        """Switch plasticity of all projections (and of unit biases / time constants) off, or
        back on as it was before (what the user froze stays frozen)."""
        import nest

        units = self.net.nest
        if not on and self._switched_off is None:
            self._switched_off = ({m: nest.GetDefaults(m, "learning") for m in self.models},
                                  units.unit_states(PLASTIC_UNIT_RATES))
            for model in self.models:
                nest.SetDefaults(model, {"learning": False})
            units.units.set({k: 0.0 for k in PLASTIC_UNIT_RATES})
        elif on and self._switched_off is not None:
            learning, rates = self._switched_off
            for model, flag in learning.items():
                nest.SetDefaults(model, {"learning": flag})
            units.set_unit_states(rates)
            self._switched_off = None

    def set_learning_rate(self, eta):
        """The learning rate of all projections and of the units' biases (where they learn)."""
        import nest

        for model in self.models:
            nest.SetDefaults(model, {"eta": float(eta)})
        learning = np.flatnonzero(self.net.spec.units["eta_bias"] != 0)
        if len(learning):
            self.net.nest.units[learning.tolist()].set({"eta_bias": float(eta)})

    def batches(self, n):
        """The batches of n samples: lanes samples each; a ragged last batch fills its empty lanes
        with the batch's first samples again (their results are not counted)."""
        for start in range(0, n, self.lanes):
            taken = np.arange(start, min(start + self.lanes, n))
            yield taken, np.resize(taken, self.lanes)

    def run(self, inputs, targets, train=True, after_batch=None):
        """Stream all samples, a batch at a time; returns per sample the output summed over the
        sample and its cost (see loss). inputs: samples x steps (x inputs), all of one length;
        targets: samples x outputs (held over the sample) or samples x steps x outputs.
        after_batch(done, sums, costs) is called after each batch with the lists so far."""
        import nest

        if len(inputs) == 0:
            raise ValueError("no samples: inputs is empty")
        if len(targets) != len(inputs):
            raise ValueError(f"{len(inputs)} samples but {len(targets)} targets: give one target per sample")
        lengths = {len(x) for x in inputs}
        if len(lengths) != 1:
            raise ValueError(f"the samples of a run must have one length (steps); got {sorted(lengths)}")
        x_all = np.asarray(inputs, dtype=float)
        x_all = x_all[:, :, None] if x_all.ndim == 2 else x_all
        y_all = np.asarray(targets, dtype=float)
        if x_all.ndim != 3 or x_all.shape[2] != self.inputs.size or x_all.shape[1] == 0:
            raise ValueError(f"a sample's input must be (steps x {self.inputs.size}) with at least one step; "
                             f"got {x_all.shape[1:]}")
        if not np.all(np.isfinite(x_all)):
            raise ValueError("a sample's input must be finite")
        self.set_learning(train)
        sums, errors, centred = [], [], []
        nest.Prepare()
        try:
            for taken, lanes in self.batches(len(x_all)):
                y = y_all[lanes]
                out = self.present(x_all[lanes].transpose(1, 0, 2), y.transpose(1, 0, 2) if y.ndim == 3 else y)
                own = out[:len(taken)]
                centred += list(own - (0.0 if self.readout_mean is None else self.readout_mean))
                self.readout_mean = own.mean(axis=0) if self.readout_mean is None else \
                    self.readout_decay * self.readout_mean + (1 - self.readout_decay) * own.mean(axis=0)
                for k in range(len(taken)):
                    sums.append(out[k])
                    errors.append(self.loss(out[k] / x_all.shape[1], y_all[taken[k]]))
                if after_batch is not None:
                    after_batch(len(sums), sums, errors)
        finally:
            nest.Cleanup()
            self.set_learning(True)
        self.centred_sums = np.array(centred)
        return np.array(sums), np.array(errors)

    def _labels(self, labels, n_samples):
        """Class labels checked against the samples and the outputs."""
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != n_samples:
            raise ValueError(f"labels must hold one class per sample ({n_samples} samples); got shape {labels.shape}")
        n_out = self.output.size
        if not (np.issubdtype(labels.dtype, np.integer) and np.all((labels >= 0) & (labels < n_out))):
            raise ValueError(f"labels must be integers in [0, {n_out - 1}] (the {n_out} outputs of "
                             f"{self.output_name!r}); got values from {labels.min()} to {labels.max()}")
        return labels.astype(int)

    def evaluate(self, inputs, labels, restore=True):
        """Accuracy (argmax of the summed output) and mean cost with plasticity off; labels:
        class per sample. The pass starts from the units' state now; restore=True puts them
        back into it afterwards (see :meth:`scores`)."""
        scores = self.scores(inputs, labels, restore)
        return scores["accuracy"], scores["loss"]

    def scores(self, inputs, labels, restore=True):
        """What :meth:`evaluate` measures, as a dict (accuracy, loss), and centred_accuracy: the
        accuracy of the summed outputs minus their mean over these samples, a label-free
        correction of an output offset common to all samples (it needs all of them at once, so
        it is not the accuracy of the network on a sample of its own).

        running_centred_accuracy: the accuracy of the summed outputs minus each output's running
        mean over the batches streamed before (readout_mean, training and testing alike): a
        local, label-free and causal correction of such an offset (the first batch ever is not
        corrected).

        The pass starts from the units' state at the call (states are never reset). restore=True
        (default): afterwards the units (and readout_mean) are put back into that state
        (checkpoint.restore), so that the same call twice gives the same figures (to round-off)
        and training goes on as from before the pass; restore=False: they stay where the pass
        left them (the paper's protocol, in which states carry on from testing into the next
        epoch)."""
        labels = self._labels(labels, len(inputs))
        start = (checkpoints.state(self.net, connections=False), self.readout_mean) if restore else None
        sums, errors = self.run(inputs, np.eye(self.output.size)[labels], train=False)
        running = float(np.mean(np.argmax(self.centred_sums, axis=1) == labels))
        if restore:
            checkpoints.restore(self.net, start[0])
            self.readout_mean = start[1]
        return {"accuracy": float(np.mean(np.argmax(sums, axis=1) == labels)), "loss": float(np.mean(errors)),
                "centred_accuracy": float(np.mean(np.argmax(sums - sums.mean(axis=0), axis=1) == labels)),
                "running_centred_accuracy": running}

    def train(self, inputs, labels, epochs=1, rng=None, lr_schedule=None, verbose=True, checkpoint=None,
              checkpoint_every=0, resume=False, after_epoch=None, extra=None):
        """Epochs of training with shuffling, a batch of `lanes` samples at a time;
        lr_schedule(epoch) -> learning rate. Returns per epoch the online accuracy (measured
        while learning, the label shown) and mean cost.

        checkpoint: a path; the network's state and the position in the data are written there
        after every epoch and every checkpoint_every samples (rounded up to whole batches).
        resume=True: load it first (into this network, freshly built in a fresh kernel) and
        continue where it was: the run goes on exactly as the one that wrote it would have.
        after_epoch(history): called after each epoch, before its checkpoint (it may evaluate);
        True stops the training. extra: a dict of the caller's (JSON values) that checkpoints
        keep; resume=True updates it with the saved one."""
        rng = np.random.default_rng(0) if rng is None else rng
        if checkpoint is None and (checkpoint_every or resume):
            raise ValueError("checkpoint_every and resume need a checkpoint path")
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 (0: after every epoch only); got {checkpoint_every}")
        n_out = self.output.size
        labels = self._labels(labels, len(inputs))
        # the position in the data: epoch, samples done, their order, summed outputs and costs
        at = {"epoch": 0, "sample": 0, "order": None, "sums": [], "errors": [], "history": []}
        extra = {} if extra is None else extra
        if resume:
            at = checkpoints.load(self.net, checkpoint)
            rng.bit_generator.state = at.pop("rng")
            extra.update(at.pop("extra"))
            mean = at.pop("readout_mean", None)  # absent in checkpoints of earlier versions
            self.readout_mean = None if mean is None else np.asarray(mean)

        def save():
            mean = None if self.readout_mean is None else self.readout_mean.tolist()
            checkpoints.save(self.net, checkpoint, {**at, "rng": rng.bit_generator.state, "extra": extra,
                                                    "readout_mean": mean},
                             test_state=self.test_state)
            self.test_state = None

        while at["epoch"] < epochs:
            if lr_schedule is not None:
                self.set_learning_rate(lr_schedule(at["epoch"]))
            if at["order"] is None:
                at["order"] = rng.permutation(len(inputs)).tolist()
            order = np.asarray(at["order"])
            done = at["sample"]
            at["sums"], at["errors"] = at["sums"][:done], at["errors"][:done]
            bar = ProgressBar(f"epoch {at['epoch'] + 1}/{epochs}", labels[order]) if verbose and is_root() else None
            saved_at = [done]

            def after_batch(k, sums, errors):
                at["sample"] = done + k
                at["sums"] += [s.tolist() for s in sums[len(at["sums"]) - done:]]
                at["errors"] += errors[len(at["errors"]) - done:]
                if bar is not None:
                    bar(at["sums"], at["errors"])
                if checkpoint is not None and checkpoint_every and done + k - saved_at[0] >= checkpoint_every \
                        and done + k < len(order):
                    saved_at[0] = done + k
                    save()

            self.run([inputs[k] for k in order[done:]], np.eye(n_out)[labels[order[done:]]], after_batch=after_batch)
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


class PlateauSchedule:
    """Reduce-on-plateau: the rate is multiplied by `factor` when the monitored loss has not
    improved (by more than the relative `threshold`) for more than `patience` epochs; the count
    starts again after a reduction. As PyTorch's ReduceLROnPlateau (mode "min", relative
    threshold, no cooldown), which the paper's runs used."""

    def __init__(self, rate, patience=2, factor=0.5, threshold=1e-4):
        if not rate > 0:
            raise ValueError(f"rate must be > 0; got {rate}")
        if not (isinstance(patience, (int, np.integer)) and patience >= 0):
            raise ValueError(f"patience must be an integer >= 0; got {patience!r}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1); got {factor}")
        self.rate, self.patience, self.factor, self.threshold = float(rate), int(patience), float(factor), threshold
        self.best, self.bad_epochs = np.inf, 0

    def step(self, loss):
        """Account for one epoch's loss; returns the rate for the next epoch."""
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.patience:
                self.rate *= self.factor
                self.bad_epochs = 0
        return self.rate

    def state(self):
        return {"rate": self.rate, "best": self.best, "bad_epochs": self.bad_epochs}

    def restore(self, state):
        self.rate, self.best, self.bad_epochs = state["rate"], state["best"], state["bad_epochs"]


class ProgressBar:
    """Progress of an epoch on stderr (tqdm) with the running cost and online accuracy of the
    last 50 samples; where stderr is not a terminal (a log), one line when the epoch ends."""

    def __init__(self, title, labels):
        from tqdm import tqdm

        self.title, self.labels = title, labels
        self.live = sys.stderr.isatty()
        self.bar = tqdm(total=len(labels), desc=title, unit="sample", file=sys.stderr, disable=not self.live,
                        dynamic_ncols=True, leave=True)
        self.figures = ""

    def __call__(self, sums, errors):
        done = len(sums)
        recent = slice(max(0, done - 50), done)
        accuracy = np.mean(np.argmax(sums[recent], axis=1) == self.labels[recent])
        self.figures = f"loss {np.mean(errors[recent]):.4f}, online accuracy {accuracy:.2f}"
        self.bar.set_postfix_str(self.figures, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self):
        self.bar.close()
        if not self.live:
            sys.stderr.write(f"{self.title}: {len(self.labels)} samples, {self.figures} (last 50)\n")
            sys.stderr.flush()
