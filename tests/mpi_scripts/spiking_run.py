"""Spikes in and out of GLE neurons for the MPI tests: python spiking_run.py THREADS OUT.npz

A Poisson source drives 12 GLE neurons through their spike traces; they emit Poisson spikes
(NEST's random streams) into 6 iaf_psc_alpha neurons and into each other's traces. The same
script runs unchanged on one process and under mpirun; spikes and rates are gathered across
ranks, and rank 0 writes them (atomically).
"""

import sys
from pathlib import Path

import numpy as np

import nest
import pygle_nest
from pygle_nest import RECEPTORS, nest_backend
from pygle_nest.parallel import gather_dict, is_root
from pygle_nest.results import write_arrays


def main():
    threads, out = int(sys.argv[1]), Path(sys.argv[2])
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.rng_seed = 123
    pygle_nest.install()
    nest.resolution = 0.1
    gle = nest.Create("gle_neuron", 12, params={"tau_s": 2.0, "rate_scale": 150.0, "tau_m": 2.0, "tau_r": 2.0,
                                                 "activation": pygle_nest.ACTIVATIONS["tanh"]})
    iaf = nest.Create("iaf_psc_alpha", 6)
    source = nest.Create("poisson_generator", params={"rate": 3000.0})
    rng = np.random.default_rng(0)
    nest.Connect(source, gle, syn_spec={"weight": nest.random.normal(0.0, 0.5), "receptor_type": RECEPTORS["spikes"]})
    nest.Connect(gle, gle, {"rule": "fixed_indegree", "indegree": 4},
                 syn_spec={"weight": nest.random.normal(0.0, 0.3), "delay": 1.0, "receptor_type": RECEPTORS["spikes"]})
    nest.Connect(gle, iaf, syn_spec={"weight": rng.uniform(50, 150, (6, 12)), "delay": 1.5})
    recorder = nest.Create("spike_recorder")
    nest.Connect(gle + iaf, recorder)
    mm = nest.Create("multimeter", params={"record_from": ["r", "s_in"], "interval": 0.1})
    nest.Connect(mm, gle)
    for chunk in (300.0, 0.7, 699.3):
        nest.Simulate(chunk)
    spikes = gather_dict({k: np.asarray(v) for k, v in recorder.events.items()})
    order = np.lexsort((spikes["senders"], spikes["times"]))
    rates = nest_backend.recorded(mm, gle)
    if is_root():
        write_arrays(out, vps=nest.total_num_virtual_procs, ranks=nest.NumProcesses(),
                 times=spikes["times"][order], senders=spikes["senders"][order], **rates)


if __name__ == "__main__":
    main()
