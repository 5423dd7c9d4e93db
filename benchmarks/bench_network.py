# bench_network.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""Wall time of a layered GLE network in NEST (1 and 2 threads) and in the NumPy reference.

The network: ``--layers`` layers of ``--width`` tanh units; all-to-all forward rate connections
between consecutive layers and the matching backward error connections (port ``bwd``,
transposed weights); a few input streams feed layer 0; the last layer is nudged towards 0.
Every connection has the same delay; the run is repeated for delays of 1 and 10 steps, because
NEST exchanges events once per minimum delay.

    .venv/bin/python benchmarks/bench_network.py [--steps N] [--layers L] [--width W] [--quick]
"""

import argparse
import os
import sys
import time
from pathlib import Path

# measure the working tree, not a copy installed into site-packages by `pip install .`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PYNEST_QUIET", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from pygle_nest import NetworkSpec, ReferenceNetwork, install  # noqa: E402
from pygle_nest.nest_backend import create  # noqa: E402

RESOLUTION = 0.1  # ms
N_STREAMS = 8
# (tau_m, tau_r) groups in ms, assigned round-robin to the units of each layer
TAU_GROUPS = [(1.0, 1.0), (5.0, 2.0), (10.0, 10.0), (20.0, 5.0)]
REPEATS = 5  # timed runs per measurement; the shortest is the least disturbed by other processes


def layered_spec(layers, width, delay, n_values, seed=1, plasticity=None):
    """The benchmark network with every connection delayed by ``delay`` steps; with
    ``plasticity`` (gle_synapse common properties) the connections between layers are plastic
    gle_synapse copies and their backward twins instead of NEST's static rate connections."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=RESOLUTION)
    fwd, bwd = "rate_connection_delayed", "eprop_learning_signal_connection"
    if plasticity is not None:
        fwd = spec.add_synapse_model("bench_plastic", **plasticity)
        bwd = fwd + "_backward"
    groups = np.arange(width) % len(TAU_GROUPS)
    tau_m, tau_r = np.array(TAU_GROUPS)[groups].T
    ids = [spec.add_units(width, tau_m=tau_m, tau_r=tau_r, bias=rng.normal(0, 0.1, width),
                          gamma=0.5, activation="tanh") for _ in range(layers)]
    spec.units["beta"][ids[-1]] = 0.1  # output layer: nudged towards target 0, so errors flow back
    for lower, upper in zip(ids[:-1], ids[1:]):
        pre, post = (a.ravel() for a in np.meshgrid(lower, upper))
        w = rng.normal(0, 1 / np.sqrt(width), pre.size)
        spec.connect(pre, post, w, delay=delay, synapse=fwd, port="fwd")
        spec.connect(post, pre, w, delay=delay, synapse=bwd, port="bwd")
    t = np.arange(n_values) * RESOLUTION
    streams = spec.add_streams([np.sin(2 * np.pi * t / (5 + 3 * k)) for k in range(N_STREAMS)])
    stream, post = (a.ravel() for a in np.meshgrid(streams, ids[0]))
    spec.connect_stream(stream, post, rng.normal(0, 1, stream.size), delay=delay)
    return spec


def best_of(run, steps):
    """Shortest of REPEATS timed runs of ``steps`` steps (the state carries on between them)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(steps)
        times.append(time.perf_counter() - start)
    return min(times)


def time_nest(spec, threads, steps, warmup):
    """Seconds for nest.Simulate over ``steps`` steps; the warm-up run absorbs the first Prepare,
    which builds the connection tables."""
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    install()
    nest.local_num_threads = threads
    create(spec)
    nest.Simulate(warmup * RESOLUTION)
    return best_of(lambda n: nest.Simulate(n * RESOLUTION), steps)


def time_reference(spec, steps, warmup):
    ref = ReferenceNetwork(spec)
    ref.run(warmup, record=())  # nothing recorded: NEST records nothing either
    return best_of(lambda n: ref.run(n, record=()), steps)


def size_arguments(description, default_steps):
    """--steps, --layers, --width, --quick, shared by the benchmarks of this network."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=default_steps, help=f"steps per timed run (default {default_steps})")
    parser.add_argument("--layers", type=int, default=4, help="number of layers (default 4)")
    parser.add_argument("--width", type=int, default=160, help="units per layer (default 160)")
    parser.add_argument("--quick", action="store_true", help="small, fast configuration")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.width, args.steps = 3, 40, 200
    return args


def main():
    args = size_arguments(__doc__.splitlines()[0], 2000)
    warmup = max(args.steps // 20, 10)
    # other processes on the machine skew the timings: show how busy it was
    load = os.getloadavg()[0]
    rows = []
    for delay in (1, 10):
        spec = layered_spec(args.layers, args.width, delay, warmup + REPEATS * args.steps)
        per_step = {f"NEST {k} thread{'s' * (k > 1)}": time_nest(spec, k, args.steps, warmup) / args.steps
                    for k in (1, 2)}
        per_step["reference"] = time_reference(spec, args.steps, warmup) / args.steps
        rows += [(delay, name, t, per_step["reference"] / t) for name, t in per_step.items()]
    n_units = spec.n_units
    n_conn = len(spec.connections["pre"]) + len(spec.stream_connections["post"])
    print(f"{args.layers} layers x {args.width} units = {n_units} units, {n_conn} connections "
          f"({N_STREAMS} streams); {args.steps} steps of {RESOLUTION} ms, best of {REPEATS}; "
          f"load average {load:.2f} at start\n")
    print(f"{'delay':>5}  {'backend':<14} {'ms/step':>8} {'ns/neuron-step':>15} "
          f"{'ns/conn-step':>13} {'ref/NEST':>9}")
    for delay, name, t, ratio in rows:
        shown = f"{ratio:>9.2f}" if name.startswith("NEST") else f"{'':>9}"
        print(f"{delay:>5}  {name:<14} {t * 1e3:>8.3f} {t / n_units * 1e9:>15.1f} "
              f"{t / n_conn * 1e9:>13.2f} {shown}")


if __name__ == "__main__":
    main()
