"""The 1-2-2-1 teacher-student task (Ellenberger et al. 2024, Fig. 6) in NEST: GLE's errors next to
the exact adjoint of the same discrete dynamics, and the student learning the teacher's map.

1. With the student's initial weights frozen, GLE's errors of the four hidden units (from NEST)
   are compared with -dL/dI, the exact adjoint computed by backpropagation through time
   (pygle_nest.bptt): correlation and lag per unit.
2. The student learns online (SGD with momentum 0.9); the output error falls.
Writes a figure and a JSON of the figures.

    python examples/teacher_student.py [--time 3000] [--seed 0] [--out results/teacher_student]
"""

import argparse
from pathlib import Path

import numpy as np

import nest
from pygle_nest import nest_backend
from pygle_nest.bptt import adjoint
from pygle_nest.experiments import teacher_student
from pygle_nest.results import pyplot, write_figure, write_json

plt = pyplot()

DT = 0.01
WINDOW = 3000  # steps of the adjoint comparison


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=3000.0, help="training time in ms")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/teacher_student")
    args = parser.parse_args()

    # 1. GLE errors against the exact adjoint, student frozen
    frozen = teacher_student(WINDOW, seed=args.seed, dt=DT, learning=False)
    hidden = np.concatenate(frozen.student[:2])
    _, _, dl_di = adjoint(frozen.spec, WINDOW)
    errors = np.concatenate([c["err"] for c in simulate(frozen, WINDOW, hidden, ["err"], WINDOW)])
    dl_di = dl_di[:len(errors)]  # NEST reports the last step at the next call
    settled = slice(WINDOW // 3, None)  # after the initial transient
    lags = [best_lag(errors[settled, k], -dl_di[settled, u]) for k, u in enumerate(hidden)]
    for k, (lag, corr) in enumerate(lags):
        print(f"hidden unit {k} (tau_r {frozen.spec.units['tau_r'][hidden[k]]}): "
              f"correlation with the adjoint {corr:.3f} at a lag of {lag} steps")

    # 2. learning
    n_steps = int(round(args.time / DT))
    task = teacher_student(n_steps, seed=args.seed, dt=DT)
    outputs = [task.teacher[-1][0], task.student[-1][0]]
    chunks = simulate(task, n_steps, outputs, ["r"], n_steps // 100)
    loss = np.array([np.mean((c["r"][:, 0] - c["r"][:, 1]) ** 2) for c in chunks])
    t_loss = np.arange(1, len(loss) + 1) * (n_steps // 100) * DT
    print(f"output mean squared error: first 1 % {loss[0]:.3e}, last 1 % {loss[-1]:.3e}")

    fig, axes = plt.subplots(5, 1, figsize=(9, 11), constrained_layout=True)
    axes[0].semilogy(t_loss, loss)
    axes[0].set(title="student vs teacher output, mean squared error", xlabel="time (ms)")
    t = np.arange(len(errors)) * DT
    for k, ax in enumerate(axes[1:]):
        u = hidden[k]
        ax.plot(t, errors[:, k] / np.abs(errors[settled, k]).max(), label="GLE error e (NEST)")
        ax.plot(t, -dl_di[:, u] / np.abs(dl_di[settled, u]).max(), "--", label="exact adjoint -dL/dI (BPTT)")
        ax.set(title=f"hidden unit {k}: tau_r = {frozen.spec.units['tau_r'][u]}, correlation {lags[k][1]:.3f} "
                     f"at lag {lags[k][0]}", xlabel="time (ms)")
        ax.legend(fontsize=7, loc="upper right")
    out = Path(args.out)
    write_figure(fig, out.with_suffix(".png"), dpi=100)
    metrics = {"adjoint": [{"tau_r": float(frozen.spec.units["tau_r"][u]), "lag_steps": lag, "correlation": corr}
                           for u, (lag, corr) in zip(hidden, lags)],
               "loss_first": float(loss[0]), "loss_last": float(loss[-1]), "time_ms": args.time, "seed": args.seed}
    write_json(metrics, out.with_suffix(".json"))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
