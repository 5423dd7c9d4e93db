"""The 1-2-2-1 teacher-student task (Ellenberger et al. 2024, Fig. 6) in NEST, as published: GLE's
errors next to the exact adjoint of the same discrete dynamics, and the student's first layer
learning the teacher's.

Teacher and student: tanh hidden layers of one instantaneous and one retrospective unit, a
linear output; the layers above the first are fixed and equal in both (a "strong slow path").
1. With the student frozen (and gamma = 0), GLE's errors of the four hidden units (from NEST)
   next to -dL/dI, the exact adjoint by backpropagation through time (pygle_nest.bptt), layer
   by layer: correlation and lag per unit.
2. Only the student's first layer learns (SGD with momentum 0.9, rate 2e-4, beta = 1,
   gamma = 1e-3), from t = 80 ms to the end of the 1001 ms: its weights against the teacher's.
Writes a figure and a JSON of the figures.

    python examples/teacher_student.py [--time 1001] [--seed 0] [--out results/teacher_student]
"""

import argparse
from pathlib import Path

import numpy as np

import nest
from pygle_nest import nest_backend
from pygle_nest.bptt import adjoint
from pygle_nest.experiments import TEACHER_STUDENT_W1, teacher_student
from pygle_nest.results import pyplot, write_figure, write_json

plt = pyplot()

DT = 0.01
WINDOW = 3000  # steps of the adjoint comparison
LEARNING_STARTS = 80.0  # ms, as published


def best_lag(e, adj, max_lag=50):
    """Lag (steps) at which GLE's error correlates best with the adjoint, and that correlation."""
    scores = [np.corrcoef(e[lag:], adj[:len(adj) - lag])[0, 1] for lag in range(max_lag)]
    return int(np.argmax(scores)), float(np.max(scores))


def simulate(task, n_steps, units, record, chunk):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(task.spec)
    nodes = net.units[[int(k) for k in units]]
    mm = net.multimeter(record, units=nodes)
    chunks = []
    for start in range(0, n_steps, chunk):
        nest.Simulate(min(chunk, n_steps - start) * DT)
        chunks.append(nest_backend.recorded(mm, nodes))
        mm.n_events = 0
    return chunks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--time", type=float, default=1001.0, help="the run's length in ms (learning from 80 ms)")
    parser.add_argument("--seed", type=int, default=0, help="the input's phases and the student's initial weights")
    parser.add_argument("--out", default="results/teacher_student")
    args = parser.parse_args()
    if not args.time > LEARNING_STARTS:
        parser.error(f"--time must be > {LEARNING_STARTS} ms; got {args.time}")

    # 1. GLE errors against the exact adjoint, student frozen
    frozen = teacher_student(WINDOW, seed=args.seed, dt=DT, gamma=0.0, learning=False)
    hidden = np.concatenate(frozen.student[:2])
    _, _, dl_di = adjoint(frozen.spec, WINDOW)
    errors = np.concatenate([c["err"] for c in simulate(frozen, WINDOW, hidden, ["err"], WINDOW)])
    dl_di = dl_di[:len(errors)]  # NEST reports the last step at the next call
    settled = slice(WINDOW // 3, None)  # after the initial transient
    lags = [best_lag(errors[settled, k], -dl_di[settled, u]) for k, u in enumerate(hidden)]
    for k, (lag, corr) in enumerate(lags):
        print(f"hidden layer {k // 2 + 1}, unit {k % 2} (tau_r {frozen.spec.units['tau_r'][hidden[k]]}): "
              f"correlation with the adjoint {corr:.3f} at a lag of {lag} steps")

    # 2. the first layer learns, from LEARNING_STARTS on
    n_steps = int(round(args.time / DT))
    task = teacher_student(n_steps, seed=args.seed, dt=DT, learning=False)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(task.spec)
    outputs = net.units[[int(task.teacher[-1][0]), int(task.student[-1][0])]]
    mm = net.multimeter(["r"], units=outputs)
    first_layer = nest.GetConnections(synapse_model="student")
    chunk = 1.0  # ms
    times, weights = [], []
    for k in range(int(round(args.time / chunk))):
        if k * chunk == LEARNING_STARTS:
            nest.SetDefaults("student", {"learning": True})
        nest.Simulate(chunk)
        times.append((k + 1) * chunk)
        weights.append(np.asarray(first_layer.get("weight"), dtype=float)[np.argsort(first_layer.get("target"))])
    out = nest_backend.recorded(mm, outputs)["r"]
    weights = np.array(weights)
    err = (out[:, 0] - out[:, 1]) ** 2
    per_ms = err[: len(err) // 100 * 100].reshape(-1, 100).mean(axis=1)
    print(f"first layer: teacher {TEACHER_STUDENT_W1}, student at the start {weights[0].round(4)}, "
          f"at the end {weights[-1].round(4)}")
    print(f"output mean squared error: before learning {per_ms[:int(LEARNING_STARTS)].mean():.3e}, "
          f"last 100 ms {per_ms[-100:].mean():.3e}")

    fig, axes = plt.subplots(6, 1, figsize=(9, 13), constrained_layout=True)
    axes[0].plot(times, weights[:, 0], label="student w[0] (instantaneous unit)")
    axes[0].plot(times, weights[:, 1], label="student w[1] (retrospective unit)")
    for w, color in zip(TEACHER_STUDENT_W1, ("C0", "C1")):
        axes[0].axhline(w, color=color, ls=":", lw=1)
    axes[0].axvline(LEARNING_STARTS, color="k", lw=0.8)
    axes[0].set(title="first-layer weights (teacher dotted; learning from the black line)", xlabel="time (ms)")
    axes[0].legend(fontsize=7)
    axes[1].semilogy(np.arange(1, len(per_ms) + 1), per_ms)
    axes[1].set(title="student vs teacher output, mean squared error per ms", xlabel="time (ms)")
    t = np.arange(len(errors)) * DT
    for k, ax in enumerate(axes[2:]):
        u = hidden[k]
        ax.plot(t, errors[:, k] / np.abs(errors[settled, k]).max(), label="GLE error e (NEST)")
        ax.plot(t, -dl_di[:, u] / np.abs(dl_di[settled, u]).max(), "--", label="exact adjoint -dL/dI (BPTT)")
        ax.set(title=f"hidden layer {k // 2 + 1}, unit {k % 2}: tau_r = {frozen.spec.units['tau_r'][u]}, "
                     f"correlation {lags[k][1]:.3f} at lag {lags[k][0]}", xlabel="time (ms), student frozen")
        ax.legend(fontsize=7, loc="upper right")
    path = Path(args.out)
    write_figure(fig, path.with_suffix(".png"), dpi=100)
    metrics = {"adjoint": [{"layer": k // 2 + 1, "tau_r": float(frozen.spec.units["tau_r"][u]), "lag_steps": lag,
                            "correlation": corr} for k, (u, (lag, corr)) in enumerate(zip(hidden, lags))],
               "teacher_w1": list(TEACHER_STUDENT_W1), "student_w1_start": weights[0].tolist(),
               "student_w1_end": weights[-1].tolist(),
               "loss_before_learning": float(per_ms[:int(LEARNING_STARTS)].mean()),
               "loss_last_100_ms": float(per_ms[-100:].mean()), "time_ms": args.time, "seed": args.seed}
    write_json(metrics, path.with_suffix(".json"))
    print(f"wrote {path.with_suffix('.png')} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
