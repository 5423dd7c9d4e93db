"""Builder, Trainer, recording, Projection.get/set and checkpoints with populations smaller than
the number of ranks: python small_populations.py save|load THREADS CHECKPOINT.npz OUT.npz

A network of 2 lanes: input x (1 unit), h (3), output y (1: on one rank of four). save: set the
weights (a number, a matrix), train on 4 samples, read the recording and the weights, evaluate,
save, train on 2 more; load: build it again in a fresh kernel, load, train on the same 2. Every
call is made on every rank; rank 0 writes what it read."""

import sys
from pathlib import Path

import numpy as np

import nest
import pygle_nest as pg
from pygle_nest import checkpoint
from pygle_nest.parallel import is_root
from pygle_nest.results import write_arrays
from pygle_nest.training import Trainer

T = 20


def samples(n, seed):
    rng = np.random.default_rng(seed)
    x = [np.sin(np.arange(T) * 0.4 + rng.uniform(0, 6)) for _ in range(n)]
    return x, np.array([[float(np.mean(s))] for s in x])


def main():
    mode, threads, ckpt, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = pg.Network(resolution=0.1, seed=1, lanes=2)
    x = net.input("x", 1)
    h = net.layer("h", [pg.Group(3, 1.0, 0.5)], activation="tanh", eta_bias=1e-3)
    y = net.output("y", 1, beta=1.0)
    first = net.project(x, h, eta=1e-2)
    second = net.project(h, y, eta=1e-2)
    y.record(["r", "err"])
    net.build()
    trainer = Trainer(net)
    results = {}
    if mode == "save":
        second.set(0.1)
        first.set(np.array([[0.5, -0.4, 0.3]]))
        results["set_first"], results["set_second"] = first.get(format="array"), second.get(format="array")
        trainer.run(*samples(4, 0))
        data = y.get_data()
        results["rec_r"], results["rec_err"] = data["r"], data["err"]
        results["w_first"], results["w_second"] = first.get(format="array"), second.get(format="array")
        results["evaluated"] = np.array([trainer.evaluate(samples(2, 1)[0], [0, 0])[1] for _ in range(2)])
        checkpoint.save(net, ckpt)
    else:
        checkpoint.load(net, ckpt)
    trainer.run(*samples(2, 2))
    results.update({"final_" + k: v for k, v in checkpoint.state(net).items()})
    if is_root():
        write_arrays(out, ranks=nest.NumProcesses(), **results)


if __name__ == "__main__":
    main()
