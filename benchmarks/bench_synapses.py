# bench_synapses.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""Cost of GLE's plastic connections against NEST's static rate connections, side by side.

The network of bench_network.py with its forward and backward connections as
(a) NEST's static rate_connection_delayed / eprop_learning_signal_connection,
(b) gle_synapse / gle_synapse_backward with the plain rule,
(c) the same with Adam,
(d) the same with learning switched off (frozen weights).
Time per synapse-step (forward + backward + plasticity), its ratio to (a), at delays of 1 and
10 steps and with 1 and 2 threads; bytes per connection (NEST's ``sizeof``).

    .venv/bin/python benchmarks/bench_synapses.py [--steps N] [--layers L] [--width W] [--quick]
"""

import os

from bench_network import REPEATS, RESOLUTION, layered_spec, size_arguments, time_nest

import nest  # noqa: E402

ROUNDS = 3  # every variant is timed once per round, the rounds one after the other: slow phases of a
# shared machine hit all variants alike, and the best round of each counts

VARIANTS = {
    "static (NEST)": None,
    "plastic, plain": {"optimizer": "plain", "eta": 1e-3},
    "plastic, Adam": {"optimizer": "adam", "eta": 1e-4},
    "plastic, frozen": {"optimizer": "adam", "eta": 1e-4, "learning": False},
}


def main():
    args = size_arguments(__doc__.splitlines()[0], 1000)
    warmup = max(args.steps // 20, 10)
    load = os.getloadavg()[0]
    rows = []
    for delay in (1, 10):
        for threads in (1, 2):
            times = {}
            for _ in range(ROUNDS):
                for name, plasticity in VARIANTS.items():
                    spec = layered_spec(args.layers, args.width, delay, warmup + REPEATS * args.steps,
                                        plasticity=plasticity)
                    n_syn = len(spec.connections["pre"])
                    t = time_nest(spec, threads, args.steps, warmup) / args.steps / n_syn
                    times[name] = min(times.get(name, t), t)
            rows += [(delay, threads, name, t, t / times["static (NEST)"]) for name, t in times.items()]
    sizes = {name: nest.GetDefaults(model)["sizeof"] for name, model in
             (("static (NEST)", "rate_connection_delayed"), ("plastic (any optimizer)", "gle_synapse"))}
    print(f"{args.layers} layers x {args.width} units, {n_syn} forward + backward connections; "
          f"{args.steps} steps of {RESOLUTION} ms, best of {ROUNDS} rounds of {REPEATS}; "
          f"load average {load:.2f} at start\n")
    print(f"{'delay':>5} {'threads':>7}  {'connections':<16} {'ns/synapse-step':>15} {'/ static':>9}")
    for delay, threads, name, t, ratio in rows:
        print(f"{delay:>5} {threads:>7}  {name:<16} {t * 1e9:>15.2f} {ratio:>9.2f}")
    print("\nbytes per connection: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
