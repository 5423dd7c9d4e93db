"""The main demo, LagLine (Ellenberger et al. 2024, Fig. 5): a student chain of two softplus GLE
units learns the weights and the membrane time constants of a teacher chain, online, in NEST.

Two runs from the same initial student: GLE's prospective errors, and instantaneous errors
(plain backprop errors without GLE's error dynamics), which settle on a wrong solution. Adam
at the rates 3e-4, 1e-4, 3e-5 and 1e-5, each for a quarter of the run (with one input stream,
Adam's steps keep the student circling the teacher at a distance that grows with the rate:
relative errors of about 0.14 at 3e-4 and 0.03 at 1e-4). Writes a figure (loss, weights, time
constants over time) and a JSON of the final figures.
Run by ``python -m pygle_nest demo`` and ``examples/lagline.py``.
"""

import time
from pathlib import Path

from .experiments import LAGLINE_TEACHER, lagline, relative_errors, run_lagline
from .results import pyplot, write_figure, write_json

DT = 0.01
RATES = (3e-4, 1e-4, 3e-5, 1e-5)  # Adam's rate in each quarter of the run


def rate_schedule(duration, rates=RATES):
    """lr(t): rates[k] in the k-th of len(rates) equal parts of the run."""
    return lambda t: rates[min(int(t / duration * len(rates)), len(rates) - 1)]


def lagline_demo(duration=6000.0, seed=1, out="results/lagline"):
    """Both runs of duration ms; writes out.png and out.json; returns the metrics."""
    n_steps = int(round(duration / DT))
    runs = {}
    for name, prospective in (("GLE", True), ("instantaneous errors", False)):
        start = time.time()
        task = lagline(n_steps, seed=seed, dt=DT, lr=RATES[0], prospective_error=prospective)
        runs[name] = run_lagline(task, n_steps, n_points=400, lr_schedule=rate_schedule(duration))
        w_err, tau_err = relative_errors(runs[name])
        print(f"{name}: w = {runs[name]['w'][-1].round(4)}, tau_m = {runs[name]['tau_m'][-1].round(4)}, "
              f"relative errors w {w_err.round(4)}, tau_m {tau_err.round(4)}, "
              f"loss {runs[name]['loss'][-1]:.2e} ({time.time() - start:.1f} s)")
    out = Path(out)
    write_figure(_figure(runs), out.with_suffix(".png"))
    metrics = {name: {"w": res["w"][-1].tolist(), "tau_m": res["tau_m"][-1].tolist(),
                      "relative_error_w": relative_errors(res)[0].tolist(),
                      "relative_error_tau_m": relative_errors(res)[1].tolist(),
                      "final_loss": float(res["loss"][-1])} for name, res in runs.items()}
    metrics["setup"] = {"time_ms": duration, "dt_ms": DT, "seed": seed, "teacher": LAGLINE_TEACHER,
                        "adam_rates_per_quarter": list(RATES)}
    write_json(metrics, out.with_suffix(".json"))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return metrics


def _figure(runs):
    plt = pyplot()
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
    return fig
