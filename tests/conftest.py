"""Shared fixtures: a fresh NEST kernel with the GLE module, and runs of a NetworkSpec in NEST."""

import numpy as np
import pytest

import nest
import pygle_nest
from pygle_nest import nest_backend


@pytest.fixture
def kernel():
    """A reset kernel with the module installed and quiet logging."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    pygle_nest.install()
    return nest


def run_in_nest(spec, n_steps, threads=1, chunks=None, record=pygle_nest.reference.RECORDABLES):
    """Simulate spec for n_steps in a fresh kernel; return recordings (n_steps - 1, units).

    chunks: the lengths in steps of consecutive Simulate calls (default: one call).
    The multimeter reports the last step only at the next call, hence n_steps - 1 rows.
    """
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    net = nest_backend.create(spec)
    mm = net.multimeter(record)
    chunks = [n_steps] if chunks is None else chunks
    assert sum(chunks) == n_steps
    for c in chunks:
        nest.Simulate(c * spec.resolution)
    out = nest_backend.recorded(mm, net.units)
    assert all(v.shape == (n_steps - 1, spec.n_units) for v in out.values())
    return out


def random_chunks(seed, total):
    """Simulate lengths of 1..7 steps adding up to total: mostly not multiples of min_delay."""
    rng = np.random.default_rng(seed)
    chunks = []
    while sum(chunks) < total:
        chunks.append(int(min(rng.integers(1, 8), total - sum(chunks))))
    return chunks


def max_abs_difference(nest_out, ref_out):
    """Largest absolute difference over all recorded quantities, and the largest magnitude."""
    diff = max(np.max(np.abs(nest_out[k] - ref_out[k][: len(nest_out[k])])) for k in nest_out)
    scale = max(np.max(np.abs(ref_out[k])) for k in nest_out)
    return diff, scale
