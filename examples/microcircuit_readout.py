"""GLE learners on a cortical microcircuit: a GLE network reads the spikes of the excitatory
populations of L2/3, L4 and L5 of Potjans & Diesmann's (2014) microcircuit and learns, online and
with local plasticity only, to tell the time-varying rate of the thalamic input 20 ms ahead.

The microcircuit is built here from the parameters of its PyNEST implementation (NEST's
microcircuit example, now INM-6/microcircuit-PD14-model, `network_params.py` and
`stimulus_params.py`): 8 populations of `iaf_psc_exp` neurons (77,169 at full scale), connection
numbers from the connection probabilities, PSPs of 0.15 mV (g = -4, L4E -> L2/3E doubled) with a
relative spread of 0.1, delays of 1.5 ms (excitatory) and 0.75 ms (inhibitory) with a relative
spread of 0.5, background input as DC, initial potentials of the model's "optimized" type. It
scales by --scale (neurons) and --k-scale (in-degrees; weights by 1 / sqrt(k-scale) and the DC
compensating the missing input, as the model does). Thalamus: 902 parrot neurons (not scaled),
connected to L4 and L6 by the model's probabilities; here they fire at a time-varying rate
TH_RATE (1 + MODULATION s(t)) (s smooth and of unit variance, clipped at 0) instead of the model's
10 ms pulse.

Each GLE learner (pygle_nest.readout: spike traces of 150 neurons of each of L2/3E, L4E and L5E
-> 45 tanh units with memories of 5, 15 and 40 ms -> one linear output, Adam) outputs the
thalamic rate 20 ms ahead, (rate(t + 20 ms) - TH_RATE) / (MODULATION TH_RATE).
Baselines on the same spikes: the same network with instantaneous errors, and a linear regression
of the target on the spike traces fitted offline. The real-time factor (wall time per simulated
second) is measured with the learners and, in the same run, of the microcircuit alone (in a fresh
kernel, the same drive).

    python examples/microcircuit_readout.py [--scale 0.1] [--k-scale 0.1] [--train 20] [--test 5]
    mpirun -np 2 python examples/microcircuit_readout.py      (the same figures at 2 ranks x 1 thread
                                                               as at 1 rank x 2 threads)
"""

import argparse
import time

import numpy as np

import nest
import pygle_nest as pg
from pygle_nest.nest_backend import recorded
from pygle_nest.parallel import gather
from pygle_nest.readout import SpikeReadout, attach, learn_then_test, report, smooth_signal

H = 0.1  # ms, NEST's resolution (also the GLE units' Euler step)
AHEAD = 20.0  # ms: the target is the thalamic rate signal this much later
SAMPLE = 1.0  # ms between recorded samples
TH_RATE = 20.0  # spikes/s of a thalamic neuron at s = 0
MODULATION = 0.8  # its rate: TH_RATE (1 + MODULATION s(t)), clipped at 0
TAU_SIGNAL = 30.0  # ms, the smoothing of s
N_READ = 150  # neurons read per population
READ = ("L23E", "L4E", "L5E")

# PD14 (network_params.py, stimulus_params.py of the model's PyNEST implementation)
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
FULL_NEURONS = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
FULL_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])  # spikes/s, for the DC of --k-scale
CONN_PROBS = np.array([  # target x source
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
PSP_EXC, G, WEIGHT_REL_STD = 0.15, -4.0, 0.1  # mV
DELAY_EXC, DELAY_INH, DELAY_REL_STD = 1.5, 0.75, 0.5  # ms
K_EXT, BG_RATE = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]), 8.0
NEURON = {"E_L": -65.0, "V_th": -50.0, "V_reset": -65.0, "C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": 0.5,
          "tau_syn_in": 0.5, "t_ref": 2.0}
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_STD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]
N_THALAMUS, TH_PROBS, PSP_TH, TH_DELAY = 902, np.array([0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196]), 0.15, 1.5


def synapses_from_probabilities(probs, n_target, n_source):
    """The numbers of synapses that make a connection of each pair with these probabilities."""
    prod = np.outer(n_target, n_source)
    return np.log(1.0 - probs) / np.log((prod - 1.0) / prod)


def psc_over_psp(c_m, tau_m, tau_syn):
    """The amplitude (pA) of an exponential current per mV of the PSP's peak."""
    sub = 1.0 / (tau_syn - tau_m)
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (tau_m * tau_syn / c_m * sub * (frac ** tau_m - frac ** tau_syn))


def microcircuit(scale, k_scale, th_rate):
    """PD14 in the current kernel, with thalamic input at th_rate (spikes/s, one value per SAMPLE
    ms from time 0); returns {population name: NodeCollection}."""
    unit = psc_over_psp(NEURON["C_m"], NEURON["tau_m"], NEURON["tau_syn_ex"])
    full_synapses = synapses_from_probabilities(CONN_PROBS, FULL_NEURONS, FULL_NEURONS)
    psp = np.tile([PSP_EXC, G * PSP_EXC], (8, 4))
    psp[0, 2] *= 2.0  # L4E -> L2/3E
    weights = psp * unit
    dc = BG_RATE * K_EXT * PSP_EXC * unit * NEURON["tau_syn_ex"] * 1e-3  # the background's mean, as DC
    # fewer inputs, stronger weights (1 / sqrt(k)); the DC makes up for the mean input lost
    dc += 1e-3 * NEURON["tau_syn_ex"] * (1.0 - np.sqrt(k_scale)) * np.sum(
        weights * full_synapses / FULL_NEURONS[:, None] * FULL_RATES, axis=1)
    weights = weights / np.sqrt(k_scale)
    pops = {}
    for i, name in enumerate(POPULATIONS):
        pops[name] = nest.Create("iaf_psc_exp", int(round(FULL_NEURONS[i] * scale)), params={**NEURON, "I_e": dc[i]})
        pops[name].set(V_m=nest.random.normal(V0_MEAN[i], V0_STD[i]))
    synapses = np.round(full_synapses * scale * k_scale).astype(int)
    for i, target in enumerate(POPULATIONS):
        for j, source in enumerate(POPULATIONS):
            if synapses[i, j] <= 0:
                continue
            w, d = weights[i, j], DELAY_EXC if j % 2 == 0 else DELAY_INH
            bounds = {"min": 0.0, "max": np.inf} if w > 0 else {"min": -np.inf, "max": 0.0}
            nest.Connect(pops[source], pops[target], {"rule": "fixed_total_number", "N": int(synapses[i, j])},
                         {"synapse_model": "static_synapse",
                          "weight": nest.math.redraw(nest.random.normal(w, abs(w) * WEIGHT_REL_STD), **bounds),
                          "delay": nest.math.redraw(nest.random.normal(d, d * DELAY_REL_STD), min=H - 0.5 * H,
                                                    max=np.inf)})
    thalamus = nest.Create("parrot_neuron", N_THALAMUS)
    drive = nest.Create("inhomogeneous_poisson_generator", params={
        "rate_times": np.round(np.arange(1, len(th_rate)) * SAMPLE, 12).tolist(), "rate_values": th_rate[1:].tolist()})
    nest.Connect(drive, thalamus)
    th_synapses = np.round(synapses_from_probabilities(TH_PROBS, N_THALAMUS, FULL_NEURONS)[0] * k_scale).astype(int)
    w_th = PSP_TH * unit / np.sqrt(k_scale)
    for i, target in enumerate(POPULATIONS):
        if th_synapses[i] > 0:
            nest.Connect(thalamus, pops[target], {"rule": "fixed_total_number", "N": int(th_synapses[i])},
                         {"synapse_model": "static_synapse",
                          "weight": nest.math.redraw(nest.random.normal(w_th, w_th * WEIGHT_REL_STD), min=0.0, max=np.inf),
                          "delay": nest.math.redraw(nest.random.normal(TH_DELAY, TH_DELAY * DELAY_REL_STD),
                                                    min=H - 0.5 * H, max=np.inf)})
    return pops


def _kernel(threads, seed):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.resolution = H
    nest.rng_seed = seed


def run(scale, k_scale, seconds_train, seconds_test, threads, eta, seed=1):
    """The microcircuit and two GLE learners (prospective and instantaneous errors) of the same
    spikes in one kernel: recordings at SAMPLE ms, the populations' rates, wall times."""
    _kernel(threads, seed)
    total = 1000.0 * (seconds_train + seconds_test)
    s = smooth_signal(int(round(total / SAMPLE)) + int(AHEAD / SAMPLE) + 2, np.random.default_rng(seed), SAMPLE, TAU_SIGNAL)
    start = time.time()
    steps = int(round(total / H))
    # the thalamic rate AHEAD ms later, (rate - TH_RATE) / (MODULATION TH_RATE): s where the rate is not clipped
    target = np.maximum(np.interp(np.arange(steps) * H + AHEAD, np.arange(len(s)) * SAMPLE, s), -1.0 / MODULATION)
    readouts = {"GLE": SpikeReadout("prospective", N_READ * len(READ), True, seed, eta, H),
                "instantaneous errors": SpikeReadout("instantaneous", N_READ * len(READ), False, seed, eta, H)}
    pops = microcircuit(scale, k_scale, TH_RATE * np.maximum(1.0 + MODULATION * s, 0.0))
    read = pops[READ[0]][:N_READ] + pops[READ[1]][:N_READ] + pops[READ[2]][:N_READ]
    traces_recorder = attach(readouts, read, target, SAMPLE)
    spikes = {name: nest.Create("spike_recorder") for name in pops}
    for name, pop in pops.items():
        nest.Connect(pop, spikes[name])
    build = time.time() - start
    start = time.time()
    learn_then_test(readouts, seconds_train, seconds_test, eta, SAMPLE)
    simulate = time.time() - start
    runs = {name: readout.recorded() for name, readout in readouts.items()}
    rates = {name: float(len(gather(np.asarray(spikes[name].events["times"]))) / len(pop) / (total / 1000.0))
             for name, pop in pops.items()}
    walls = {"build_s": build, "real_time_factor_with_learners": simulate / (total / 1000.0 + SAMPLE / 1000.0)}
    setup = {"neurons": sum(len(p) for p in pops.values()), "connections": int(np.sum(gather([nest.num_connections])))}
    return runs, recorded(traces_recorder, readouts["GLE"].traces.nodes)["r"], rates, walls, setup


def real_time_factor_alone(scale, k_scale, seconds, threads, seed=1):
    """The microcircuit alone (the same thalamic drive), in a fresh kernel: wall time per
    simulated second."""
    _kernel(threads, seed)
    s = smooth_signal(int(round(1000.0 * seconds / SAMPLE)) + 2, np.random.default_rng(seed), SAMPLE, TAU_SIGNAL)
    microcircuit(scale, k_scale, TH_RATE * np.maximum(1.0 + MODULATION * s, 0.0))
    nest.Simulate(H)  # NEST's set-up (prepare, buffers) outside the timing
    start = time.time()
    nest.Simulate(1000.0 * seconds)
    return (time.time() - start) / seconds


def main():
    pg.stop_all_ranks_on_error()  # under mpirun: an error on one rank stops all
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--scale", type=float, default=0.1, help="neurons, as a fraction of the full model (default 0.1)")
    parser.add_argument("--k-scale", type=float, default=0.1, help="in-degrees, as a fraction (default 0.1)")
    parser.add_argument("--train", type=float, default=20.0, help="seconds of online learning (default 20)")
    parser.add_argument("--test", type=float, default=5.0, help="seconds of testing, plasticity off (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="the signal, the networks and NEST's random streams")
    parser.add_argument("--threads", type=int, default=1, help="NEST threads per process (default 1)")
    parser.add_argument("--eta", type=float, default=1.5e-5, help="Adam's rate in the first quarter of the training; "
                                                                  "then a third, a tenth and a thirtieth of it")
    parser.add_argument("--out", default="results/microcircuit_readout", help="prefix of the figure and JSON written")
    args = parser.parse_args()
    for name, value, top in (("--scale", args.scale, 1.0), ("--k-scale", args.k_scale, 1.0),
                             ("--train", args.train, np.inf), ("--test", args.test, np.inf), ("--eta", args.eta, np.inf)):
        if not (np.isfinite(value) or top == np.inf) or not 0 < value <= top:
            parser.error(f"{name} must be in (0, {top:g}]; got {value}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    smallest = min(FULL_NEURONS[POPULATIONS.index(p)] for p in READ)
    if round(smallest * args.scale) < N_READ:
        parser.error(f"--scale must leave {N_READ} neurons in each of {', '.join(READ)}: at least "
                     f"{N_READ / smallest:.3f}; got {args.scale}")
    runs, traces, rates, walls, sizes = run(args.scale, args.k_scale, args.train, args.test, args.threads, args.eta,
                                            args.seed)
    alone = real_time_factor_alone(args.scale, args.k_scale, min(args.train, 2.0), args.threads, args.seed)
    setup = {"seed": args.seed, "scale": args.scale, "k_scale": args.k_scale, "train_s": args.train,
             "test_s": args.test, "eta": args.eta, "ahead_ms": AHEAD, **sizes, "rates_hz": rates,
             "threads": args.threads, "processes": nest.NumProcesses(), **walls, "real_time_factor_alone": alone}
    report(runs, traces, int(round(1000.0 * args.train / SAMPLE)), SAMPLE, setup,
           f"the thalamic rate {AHEAD:.0f} ms ahead", args.out)


if __name__ == "__main__":
    main()
