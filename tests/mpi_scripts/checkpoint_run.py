"""Checkpoints across rank counts: python checkpoint_run.py save|load CHECKPOINT.npz OUT.npz

save: train a plastic network for a while and write the checkpoint; load: build the same
network, load the checkpoint, and write what NEST then holds (rank 0)."""

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # random_networks

import nest  # noqa: E402
import random_networks  # noqa: E402
from pygle_nest import checkpoint, nest_backend  # noqa: E402
from pygle_nest.parallel import is_root  # noqa: E402


def main():
    mode, ckpt, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    spec = random_networks.layered(seed=9, sizes=(8, 8, 4), n_steps=400, plasticity={"optimizer": "adam", "eta": 1e-3},
                                   unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam"})
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(spec)
    if mode == "save":
        nest.Simulate(30.0)
        checkpoint.save(net, ckpt)
    else:
        checkpoint.load(net, ckpt)
    plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
    synapses = net.synapse_states(plastic)
    units = net.unit_states(checkpoint.UNIT_STATES)
    if is_root():
        partial = out.with_name(out.name + ".partial.npz")
        np.savez(partial, **{"syn_" + k: v for k, v in synapses.items()}, **{"unit_" + k: v for k, v in units.items()})
        os.replace(partial, out)


if __name__ == "__main__":
    main()
