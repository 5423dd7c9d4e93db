"""Running under mpirun: gathering results of NEST's distributed kernel (every rank holds only
its own recordings and connections; these helpers give every rank the union, in rank order),
and stopping all ranks when one fails."""

import os
import sys
import traceback

import numpy as np

#: Set by Open MPI's and MPICH's launchers in every rank.
_WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def num_processes():
    import nest

    return nest.NumProcesses()


def gather(values):
    """Concatenate an array (or list) of every rank along its first axis; the identity on one
    process. A rank with nothing (an empty 1-D array: it holds none of the nodes) adds nothing."""
    values = np.asarray(values)
    if num_processes() == 1:
        return values
    from mpi4py import MPI

    parts = MPI.COMM_WORLD.allgather(values)
    ndim = max(p.ndim for p in parts)  # a rank without nodes has shape (0,), others (k, ...)
    return np.concatenate([p for p in parts if p.ndim == ndim])


def allgather(obj):
    """The list of every rank's obj (any picklable value), in rank order; [obj] on one process."""
    if num_processes() == 1:
        return [obj]
    from mpi4py import MPI

    return MPI.COMM_WORLD.allgather(obj)


def sum_over_ranks(values):
    """The elementwise sum of an array over all ranks; the array itself on one process."""
    if num_processes() == 1:
        return values
    from mpi4py import MPI

    return MPI.COMM_WORLD.allreduce(values, op=MPI.SUM)


def barrier():
    """Wait for all ranks (files one rank writes that the others read next)."""
    if num_processes() > 1:
        from mpi4py import MPI

        MPI.COMM_WORLD.Barrier()


def gather_dict(d):
    """gather() for every value of a dict of 1-D arrays."""
    return {k: gather(v) for k, v in d.items()}


def rank():
    import nest

    return nest.Rank()


def is_root():
    """True on rank 0 (and on a single process): where files and printing belong."""
    return rank() == 0


def under_mpirun():
    return any(int(os.environ.get(v, "1")) > 1 for v in _WORLD_SIZE_VARIABLES)


def _abort_all_ranks(kind, value, tb):
    """An uncaught exception on one rank: print it with the rank and abort every rank, instead of
    leaving the others waiting forever in NEST's next collective call."""
    rank_id = os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "?"))
    sys.stderr.write(f"pygle-nest: rank {rank_id} failed; stopping all ranks\n")
    traceback.print_exception(kind, value, tb)
    sys.stderr.flush()
    from mpi4py import MPI

    MPI.COMM_WORLD.Abort(1)


def stop_all_ranks_on_error():
    """Under mpirun, make an uncaught exception on any rank stop all ranks (idempotent): it
    replaces sys.excepthook, so a script opts in (the command line and the examples do)."""
    if under_mpirun():
        sys.excepthook = _abort_all_ranks
