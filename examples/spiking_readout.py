"""A GLE network learns, online and with local plasticity only, to read a delayed signal out of
the spikes of NEST's balanced random network (Brunel 2000, model A, as in NEST's example
brunel_alpha_numpy.py, scaled down to 1000 neurons).

A smooth random signal s(t) modulates the Poisson drive of a quarter of the excitatory
neurons. The GLE network sees the spikes of 100 excitatory neurons (half of them driven by the
signal, half of them not), through spike traces (gle_neuron's receptor spikes, tau_s = 5 ms),
and learns to output s(t - 30 ms): a task that needs memory of the last tens of milliseconds,
which the hidden layer's slow units provide and GLE's prospective errors assign credit through.
Its first layer learns with the spike traces as presynaptic rates (gle_synapse from the trace
units, which are gle_neurons fed by NEST's static_synapse).

Baselines on the same spikes: a linear regression of the target on the spike traces fitted
offline (least squares on the whole training period: the best memoryless linear readout), and
the same GLE network trained with instantaneous errors (prospective_error false). The errors
are normalised mean squared errors (NMSE, 0 = perfect, 1 = predicting the mean) over a test
period with plasticity off.

    python examples/spiking_readout.py [--train 30] [--test 5] [--eta 1.5e-5] [--out results/spiking_readout]
    mpirun -np 2 python examples/spiking_readout.py        (the same results at 2 ranks x 1 thread
                                                            as at 1 rank x 2 threads)
"""

import argparse
import time

import numpy as np

import nest
import pygle_nest as pg
from pygle_nest.nest_backend import recorded, stream_amplitudes
from pygle_nest.readout import SpikeReadout, attach, learn_then_test, report, smooth_signal

H = 0.1  # ms, NEST's resolution (also the GLE units' Euler step)
DELAY = 30.0  # ms: the target is the signal this much earlier
# Brunel's network (NEST's brunel_alpha_numpy.py, with N_E = 800, N_I = 200)
N_E, N_I, EPSILON, G, ETA, J_PSP, SYN_DELAY = 800, 200, 0.1, 5.0, 2.0, 0.1, 1.5
NEURON = {"C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": 0.0, "V_reset": 0.0, "V_m": 0.0, "V_th": 20.0,
          "tau_syn_ex": 0.5, "tau_syn_in": 0.5}
N_SIGNAL = N_E // 4  # excitatory neurons whose drive the signal modulates
N_READ = 100  # excitatory neurons the GLE network reads (not among the driven ones)
SAMPLE = 1.0  # ms between recorded samples (the learning curve, the regression)


def postsynaptic_current_for_psp(psp):
    """The amplitude (pA) of an alpha-shaped current that gives a PSP of psp mV at its peak: the
    PSP of a unit current, e/(tau_s C b) ((exp(-t/tau_m) - exp(-t/tau_s))/b - t exp(-t/tau_s))
    with b = 1/tau_s - 1/tau_m, maximised over t on a fine grid."""
    tau_m, tau_s, c_m = NEURON["tau_m"], NEURON["tau_syn_ex"], NEURON["C_m"]
    b = 1.0 / tau_s - 1.0 / tau_m
    t = np.linspace(1e-4, 10 * tau_s, 200001)
    unit = np.e / (tau_s * c_m * b) * ((np.exp(-t / tau_m) - np.exp(-t / tau_s)) / b - t * np.exp(-t / tau_s))
    return psp / unit.max()


def spiking_network(s):
    """Brunel's network in the current kernel and its signal-modulated drive; returns the
    excitatory neurons. The drive of each of the first N_SIGNAL excitatory neurons is the
    Poisson spike train of a GLE unit of its own (gle_neuron's spikes out, rate_scale), whose
    rate is 1 + 0.4 s(t) (clipped at 0), from a step_rate_generator: an inhomogeneous Poisson
    generator made of GLE units, with NEST's random streams."""
    j_ex = postsynaptic_current_for_psp(J_PSP)
    nu_th = NEURON["V_th"] / (J_PSP * EPSILON * N_E * NEURON["tau_m"])
    p_rate = 1000.0 * ETA * nu_th * EPSILON * N_E
    nest.SetDefaults("iaf_psc_alpha", NEURON)
    exc, inh = nest.Create("iaf_psc_alpha", N_E), nest.Create("iaf_psc_alpha", N_I)
    (exc + inh).set({"V_m": nest.random.uniform(0.0, NEURON["V_th"])})
    noise = nest.Create("poisson_generator", params={"rate": p_rate})
    signal_source = nest.Create("step_rate_generator", params=stream_amplitudes(np.repeat(0.4 * s, int(SAMPLE / H)), H))
    drive = nest.Create("gle_neuron", N_SIGNAL, params={"tau_m": 1.0, "tau_r": 1.0, "bias": 1.0, "rate_scale": p_rate})
    nest.Connect(signal_source, drive, syn_spec={"synapse_model": "rate_connection_delayed"})
    nest.CopyModel("static_synapse", "excitatory", {"weight": j_ex, "delay": SYN_DELAY})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": -G * j_ex, "delay": SYN_DELAY})
    nest.Connect(noise, (exc + inh)[N_SIGNAL:], syn_spec="excitatory")
    nest.Connect(drive, exc[:N_SIGNAL], "one_to_one", syn_spec="excitatory")
    nest.Connect(exc, exc + inh, {"rule": "fixed_indegree", "indegree": int(EPSILON * N_E)}, "excitatory")
    nest.Connect(inh, exc + inh, {"rule": "fixed_indegree", "indegree": int(EPSILON * N_I)}, "inhibitory")
    return exc


def run(seconds_train, seconds_test, threads, eta, seed=1):
    """The spiking network and two GLE readouts of the same spikes (GLE's prospective errors,
    and instantaneous errors) in one kernel; returns recordings at SAMPLE ms."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.resolution = H
    nest.rng_seed = seed
    total = 1000.0 * (seconds_train + seconds_test)
    s = smooth_signal(int(round(total / SAMPLE)) + int(DELAY / SAMPLE) + 1, np.random.default_rng(seed), SAMPLE)
    steps = int(round(total / H))
    target = np.interp(np.arange(steps) * H - DELAY, np.arange(len(s)) * SAMPLE, s)  # the signal DELAY ms earlier
    readouts = {"GLE": SpikeReadout("prospective", N_READ, True, seed, eta, H),
                "instantaneous errors": SpikeReadout("instantaneous", N_READ, False, seed, eta, H)}
    exc = spiking_network(s)
    read = exc[N_SIGNAL - N_READ // 2:N_SIGNAL + N_READ // 2]  # half of them driven by the signal
    traces_recorder = attach(readouts, read, target, SAMPLE)
    spikes = nest.Create("spike_recorder")
    nest.Connect(exc, spikes)
    learn_then_test(readouts, seconds_train, seconds_test, eta, SAMPLE)
    runs = {name: readout.recorded() for name, readout in readouts.items()}
    n_spikes = len(pg.parallel.gather(np.asarray(spikes.events["times"])))
    return runs, recorded(traces_recorder, readouts["GLE"].traces.nodes)["r"], n_spikes / N_E / (total / 1000.0)


def main():
    pg.stop_all_ranks_on_error()  # under mpirun: an error on one rank stops all
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--train", type=float, default=30.0, help="seconds of online learning (default 30)")
    parser.add_argument("--test", type=float, default=5.0, help="seconds of testing, plasticity off (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="the signal, the networks and NEST's random streams (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="NEST threads per process (default 1: with connections of one step, NEST meets its "
                             "threads every step, and this small network runs faster on one)")
    parser.add_argument("--eta", type=float, default=1.5e-5,
                        help="Adam's rate on the weights in the first quarter of the training; then a third, a tenth "
                             "and a thirtieth of it (default 1.5e-5)")
    parser.add_argument("--out", default="results/spiking_readout", help="prefix of the figure and JSON written")
    args = parser.parse_args()
    for name, value in (("--train", args.train), ("--test", args.test), ("--eta", args.eta)):
        if not (np.isfinite(value) and value > 0):
            parser.error(f"{name} must be > 0; got {value}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    start = time.time()
    runs, traces, rate = run(args.train, args.test, args.threads, args.eta, args.seed)
    wall = time.time() - start
    setup = {"seed": args.seed, "train_s": args.train, "test_s": args.test, "eta": args.eta, "delay_ms": DELAY,
             "resolution_ms": H, "spiking_neurons": N_E + N_I, "read_neurons": N_READ, "mean_rate_hz": rate,
             "threads": args.threads, "processes": nest.NumProcesses(), "wall_s": wall}
    report(runs, traces, int(round(1000.0 * args.train / SAMPLE)), SAMPLE, setup, f"the signal {DELAY:.0f} ms earlier",
           args.out)


if __name__ == "__main__":
    main()
