# model_scaling.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""A model of the time per step of a GLE network against the number of MPI ranks, from measured inputs.

time per step = compute + communication / d, with d = min_delay in steps (NEST exchanges
secondary events once per min_delay slice, one MPI_Alltoallv):

    compute       = c(L) x connections x L / (P x threads)      c: measured ns per connection-lane-step
    communication = P x alpha + received bytes per rank / beta
    received      = sources seen by a rank x (16 (d + 1) L + 32) bytes

A unit sends two lane events per slice (rate and error), each of (d + 1) x L doubles (the step
before the slice, for the paper's pairing, and the slice's d steps) and about 16 bytes of
framing (measured with bench_scale.py: NEST's send buffer holds 16 (d + 1) L + 32 bytes per
unit and slice at L = 1, 10 and 100, d = 1). A rank receives the events of every unit with a
target on it: for random sparse connectivity with in-degree K, a unit's K targets fall on
P (1 - (1 - 1/P)^K) ranks; for dense layered all-to-all connectivity, on every rank. alpha
(latency per peer) and beta (bandwidth per rank) are stated, not measured here.

    .venv/bin/python benchmarks/model_scaling.py
    .venv/bin/python benchmarks/model_scaling.py --alpha-us 1 --beta-gbs 25 --compute-ns 40 6.6
"""

import argparse

NETWORKS = {
    # name: (units, connections (forward + twin), in-degree, dense)
    "sparse cortical, 10^8 learned synapses": (100_000, 2 * 10**8, 1000, False),
    "dense layered, 6 x 1000 all-to-all": (6000, 2 * 5 * 1000 * 1000, 1000, True),
}


def step_time(units, connections, indegree, dense, ranks, threads, lanes, d, compute_ns, alpha, beta):
    """(compute, communication per step) in seconds."""
    compute = compute_ns * 1e-9 * connections * lanes / (ranks * threads)
    if ranks == 1:
        return compute, 0.0
    reach = 1.0 if dense else 1.0 - (1.0 - 1.0 / ranks) ** indegree  # fraction of ranks a unit's targets reach
    received = units * reach * (16 * (d + 1) * lanes + 32)
    return compute, (ranks * alpha + received / beta) / d


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha-us", type=float, default=2.0, help="latency per peer of MPI_Alltoallv (us)")
    parser.add_argument("--beta-gbs", type=float, default=10.0, help="bandwidth per rank (GB/s)")
    parser.add_argument("--compute-ns", type=float, nargs=2, default=(44.5, 6.6), metavar=("ONE_LANE", "LANES"),
                        help="ns per connection-lane-step at 1 lane and at 100 lanes (bench_scale.py, Adam)")
    parser.add_argument("--threads", type=int, default=64, help="threads per rank")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 64, 1024])
    args = parser.parse_args()
    alpha, beta = args.alpha_us * 1e-6, args.beta_gbs * 1e9
    print(f"alpha {args.alpha_us} us, beta {args.beta_gbs} GB/s, {args.threads} threads per rank, "
          f"compute {args.compute_ns[0]} ns (1 lane) / {args.compute_ns[1]} ns (100 lanes) per connection-lane-step\n")
    print("network | lanes | min_delay (steps) | ranks | compute ms | communication ms | step ms | communication share")
    for name, (units, connections, indegree, dense) in NETWORKS.items():
        for lanes, compute_ns in ((1, args.compute_ns[0]), (100, args.compute_ns[1])):
            for d in (1, 10):
                for ranks in args.ranks:
                    compute, comm = step_time(units, connections, indegree, dense, ranks, args.threads, lanes, d,
                                              compute_ns, alpha, beta)
                    print(f"{name} | {lanes} | {d} | {ranks} | {compute * 1e3:.3f} | {comm * 1e3:.3f} | "
                          f"{(compute + comm) * 1e3:.3f} | {comm / (compute + comm):.0%}")


if __name__ == "__main__":
    main()
