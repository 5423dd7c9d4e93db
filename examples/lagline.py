"""LagLine (gle.md section 5, first row): a student chain of two softplus GLE units learns the
weights and the membrane time constants of a teacher chain, online, in NEST.

Two runs from the same initial student: GLE's prospective errors, and instantaneous errors
(plain backprop errors without GLE's error dynamics), which settle on a wrong solution.
Writes a figure (loss, weights, time constants over time) and a JSON of the final figures.

    python examples/lagline.py [--time 2000] [--seed 1] [--out results/lagline]
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pygle_nest.experiments import LAGLINE_TEACHER, lagline, relative_errors, run_lagline  # noqa: E402


def atomic_write(path: Path, write):
    partial = path.with_name(path.name + ".partial" + path.suffix)
    write(partial)
    partial.replace(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=2000.0, help="duration in ms (the paper's time units)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the student's initial values and the input")
    parser.add_argument("--out", default="results/lagline", help="prefix of the .png and .json written")
    args = parser.parse_args()

    dt = 0.01
    n_steps = int(round(args.time / dt))
    runs = {}
    for name, prospective in (("GLE", True), ("instantaneous errors", False)):
        start = time.time()
        task = lagline(n_steps, seed=args.seed, dt=dt, prospective_error=prospective)
        runs[name] = run_lagline(task, n_steps, n_points=400)
        w_err, tau_err = relative_errors(runs[name])
        print(f"{name}: w = {runs[name]['w'][-1].round(4)}, tau_m = {runs[name]['tau_m'][-1].round(4)}, "
              f"relative errors w {w_err.round(4)}, tau_m {tau_err.round(4)}, "
              f"loss {runs[name]['loss'][-1]:.2e} ({time.time() - start:.1f} s)")

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    for (name, res), style in zip(runs.items(), ("-", "--")):
        axes[0].semilogy(res["t"], res["loss"], style, label=name)
        for k, color in enumerate(("C0", "C1")):
            axes[1].plot(res["t"], res["w"][:, k], style, color=color, label=f"w{k + 1}, {name}")
            axes[2].plot(res["t"], res["tau_m"][:, k], style, color=color, label=f"tau_m{k + 1}, {name}")
    for k, color in enumerate(("C0", "C1")):
        axes[1].axhline(LAGLINE_TEACHER["w"][k], color=color, lw=0.8, ls=":")
        axes[2].axhline(LAGLINE_TEACHER["tau_m"][k], color=color, lw=0.8, ls=":")
    for ax, title in zip(axes, ("output mean squared error", "weights (teacher dotted)",
                                "membrane time constants (ms, teacher dotted)")):
        ax.set_title(title)
        ax.set_xlabel("time (ms)")
        ax.legend(fontsize=7)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out.with_suffix(".png"), lambda p: fig.savefig(p, dpi=110))
    metrics = {name: {"w": res["w"][-1].tolist(), "tau_m": res["tau_m"][-1].tolist(),
                      "relative_error_w": relative_errors(res)[0].tolist(),
                      "relative_error_tau_m": relative_errors(res)[1].tolist(),
                      "final_loss": float(res["loss"][-1])} for name, res in runs.items()}
    metrics["setup"] = {"time_ms": args.time, "dt_ms": dt, "seed": args.seed, "teacher": LAGLINE_TEACHER}
    atomic_write(out.with_suffix(".json"), lambda p: p.write_text(json.dumps(metrics, indent=2)))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
