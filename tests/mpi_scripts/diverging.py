"""A network whose plain rule runs far too fast diverges within 10 ms: under mpirun the rank whose
node finds it raises NumericalInstability, and every rank stops (no rank waits forever)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # random_networks

import nest  # noqa: E402
import pygle_nest  # noqa: E402
from random_networks import diverging_network  # noqa: E402

nest.verbosity = nest.VerbosityLevel.ERROR
pygle_nest.stop_all_ranks_on_error()
pygle_nest.install()
diverging_network()
for _ in range(40):
    nest.Simulate(1.0)
