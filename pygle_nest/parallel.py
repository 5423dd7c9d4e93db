"""Gathering results of NEST's distributed kernel: under mpirun every rank holds only its own
recordings and connections; these helpers give every rank the union, in rank order."""

import numpy as np


def num_processes():
    import nest

    return nest.NumProcesses()


def gather(values):
    """Concatenate a 1-D array (or list) of every rank; the identity on one process."""
    values = np.asarray(values)
    if num_processes() == 1:
        return values
    from mpi4py import MPI

    return np.concatenate(MPI.COMM_WORLD.allgather(values))


def gather_dict(d):
    """gather() for every value of a dict of 1-D arrays."""
    return {k: gather(v) for k, v in d.items()}


def rank():
    import nest

    return nest.Rank()


def is_root():
    """True on rank 0 (and on a single process): where files and printing belong."""
    return rank() == 0
