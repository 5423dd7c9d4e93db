"""Checkpoints across rank counts: python checkpoint_run.py save|load THREADS CHECKPOINT.npz OUT.npz

save: train a plastic network for 30 ms, write the checkpoint, go on for 40 ms; load: build the
same network in a fresh kernel, load the checkpoint, run 40 ms. Both write (rank 0) the
network's state at the end, as a checkpoint holds it."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # random_networks

import nest  # noqa: E402
import random_networks  # noqa: E402
from pygle_nest import checkpoint, nest_backend  # noqa: E402
from pygle_nest.parallel import is_root  # noqa: E402
from pygle_nest.results import write_arrays  # noqa: E402


def main():
    mode, threads, ckpt, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    spec = random_networks.layered(seed=9, sizes=(8, 8, 4), n_steps=800, fwd_delay=2, bwd_delay=3,
                                   plasticity={"optimizer": "adam", "eta": 1e-3},
                                   unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam"})
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = nest_backend.create(spec)
    if mode == "save":
        nest.Simulate(30.1)  # within a min_delay slice
        checkpoint.save(net, ckpt)
    else:
        checkpoint.load(net, ckpt)
    nest.Simulate(40.0)
    state = checkpoint.state(net)
    if is_root():
        write_arrays(out, ranks=nest.NumProcesses(), **state)


if __name__ == "__main__":
    main()
