"""NEST's distributed kernel: the same plastic training run at 1 rank x 2 threads and at
2 ranks x 1 thread gives the same trajectories, weights and optimizer states (NEST promises
identical results for the same number of virtual processes).

Needs .venv-mpi (bash run.sh mpi-setup; bash run.sh test does it and requires these tests)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pygle_nest import checkpoint

ROOT = Path(__file__).resolve().parent.parent
MPI_PYTHON = ROOT / ".venv-mpi" / "bin" / "python"
SCRIPT = ROOT / "tests" / "mpi_scripts" / "plastic_run.py"

if not MPI_PYTHON.exists():
    if os.environ.get("PYGLE_NEST_REQUIRE_MPI") == "1":
        raise RuntimeError(f"{MPI_PYTHON} is missing: run `bash run.sh mpi-setup`")
    pytest.skip("no .venv-mpi (bash run.sh mpi-setup)", allow_module_level=True)


def launch(ranks, script, *args, timeout=600):
    # Python's own copy of the environment: `import nest` in this process set Open MPI
    # variables at C level that break a child mpirun
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_WAIT_POLICY="PASSIVE", PYNEST_QUIET="1")
    cmd = ["mpirun", "--bind-to", "none", "--oversubscribe", "-np", str(ranks), str(MPI_PYTHON), str(script),
           *map(str, args)]
    return subprocess.run(cmd, cwd="/tmp", env=env, capture_output=True, text=True, timeout=timeout)


def mpirun(ranks, threads, out, *args):
    proc = launch(ranks, SCRIPT, threads, out, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(np.load(out))


def test_two_ranks_equal_two_threads(tmp_path):
    threads = mpirun(1, 2, tmp_path / "threads.npz")
    ranks = mpirun(2, 1, tmp_path / "ranks.npz")
    assert threads["ranks"] == 1 and ranks["ranks"] == 2 and threads["vps"] == ranks["vps"] == 2
    for key in set(threads) - {"ranks", "vps"}:
        np.testing.assert_allclose(ranks[key], threads[key], rtol=0, atol=1e-12, err_msg=key)
    moved = np.abs(threads["syn_weight"] - ranks["syn_weight"]).max()
    assert np.isfinite(threads["r"]).all() and threads["r"].shape[0] == 1200
    assert np.ptp(threads["tau_m"]) > 1e-3 and moved <= 1e-12


@pytest.mark.parametrize("lanes, rate_lag, interval", [(1, 1, 1), (3, 1, 1), (16, 0, 1), (3, 1, 7)])
def test_two_ranks_equal_two_threads_with_lanes(tmp_path, lanes, rate_lag, interval):
    """The same at 3 and 16 lanes: every lane's final states, the last lane's trajectories,
    weights and optimizer states; at one lane with the paper's pairing (rate_lag 1); and with
    updates accumulated over 7 steps (update_interval)."""
    threads = mpirun(1, 2, tmp_path / "threads.npz", lanes, rate_lag, interval)
    ranks = mpirun(2, 1, tmp_path / "ranks.npz", lanes, rate_lag, interval)
    assert threads["vps"] == ranks["vps"] == 2 and threads["lane_u"].reshape(lanes, -1).shape[1] == 34
    for key in set(threads) - {"ranks", "vps"}:
        np.testing.assert_allclose(ranks[key], threads[key], rtol=0, atol=1e-12, err_msg=key)
    assert lanes == 1 or np.ptp(threads["lane_u"], axis=0).max() > 0.01  # the lanes differ


def test_four_ranks_equal_two_ranks_of_two_threads_with_lanes(tmp_path):
    """4 ranks x 1 thread against 2 ranks x 2 threads (4 virtual processes each), 3 lanes, the
    paper's pairing, updates accumulated over 7 steps: the same states, weights and trajectories."""
    four = mpirun(4, 1, tmp_path / "four.npz", 3, 1, 7)
    mixed = mpirun(2, 2, tmp_path / "mixed.npz", 3, 1, 7)
    assert four["vps"] == mixed["vps"] == 4 and four["ranks"] == 4
    for key in set(four) - {"ranks", "vps"}:
        np.testing.assert_allclose(four[key], mixed[key], rtol=0, atol=1e-12, err_msg=key)


def test_importing_the_package_leaves_the_exception_hook_alone(tmp_path):
    """Under mpirun, import pygle_nest replaced sys.excepthook; now a script opts in."""
    script = tmp_path / "hook.py"
    script.write_text("import sys, pygle_nest\nassert sys.excepthook is sys.__excepthook__\n"
                      "pygle_nest.stop_all_ranks_on_error()\nassert sys.excepthook is not sys.__excepthook__\n")
    proc = launch(2, script)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_a_failing_rank_stops_all_ranks():
    proc = launch(2, SCRIPT.parent / "failing_rank.py", timeout=120)
    assert proc.returncode != 0
    assert "rank 1 failed; stopping all ranks" in proc.stderr
    assert "deliberate failure on rank 1" in proc.stderr


def test_checkpoint_saved_at_four_ranks_continues_identically_at_two_and_one(tmp_path):
    """Saved at 4 ranks x 1 thread within a min_delay slice, with inputs on their way (delays 2
    and 3), every rank writing its own connections: resumed at 2 ranks and at 1 rank (1 and 2
    threads), 40 ms later the state equals the 4-rank run's."""
    script = SCRIPT.parent / "checkpoint_run.py"
    ckpt = tmp_path / "ckpt"
    runs = {}
    for ranks, threads, mode in ((4, 1, "save"), (2, 1, "load"), (1, 1, "load"), (1, 2, "load")):
        out = tmp_path / f"{mode}{ranks}{threads}.npz"
        proc = launch(ranks, script, mode, threads, ckpt, out)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[ranks, threads] = dict(np.load(out))
    continued = runs[4, 1]
    assert continued["ranks"] == 4 and runs[1, 1]["ranks"] == 1
    assert sorted({b["rank"] for b in json.loads((ckpt / "manifest.json").read_text())["blocks"]}) == [0, 1, 2, 3]
    for resumed in (runs[2, 1], runs[1, 1], runs[1, 2]):
        for key in set(continued) - {"ranks"}:
            np.testing.assert_allclose(resumed[key], continued[key], rtol=0, atol=1e-12, err_msg=key)
    assert np.ptp(continued["conn_plastic"][:, 0]) > 0 and np.ptp(continued["unit_tau_m"]) > 0
    assert np.abs(continued["pending_inputs"]).max() > 0


def test_command_line_training_at_two_ranks_equals_two_threads_and_resumes_at_one(tmp_path):
    """python -m pygle_nest train under mpirun: 2 ranks x 1 thread gives the learning curve and
    checkpoint of 1 rank x 2 threads; a run of 1 epoch at 2 ranks resumed for the second at
    1 rank x 2 threads, and one at 4 ranks resumed at 2 ranks x 2 threads, end where the
    2-epoch runs end; evaluate at 4 ranks gives the last test figures."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 18)
    x = y[:, None] - 1.0 + 0.2 * np.sin(np.arange(20) * 0.5 + rng.uniform(0, 6, (18, 1)))
    data = tmp_path / "data.npz"
    np.savez(data, x_train=x[:12], y_train=y[:12], x_test=x[12:], y_test=y[12:])
    small = ["--data", data, "--layers", "2", "--groups", "4:1.0:0.5,3:0.5:0.5", "--resolution", "0.1",
             "--lr", "1e-3", "--train", "12", "--test", "6", "--checkpoint-every", "5"]

    def train(ranks, threads, out, *extra):
        settings = [] if "--resume" in extra else small  # a resumed run goes on with its own
        proc = launch(ranks, "-m", "pygle_nest", "train", *settings, "--threads", threads, "--out", tmp_path / out,
                      *extra)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        saved = checkpoint.arrays(tmp_path / f"{out}.ckpt")
        return {**{k: v for k, v in saved.items() if isinstance(v, np.ndarray)},
                **{f"{model}_{k}": v for model, c in saved.items() if isinstance(c, dict)
                   for k, v in c.items() if k != "state_names"}}

    ranks = train(2, 1, "ranks", "--epochs", "2")
    threads = train(1, 2, "threads", "--epochs", "2")
    train(2, 1, "resumed", "--epochs", "1")
    resumed = train(1, 2, "resumed", "--epochs", "2", "--resume")
    train(4, 1, "four", "--epochs", "1")  # 4 ranks, resumed at 2 ranks x 2 threads
    four = train(2, 2, "four", "--epochs", "2", "--resume")
    curves = [json.loads((tmp_path / f"{name}.json").read_text())["curve"]
              for name in ("ranks", "threads", "resumed", "four")]
    for curve in curves[1:]:
        assert [(c["online_accuracy"], c["test_accuracy"]) for c in curve] == \
            [(c["online_accuracy"], c["test_accuracy"]) for c in curves[0]]
    for other in (threads, resumed, four):
        for key in ranks:
            np.testing.assert_allclose(other[key], ranks[key], rtol=0, atol=1e-12, err_msg=key)
    assert np.ptp(ranks["gle_x_h1_0_states"][:, 0]) > 0
    # evaluate at 4 ranks: the last test pass's figures
    proc = launch(4, "-m", "pygle_nest", "evaluate", tmp_path / "ranks.ckpt")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["test_accuracy"] == curves[0][-1]["test_accuracy"]
    assert figures["test_loss"] == pytest.approx(curves[0][-1]["test_loss"], rel=1e-12)


def test_divergence_stops_every_rank():
    proc = launch(2, SCRIPT.parent / "diverging.py", timeout=120)
    assert proc.returncode != 0
    assert "failed; stopping all ranks" in proc.stderr
    assert "NumericalInstability" in proc.stderr and "numerical instability, " in proc.stderr, proc.stderr[-3000:]


def test_spikes_at_two_ranks_equal_two_threads(tmp_path):
    """GLE neurons' Poisson spikes (and spikes into their traces, and into iaf_psc_alpha) are
    identical, bit for bit, at 1 rank x 2 threads and 2 ranks x 1 thread (the same virtual
    processes), and at 4 ranks x 1 thread and 2 ranks x 2 threads; another number of virtual
    processes draws other spikes."""
    script = SCRIPT.with_name("spiking_run.py")

    def run(ranks, threads, name):
        proc = launch(ranks, script, threads, tmp_path / name)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return dict(np.load(tmp_path / name))

    threads, ranks, one = run(1, 2, "threads.npz"), run(2, 1, "ranks.npz"), run(1, 1, "one.npz")
    assert threads["vps"] == ranks["vps"] == 2 and ranks["ranks"] == 2
    n_gle = np.count_nonzero(threads["senders"] <= 12)
    assert n_gle > 300 and len(threads["senders"]) - n_gle > 20  # GLE and iaf neurons both fire
    for key in ("times", "senders", "r", "s_in"):
        np.testing.assert_array_equal(ranks[key], threads[key], err_msg=key)
    assert not np.array_equal(one["times"], threads["times"])
    four, mixed = run(4, 1, "four.npz"), run(2, 2, "mixed.npz")
    assert four["vps"] == mixed["vps"] == 4 and four["ranks"] == 4
    for key in ("times", "senders"):  # spikes bit for bit; analog traces to round-off (NEST's own)
        np.testing.assert_array_equal(four[key], mixed[key], err_msg=key)
    for key in ("r", "s_in"):
        np.testing.assert_allclose(four[key], mixed[key], rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("script, seconds, same", [
    ("spiking_readout.py", (0.6, 0.3), ("mean_rate_hz",)),
    ("microcircuit_readout.py", (0.4, 0.2), ("rates_hz", "connections"))])
def test_the_spiking_examples_run_under_mpirun_unchanged(tmp_path, script, seconds, same):
    """examples/spiking_readout.py (Brunel's network) and microcircuit_readout.py (PD14 at 10 % of
    its neurons and in-degrees) with their GLE learners at 2 ranks x 1 thread: the figures of
    1 rank x 2 threads (spiking_readout failed while NEST wrote a one-lane event over a lane
    event's step before at 2 ranks: see send_channels_ in rate_channel_node.h)."""
    results = {}
    for ranks, threads in ((2, 1), (1, 2)):
        out = tmp_path / f"r{ranks}"
        proc = launch(ranks, ROOT / "examples" / script, "--train", seconds[0], "--test", seconds[1],
                      "--threads", threads, "--out", out)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        results[ranks] = json.loads(out.with_suffix(".json").read_text())
    assert results[2]["setup"]["processes"] == 2
    for name in ("GLE", "instantaneous errors", "linear regression (offline, memoryless)"):
        assert results[2][name]["test_nmse"] == results[1][name]["test_nmse"], name
    for key in same:
        assert results[2]["setup"][key] == results[1]["setup"][key], key


def test_the_readme_plain_nest_script_runs_under_mpirun(tmp_path):
    """The README's plain NEST script as it stands, at 2 ranks as at 1 (before: per-node values
    in a dict of Create failed under MPI); its recordings, gathered, are the same."""
    import re

    section = (ROOT / "README.md").read_text().split("## A plain NEST script", 1)[1]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "readme.py").write_text(
        script + "\nimport numpy\nfrom pygle_nest.nest_backend import recorded\n"
        "values = recorded(mm, hidden + out)\n"
        f"if nest.Rank() == 0:\n    numpy.savez('{tmp_path}/' + str(nest.NumProcesses()) + '.npz', **values)\n")
    for ranks in (1, 2):
        proc = launch(ranks, tmp_path / "readme.py")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    one, two = (dict(np.load(tmp_path / f"{ranks}.npz")) for ranks in (1, 2))
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-12, err_msg=key)
    assert np.ptp(one["err"]) > 0.01


def test_populations_smaller_than_the_ranks(tmp_path):
    """A one-unit output population lives on one rank of four: the builder, the Trainer, the
    recording, Projection.get and set (a number, a matrix) and checkpoints work at 4 ranks and at
    2 ranks x 2 threads as at one process (before: a KeyError on the ranks without a node, and
    set refused lists under MPI); a checkpoint written at 4 ranks resumes at 2 and at 1."""
    script = SCRIPT.parent / "small_populations.py"
    runs = {}
    for ranks, threads in ((1, 1), (4, 1), (2, 2)):
        out = tmp_path / f"save{ranks}{threads}.npz"
        proc = launch(ranks, script, "save", threads, tmp_path / f"ckpt{ranks}{threads}", out)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[ranks, threads] = dict(np.load(out))
    one = runs[1, 1]
    np.testing.assert_array_equal(one["set_first"], [[0.5, -0.4, 0.3]])
    np.testing.assert_array_equal(one["set_second"], np.full((3, 1), 0.1))
    assert one["rec_r"].shape == (2 * 20 - 1, 1) and np.ptp(one["rec_r"]) > 0  # 2 batches of 2 lanes
    assert np.abs(one["w_first"] - one["set_first"]).max() > 1e-4  # learned
    assert one["evaluated"][0] == pytest.approx(one["evaluated"][1], rel=1e-12)
    for layout in ((4, 1), (2, 2)):
        assert runs[layout]["ranks"] == layout[0]
        for key in set(one) - {"ranks"}:
            np.testing.assert_allclose(runs[layout][key], one[key], rtol=0, atol=1e-12, err_msg=f"{layout} {key}")
    for ranks, threads in ((2, 1), (1, 1)):  # the 4-rank checkpoint, resumed
        out = tmp_path / f"load{ranks}{threads}.npz"
        proc = launch(ranks, script, "load", threads, tmp_path / "ckpt41", out)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        resumed = dict(np.load(out))
        for key in (k for k in one if k.startswith("final_")):
            np.testing.assert_allclose(resumed[key], runs[4, 1][key], rtol=0, atol=1e-12, err_msg=f"{ranks} {key}")
