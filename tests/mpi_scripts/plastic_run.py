"""Run a plastic GLE network for the MPI tests:
python plastic_run.py THREADS OUT.npz [LANES [RATE_LAG [UPDATE_INTERVAL]]]

The same script runs unchanged on one process and under mpirun; recordings and synapse states
are gathered across ranks, and rank 0 writes them (atomically).
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # random_networks

import nest  # noqa: E402
import random_networks  # noqa: E402
from pygle_nest import nest_backend  # noqa: E402
from pygle_nest.parallel import is_root  # noqa: E402
from pygle_nest.results import write_arrays  # noqa: E402

N_STEPS = 1201
RECORD = ("u", "r", "err", "bias", "tau_m")


def main():
    threads, out = int(sys.argv[1]), Path(sys.argv[2])
    lanes, rate_lag, interval = (int(a) for a in (sys.argv[3:] + ["1", "0", "1"][len(sys.argv[3:]):])[:3])
    spec = random_networks.layered(seed=8, sizes=(10, 10, 10, 4), fwd_delay=2, bwd_delay=3, stream_delay=2,
                                   n_steps=N_STEPS, plasticity={"optimizer": "adam", "eta": 2e-4, "rate_lag": rate_lag,
                                                                "update_interval": interval},
                                   unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam",
                                                  "tau_m_min": 0.3, "update_interval": interval}, lanes=lanes)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = nest_backend.create(spec)
    net.units.set({"recorded_lane": lanes - 1})
    mm = net.multimeter(RECORD)
    for chunk in (400, 3, 398, N_STEPS - 801):
        nest.Simulate(chunk * spec.resolution)
    rec = nest_backend.recorded(mm, net.units)
    plastic = np.flatnonzero([spec.model_list()[m].plastic for m in spec.connections["model"]])
    states = net.synapse_states(plastic)
    lanes_now = {"lane_" + k: v for k, v in net.unit_states(("u", "err")).items()}
    if is_root():
        write_arrays(out, vps=nest.total_num_virtual_procs, ranks=nest.NumProcesses(),
                 **rec, **lanes_now, **{"syn_" + k: v for k, v in states.items()})


if __name__ == "__main__":
    main()
