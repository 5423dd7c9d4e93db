"""Time per sample-step of the paper's MNIST-1D network with B lanes (parallel streams), NEST at
1 and 2 threads side by side with a batched dense NumPy implementation of the same scheme in
float64 (Adam every step, rate_lag 1, one step of delay per connection).

    .venv/bin/python benchmarks/bench_lanes.py                 # B = 1, 10, 100; about 2 minutes
    .venv/bin/python benchmarks/bench_lanes.py --lanes 100 --steps 360

The dense implementation (DenseGLE below) is this benchmark's own baseline: one matrix per
projection, states lanes x units, the lane means as matrix products. It is checked against
pygle_nest.ReferenceNetwork (the package's NumPy scheme) before anything is timed.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pygle_nest import classify  # noqa: E402
from pygle_nest.builder import Group, Network  # noqa: E402


def mnist1d_network(lanes, seed=0, build=True, threads=1):
    """The paper's network (classify's defaults), built in NEST or as a spec only."""
    config = {**classify.CONFIG, "lanes": lanes, "seed": seed}
    if build:
        return classify.network(config, 1, 10, threads)
    net = Network(resolution=config["resolution"], gamma=0.0, seed=seed, lanes=lanes)
    layers = [net.input("x", 1)]
    groups = [Group(*g) for g in config["groups"]]
    for k in range(config["layers"]):
        layers.append(net.layer(f"h{k + 1}", groups, activation="linear" if k == 0 else "tanh", eta_bias=config["lr"],
                                optimizer="adam"))
    layers.append(net.output("y", 10, loss="cross_entropy", beta=1.0, tau_m=config["output_tau"],
                             eta_bias=config["lr"], optimizer="adam"))
    for below, above in zip(layers[:-1], layers[1:]):
        net.project(below, above, optimizer="adam", eta=config["lr"], rate_lag=1, weights="uniform")
    return net


class DenseGLE:
    """The layered network of a builder Network with dense matrices: lanes x units states."""

    def __init__(self, net, lanes):
        spec, c = net.spec, net.spec.connections
        self.h, self.lanes = spec.resolution, lanes
        self.pops = list(net.populations.values())
        u = spec.units
        self.unit = [{k: u[k][p.indices] for k in ("tau_m", "tau_r", "bias", "beta", "activation")} for p in self.pops]
        self.W, self.m, self.s = [], [], []
        for proj in net.projections:
            W = np.zeros((proj.post.size, proj.pre.size))
            f = proj.forward
            W[c["post"][f] - proj.post.indices[0], c["pre"][f] - proj.pre.indices[0]] = c["weight"][f]
            self.W.append(W)
            self.m.append(np.zeros_like(W))
            self.s.append(np.zeros_like(W))
        n = [p.size for p in self.pops]
        z = [np.zeros((lanes, k)) for k in n]
        self.u, self.v, self.ub, self.r, self.err = ([a.copy() for a in z] for _ in range(5))
        self.sent, self.prev_sent = [a.copy() for a in z], [a.copy() for a in z]
        self.fwd, self.bwd = [a.copy() for a in z], [a.copy() for a in z]
        self.mb, self.sb = [np.zeros(k) for k in n], [np.zeros(k) for k in n]
        self.soft = np.zeros((lanes, n[-1]))
        self.k = 0

    @staticmethod
    def phi(x, a):
        return np.tanh(x) if a == 1 else x

    @staticmethod
    def dphi(x, a):
        return 1.0 - np.tanh(x) ** 2 if a == 1 else np.ones_like(x)

    def adam(self, m, s, g, k, eta=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        m *= b1
        m += (1 - b1) * g
        s *= b2
        s += (1 - b2) * g * g
        return eta * (m / (1 - b1 ** k)) / (np.sqrt(s / (1 - b2 ** k)) + eps)

    def step(self, x, y):
        """x: lanes x 1 inputs, y: lanes x 10 targets arriving in this step."""
        h, k = self.h, self.k + 1
        soft_sum = self.soft.sum(axis=1, keepdims=True)
        for i, p in enumerate(self.pops):
            q = self.unit[i]
            a = int(q["activation"][0])
            fwd = x if i == 0 else self.fwd[i]
            inst = self.dphi(self.ub[i], a) * self.bwd[i]
            if i == len(self.pops) - 1:  # cross-entropy outputs
                delta = np.where(soft_sum > 0, y - self.soft / np.where(soft_sum > 0, soft_sum, 1.0), 0.0)
                inst = self.dphi(self.ub[i], a) * (self.bwd[i] + q["beta"] * delta)
            dv = (inst - self.v[i]) / q["tau_r"]
            self.err[i] = self.v[i] + q["tau_m"] * dv
            self.v[i] += h * dv
            du = (fwd + q["bias"] - self.u[i]) / q["tau_m"]
            self.ub[i] = self.u[i] + q["tau_r"] * du
            self.u[i] += h * du
            self.r[i] = self.phi(self.ub[i], a)
            if i > 0:  # biases learn (the relay's do not)
                q["bias"] = q["bias"] + self.adam(self.mb[i], self.sb[i], (h * self.err[i]).mean(axis=0), k)
        self.prev_sent = self.sent
        self.sent = [np.exp(r) if i == len(self.r) - 1 else r for i, r in enumerate(self.r)]
        self.soft = self.sent[-1]
        for j, W in enumerate(self.W):  # projection j: population j -> j + 1
            self.fwd[j + 1] = self.sent[j] @ W.T
            self.bwd[j] = self.err[j + 1] @ W
            g = (h * self.err[j + 1]).T @ self.prev_sent[j] / self.lanes  # rate_lag 1
            W += self.adam(self.m[j], self.s[j], g, k)
        self.k += 1


def check_dense_against_reference(steps=60, lanes=3):
    from pygle_nest import ReferenceNetwork

    net = mnist1d_network(lanes, build=False)
    rng = np.random.default_rng(0)
    data = rng.normal(size=(steps, lanes))
    net.spec.set_lane_inputs(net.populations["x"].indices[0], data)
    dense = DenseGLE(net, lanes)
    for n in range(steps):
        dense.step(data[n - 1][:, None] if n >= 1 else np.zeros((lanes, 1)), np.zeros((lanes, 10)))
    ref = ReferenceNetwork(net.spec)
    ref.run(steps, record=())
    f = net.projections[-1].forward
    c = net.spec.connections
    W = np.zeros_like(dense.W[-1])
    W[c["post"][f] - net.populations["y"].indices[0], c["pre"][f] - net.populations["h6"].indices[0]] = \
        ref.synapses["weight"][f]
    diff = np.abs(W - dense.W[-1]).max()
    assert diff < 1e-10, f"the dense baseline differs from the reference by {diff:.3g}"
    return diff


def time_dense(lanes, steps):
    net = mnist1d_network(lanes, build=False)
    dense = DenseGLE(net, lanes)
    x, y = np.zeros((lanes, 1)), np.zeros((lanes, 10))
    for _ in range(5):
        dense.step(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        dense.step(x, y)
    return (time.perf_counter() - start) / steps


NEST_TIMER = r"""
import sys, time, numpy as np, nest
sys.path.insert(0, sys.argv[4])
from benchmarks.bench_lanes import mnist1d_network
lanes, threads, steps = map(int, sys.argv[1:4])
net = mnist1d_network(lanes, threads=threads)
x = net.populations["x"].nodes
x.set({"lane_inputs": np.random.default_rng(0).normal(size=(steps + 20) * lanes).tolist(), "lane_inputs_start": 1})
nest.Simulate(10 * net.spec.resolution)
start = time.perf_counter()
nest.Simulate(steps * net.spec.resolution)
print((time.perf_counter() - start) / steps)
"""


def time_nest(lanes, threads, steps):
    env = dict(os.environ, PYNEST_QUIET="1", OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([sys.executable, "-c", NEST_TIMER, str(lanes), str(threads), str(steps), str(ROOT)],
                         capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--steps", type=int, default=360)
    args = parser.parse_args()
    print(f"dense baseline = reference to {check_dense_against_reference():.2g}; load {os.getloadavg()[0]:.2f}")
    print(f"{'lanes':>5} {'NEST 1 thr':>12} {'NEST 2 thr':>12} {'NumPy dense':>12}   us per sample-step; ratios to NumPy")
    for lanes in args.lanes:
        nest1, nest2 = time_nest(lanes, 1, args.steps), time_nest(lanes, 2, args.steps)
        dense = time_dense(lanes, args.steps)
        per = 1e6 / lanes
        print(f"{lanes:5d} {nest1 * per:12.2f} {nest2 * per:12.2f} {dense * per:12.2f}   "
              f"NEST/NumPy: 1 thread {nest1 / dense:.2f}x, 2 threads {nest2 / dense:.2f}x")


if __name__ == "__main__":
    main()
