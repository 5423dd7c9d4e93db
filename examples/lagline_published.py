"""LagLine as published (Ellenberger et al. 2024, Fig. 5): 100 input streams, each a square wave of
its own random phase, run as 100 lanes through one teacher chain and one student chain; Adam at
1e-4 on the student's weights and membrane time constants (tau_m kept >= 10 dt), after 50 ms
without learning (rate 0), 4000 ms of learning. For 8 seeds of the student's initial values;
writes results/lagline_published.png and .json.

    python examples/lagline_published.py [--seeds 8] [--lanes 100] [--time 4050] [--out results/lagline_published]
"""

import argparse
import time
from pathlib import Path

import numpy as np

from pygle_nest.experiments import LAGLINE_TEACHER, lagline, relative_errors, run_lagline
from pygle_nest.results import pyplot, write_figure, write_json

DT = 0.01
RATE = 1e-4
QUIET = 50.0  # ms without learning first


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--lanes", type=int, default=100)
    parser.add_argument("--time", type=float, default=QUIET + 4000.0, help="ms in all (default 4050)")
    parser.add_argument("--out", default="results/lagline_published")
    args = parser.parse_args()
    n_steps = int(round(args.time / DT))
    runs = {}
    for seed in range(1, args.seeds + 1):
        start = time.time()
        task = lagline(n_steps, seed=seed, dt=DT, lr=RATE, lanes=args.lanes, tau_m_min=10 * DT)
        res = run_lagline(task, n_steps, n_points=405, lr_schedule=lambda t: 0.0 if t < QUIET else RATE)
        w_err, tau_err = relative_errors(res)
        at_500 = min(int(np.searchsorted(res["t"], QUIET + 500.0)), len(res["t"]) - 1)
        runs[seed] = {"w": res["w"][-1].tolist(), "tau_m": res["tau_m"][-1].tolist(),
                      "relative_error_w": w_err.tolist(), "relative_error_tau_m": tau_err.tolist(),
                      "final_loss": float(res["loss"][-1]), "loss_after_500_ms_of_learning": float(res["loss"][at_500]),
                      "seconds": time.time() - start, "curve": {k: res[k].tolist() for k in ("t", "loss")}}
        print(f"seed {seed}: w = {res['w'][-1].round(4)}, tau_m = {res['tau_m'][-1].round(4)}, relative errors "
              f"{max(w_err.max(), tau_err.max()):.1e}, loss {res['loss'][-1]:.1e} ({runs[seed]['seconds']:.0f} s)",
              flush=True)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for seed, run in runs.items():
        ax.semilogy(run["curve"]["t"], run["curve"]["loss"], lw=0.8, label=f"seed {seed}")
    ax.set(xlabel="time (ms)", ylabel="output mean squared error (lane 0)",
           title=f"LagLine, {args.lanes} lanes, Adam {RATE:g}")
    ax.legend(fontsize=7)
    out = Path(args.out)
    write_figure(fig, out.with_suffix(".png"))
    write_json({"setup": {"lanes": args.lanes, "dt_ms": DT, "adam_rate": RATE, "quiet_ms": QUIET, "time_ms": args.time,
                          "teacher": LAGLINE_TEACHER}, "runs": runs}, out.with_suffix(".json"))
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
