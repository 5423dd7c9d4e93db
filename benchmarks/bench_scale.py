# bench_scale.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""Large sparse networks, GLE against NEST's own rate network of the same connections, side by side.

A recurrent network of N units with fixed in-degree K and random sources; every forward
connection has its backward twin (2 N K connections), built with plain
nest.Connect(sources, targets, "one_to_one") calls in chunks. Variants:

    nest      lin_rate_ipn + rate_connection_delayed (forward and twin alike)
    static    gle_neuron + gle_synapse_static / gle_synapse_static_backward
    plain     gle_neuron + gle_synapse / gle_synapse_backward, plain SGD
    adam      the same with Adam

Each (variant, threads, lanes) runs in a fresh process, so that its resident memory (RSS) is
its own; with --ranks R > 1 under mpirun (.venv-mpi), R ranks of --units units each (weak
scaling: the same network per rank, R x N units in all), memory per connection of a rank. Per connection it prints: the RSS the connections add (after the first step), the
Connect time, the first step (NEST's Prepare and buffer set-up) and the time per
connection-step (best of 3 timings of --steps steps), and each figure's ratio to the nest
variant at the same threads; and NEST's counters of secondary events (send and receive
buffer sizes, gather and deliver times). A connection-lane-step is the time per step divided
by connections x lanes.

    .venv/bin/python benchmarks/bench_scale.py                       # N 20000, K 250: 10^7 connections
    .venv/bin/python benchmarks/bench_scale.py --units 2000 --indegree 50 --steps 20   # a quick look
    .venv/bin/python benchmarks/bench_scale.py --lanes 1 10 100 --threads 1 2
    .venv/bin/python benchmarks/bench_scale.py --ranks 1 2 --threads 1 --units 5000   # weak scaling
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the working tree's pygle_nest
MODELS = {"nest": ("lin_rate_ipn", "rate_connection_delayed", "rate_connection_delayed", None),
          "static": ("gle_neuron", "gle_synapse_static", "gle_synapse_static_backward", None),
          "plain": ("gle_neuron", "gle_synapse", "gle_synapse_backward", {"optimizer": 0, "eta": 1e-6}),
          "adam": ("gle_neuron", "gle_synapse", "gle_synapse_backward", {"optimizer": 2, "eta": 1e-6})}
CHUNK = 2_000_000  # connections per nest.Connect call
# NEST's counters of secondary events (its detailed timers, time_gather_secondary_data and
# time_deliver_secondary_data, need a NEST built with -Dwith-detailed-timers=ON: not PyPI's)
COUNTERS = ("send_buffer_size_secondary_events", "recv_buffer_size_secondary_events")


def rss_bytes():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def connect_sparse(nodes, indegree, forward, backward, receptor_bwd, seed):
    """Every node gets indegree connections of model forward from random sources, each with
    its twin of model backward (back to the source's receptor receptor_bwd), in chunks."""
    import numpy as np

    import nest

    ids = np.asarray(nodes.tolist())
    rng = np.random.default_rng(seed)
    n = len(ids) * indegree
    for first in range(0, n, CHUNK // 2):
        post = np.arange(first, min(first + CHUNK // 2, n)) // indegree
        pre = rng.integers(0, len(ids), len(post))
        delay = np.full(len(post), 0.1)
        nest.Connect(ids[pre], ids[post], "one_to_one", {"synapse_model": forward, "delay": delay})
        # the twin: from the target back to the source (GLE: its error to the source's receptor bwd)
        nest.Connect(ids[post], ids[pre], "one_to_one", {"synapse_model": backward, "delay": delay,
                                                         "receptor_type": np.full(len(post), receptor_bwd)})


def measure(variant, units, indegree, threads, lanes, steps, seed):
    """One variant in this process (a rank of an mpirun): what main() prints, as a dict."""
    import numpy as np

    import nest
    import pygle_nest
    from pygle_nest.parallel import gather, num_processes

    units *= num_processes()  # weak scaling: --units per rank
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.set(local_num_threads=threads, resolution=0.1, rng_seed=seed)
    neuron, forward, backward, plasticity = MODELS[variant]
    if neuron == "gle_neuron":
        pygle_nest.install()
        params = {"lanes": lanes, "tau_m": 1.0, "tau_r": 0.5, "activation": 1, "beta": 0.1}
    else:
        if lanes != 1:
            return None  # NEST's rate neurons have no lanes
        params = {"tau": 1.0, "mu": 0.1}
    if plasticity:
        for model in (forward, backward):
            nest.SetDefaults(model, plasticity)
    nodes = nest.Create(neuron, units, params)
    before = rss_bytes()
    start = time.perf_counter()
    connect_sparse(nodes, indegree, forward, backward, 1 if neuron == "gle_neuron" else 0, seed)
    connect = time.perf_counter() - start
    start = time.perf_counter()
    nest.Simulate(0.1)
    first_step = time.perf_counter() - start
    connections = 2 * units * indegree
    memory = float(np.mean(gather([rss_bytes() - before]))) * num_processes() / connections
    times = []
    for _ in range(3):
        start = time.perf_counter()
        nest.Simulate(steps * 0.1)
        times.append((time.perf_counter() - start) / steps)
    status = nest.GetKernelStatus()
    return {"variant": variant, "ranks": num_processes(), "threads": threads, "lanes": lanes,
            "connections": connections,
            "bytes": memory, "connect_ns": connect / connections * 1e9, "first_step_s": first_step,
            "step_ns": min(times) / connections * 1e9, "lane_step_ns": min(times) / connections / lanes * 1e9,
            **{k: status.get(k) for k in COUNTERS}}


def measure_checkpoint(units, indegree, seed, path, mode):
    """A checkpoint of the Adam network (its units from a NetworkSpec, which checkpoints need; its
    connections made as above): mode "save" after one step, or "load" into the same network built
    again (a process of its own, as a resumed run: NEST sorts connections by source with random
    pivots, so that a second build in one process orders those of equal source otherwise);
    seconds, the files' size and the peak of resident memory above the built network's (after
    NEST's set-up of its connections, which its first step makes)."""
    import nest
    from pygle_nest import NetworkSpec, checkpoint, nest_backend

    def build():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        nest.set(resolution=0.1, rng_seed=seed)
        spec = NetworkSpec(resolution=0.1)
        spec.add_units(units, tau_m=1.0, tau_r=0.5, activation="tanh", beta=0.1)
        spec.add_synapse_model("plastic", optimizer="adam", eta=1e-6)
        net = nest_backend.create(spec)
        connect_sparse(net.units, indegree, "plastic", "plastic_backward", 1, seed)
        return net

    def peak():  # the process's peak resident memory since the last reset (bytes)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

    def reset_peak():  # Linux: the peak starts again from the current resident memory
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    empty = rss_bytes()
    net = build()
    connections = 2 * units * indegree
    if mode == "save":
        nest.Simulate(0.1)
    else:  # NEST's own set-up of the connections, as a first step makes it, outside the figure
        nest.Prepare()
        nest.Cleanup()
    reset_peak()
    base, start = rss_bytes(), time.perf_counter()
    (checkpoint.save if mode == "save" else checkpoint.load)(net, path)
    seconds, extra = time.perf_counter() - start, peak() - base
    files = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"connections": connections, f"{mode}_s": seconds, "file_bytes": files, "network_bytes": base - empty,
            f"{mode}_peak_bytes": max(extra, 0)}


def child(launch, job, env, what):
    """The row of one job, measured in a fresh process."""
    out = subprocess.run(launch + [__file__, "--one", json.dumps(job)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--indegree", type=int, default=250)
    parser.add_argument("--steps", type=int, default=10, help="steps per timing (best of 3)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--lanes", type=int, nargs="+", default=[1])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1], help="MPI ranks (mpirun, .venv-mpi)")
    parser.add_argument("--variants", nargs="*", default=list(MODELS), choices=list(MODELS),
                        help="(none: only the checkpoint, with --checkpoint)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checkpoint", action="store_true",
                        help="also time checkpoint.save and load of the Adam network (1 thread, 1 rank)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child's job (JSON)
    args = parser.parse_args()
    if args.one:
        import nest

        job = json.loads(args.one)
        row = measure_checkpoint(**job) if "path" in job else measure(**job)
        if nest.Rank() == 0:
            print(json.dumps(row))
        return
    load = os.getloadavg()[0]
    rows = []
    mpi_python = Path(__file__).resolve().parent.parent / ".venv-mpi" / "bin" / "python"
    env = dict(os.environ, PYNEST_QUIET="1", OMP_WAIT_POLICY="PASSIVE", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for ranks, threads, lanes, variant in ((r, t, b, v) for r in args.ranks for t in args.threads
                                           for b in args.lanes for v in args.variants):
        job = dict(variant=variant, units=args.units, indegree=args.indegree, threads=threads, lanes=lanes,
                   steps=args.steps, seed=args.seed)
        launch = [sys.executable] if ranks == 1 else \
            ["mpirun", "--bind-to", "none", "--oversubscribe", "-np", str(ranks), str(mpi_python)]
        what = f"{variant}, {ranks} rank(s), {threads} thread(s), {lanes} lane(s)"
        row = child(launch, job, env, what)
        if row is not None:
            rows.append(row)
            print(f"  done: {what}", file=sys.stderr, flush=True)
    print(f"{args.units} units per rank, in-degree {args.indegree}, every connection with its twin; "
          f"{args.steps} steps of 0.1 ms per timing, best of 3; load average {load:.2f} at start\n")
    header = ("variant", "ranks", "threads", "lanes", "connections", "B/conn", "x", "Connect ns", "x", "first step s",
              "ns/conn-step", "x", "ns/conn-lane-step", "send buf", "recv buf")
    print(" | ".join(header))
    for row in rows:
        base = next((r for r in rows if r["variant"] == "nest" and (r["ranks"], r["threads"]) ==
                     (row["ranks"], row["threads"])), None)

        def ratio(key):  # to NEST's rate network at the same ranks and threads, where this run has it
            return f"{row[key] / base[key]:.2f}" if base else "-"
        print(" | ".join([row["variant"], str(row["ranks"]), str(row["threads"]), str(row["lanes"]),
                          f"{row['connections']:,}", f"{row['bytes']:.1f}", ratio("bytes"), f"{row['connect_ns']:.0f}",
                          ratio("connect_ns"), f"{row['first_step_s']:.2f}", f"{row['step_ns']:.1f}", ratio("step_ns"),
                          f"{row['lane_step_ns']:.1f}"] + [str(row[k]) for k in COUNTERS]))
    if args.checkpoint:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            job = dict(units=args.units, indegree=args.indegree, seed=args.seed, path=f"{folder}/ckpt")
            c = {**child([sys.executable], {**job, "mode": "save"}, env, "checkpoint save"),
                 **child([sys.executable], {**job, "mode": "load"}, env, "checkpoint load")}
        n = c["connections"]
        print(f"\ncheckpoint of the Adam network ({n:,} connections, 1 thread): save {c['save_s']:.1f} s "
              f"({c['save_s'] / n * 1e6:.2f} us per connection), load {c['load_s']:.1f} s "
              f"({c['load_s'] / n * 1e6:.2f} us), file {c['file_bytes'] / n:.1f} bytes per connection, peak "
              f"memory above the network's {c['save_peak_bytes'] / n:.0f} (save) and "
              f"{c['load_peak_bytes'] / n:.0f} (load) bytes per connection, "
              f"{c['save_peak_bytes'] / c['network_bytes']:.1%} and {c['load_peak_bytes'] / c['network_bytes']:.1%} "
              f"of the network's {c['network_bytes'] / 2**30:.2f} GiB")

if __name__ == "__main__":
    main()
