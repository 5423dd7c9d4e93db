"""Rank 1 fails while rank 0 goes on into a collective NEST call: all ranks must stop."""

import nest
import pygle_nest

pygle_nest.stop_all_ranks_on_error()
pygle_nest.install()
nest.Create("gle_neuron", 4)
if nest.Rank() == 1:
    raise ValueError("deliberate failure on rank 1")
nest.Simulate(10.0)  # rank 0 would wait here for rank 1 forever
nest.Simulate(10.0)
