"""The command line (python -m pygle_nest): train, evaluate, resume, and its checks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pygle_nest import classify

SMALL = ["--layers", "1", "--groups", "4:1.0:0.5,3:0.5:0.5", "--resolution", "0.1", "--lr", "1e-3",
         "--train", "12", "--test", "6"]


def cli(*args, cwd):
    env = dict(os.environ, PYNEST_QUIET="1")
    return subprocess.run([sys.executable, "-m", "pygle_nest", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def small_data(path, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 18)
    x = y[:, None] - 1.0 + 0.2 * np.sin(np.arange(20) * 0.5 + rng.uniform(0, 6, (18, 1)))
    np.savez(path, x_train=x[:12], y_train=y[:12], x_test=x[12:], y_test=y[12:])
    return path


def test_help_lists_the_commands(tmp_path):
    proc = cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("build", "info", "demo", "train", "evaluate"):
        assert command in proc.stdout


def test_train_resume_and_evaluate(tmp_path):
    data = small_data(tmp_path / "data.npz")
    out = tmp_path / "run"
    proc = cli("train", "--data", data, *SMALL, "--epochs", "1", "--checkpoint-every", "5", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = cli("train", "--epochs", "2", "--resume", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # stderr is no terminal here: one progress line for the epoch, no carriage returns
    assert "\r" not in proc.stderr and proc.stderr.count("epoch 2/2: 12 samples, loss") == 1, proc.stderr
    results = json.loads(out.with_suffix(".json").read_text())
    curve = results["curve"]
    assert [c["epoch"] for c in curve] == [1, 2] and out.with_suffix(".png").exists()
    assert results["samples"] == {"train": 12, "validation": 0, "test": 6}  # not the config's "at most"
    proc = cli("evaluate", tmp_path / "run.ckpt.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # evaluate starts from the state the last epoch's test pass started from: the curve's figures
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["test_accuracy"] == curve[-1]["test_accuracy"]
    assert figures["test_loss"] == pytest.approx(curve[-1]["test_loss"], rel=1e-12)


@pytest.mark.parametrize("change, message", [
    ({"data": "missing.npz"}, "data: no file"),
    ({"train": 0}, "train .samples. must be an integer >= 1"),
])
def test_bad_configurations_are_rejected(tmp_path, change, message):
    config = {**classify.CONFIG, "data": str(small_data(tmp_path / "data.npz")), **change}
    with pytest.raises(ValueError, match=message):
        classify.load_data(config)


def test_bad_data_is_rejected(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((0, 5)), y_train=np.zeros(0, int), x_test=np.zeros((2, 5)),
             y_test=np.zeros(2, int))
    with pytest.raises(ValueError, match="x_train must be samples x steps"):
        classify.load_data(dict(classify.CONFIG, data=str(tmp_path / "d.npz")))
    np.savez(tmp_path / "e.npz", x_train=np.zeros((2, 5)), y_train=np.array([0.5, 1.0]), x_test=np.zeros((2, 5)),
             y_test=np.zeros(2, int))
    with pytest.raises(ValueError, match="integer labels"):
        classify.load_data(dict(classify.CONFIG, data=str(tmp_path / "e.npz")))


def test_bad_input_gives_a_message_not_a_traceback(tmp_path):
    proc = cli("train", "--data", tmp_path / "missing.npz", cwd=tmp_path)
    assert proc.returncode == 2 and "train: error: data: no file" in proc.stderr and "Traceback" not in proc.stderr


def test_abbreviated_options_are_refused(tmp_path):
    proc = cli("train", "--epoch", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "unrecognized arguments: --epoch" in proc.stderr


def test_the_plateau_schedule_on_a_validation_split(tmp_path):
    """plateau_on "validation": the last `validation` training samples are held out, evaluated
    after every epoch, and their loss steps the schedule (patience 0: every epoch without
    improvement halves the rate)."""
    config = {**classify.CONFIG, "data": str(small_data(tmp_path / "data.npz")), "layers": 1,
              "groups": [[4, 1.0, 0.5]], "resolution": 0.1, "lanes": 2, "train": 12, "test": 6,
              "plateau_on": "validation", "validation": 4, "patience": 0, "lr": 0.3}
    curve = classify.train(config, 4, out=tmp_path / "run")  # a rate this high makes the loss rise
    assert [c["epoch"] for c in curve] == [1, 2, 3, 4] and "validation_accuracy" in curve[0]
    # the rate of each epoch, from the validation losses before it (PyTorch's rule, patience 0)
    expected, best = [0.3], np.inf
    for c in curve[:-1]:
        improved = c["validation_loss"] < best * (1 - 1e-4)
        best = min(best, c["validation_loss"]) if improved else best
        expected.append(expected[-1] if improved else expected[-1] * 0.5)
    assert [c["lr"] for c in curve] == pytest.approx(expected) and min(expected) < 0.3
    with pytest.raises(ValueError, match=r"validation must be an integer in \[1, 11\]"):
        classify.train({**config, "validation": 12}, 1, out=tmp_path / "bad")


@pytest.mark.parametrize("make", ["npy", "data"])
def test_evaluate_of_a_file_that_is_no_checkpoint(tmp_path, make):
    """A .npy, or a data file given to evaluate: a message, not a traceback (KeyError 'meta')."""
    path = tmp_path / "x.npy" if make == "npy" else small_data(tmp_path / "data.npz")
    if make == "npy":
        np.save(path, np.zeros(3))
    proc = cli("evaluate", path, cwd=tmp_path)
    assert proc.returncode == 2 and "is not a pygle-nest checkpoint" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ctrl_c_leaves_a_hint_and_an_intact_checkpoint(tmp_path):
    """SIGINT during training: exit 130 with the --resume hint, no traceback; the run resumes."""
    import signal
    import time

    data = small_data(tmp_path / "data.npz")
    out = tmp_path / "run"
    env = dict(os.environ, PYNEST_QUIET="1")
    proc = subprocess.Popen([sys.executable, "-m", "pygle_nest", "train", "--data", str(data), *SMALL,
                             "--lanes", "1", "--epochs", "1000", "--patience", "1000", "--checkpoint-every", "3",
                             "--out", str(out)],  # a run that the schedule does not end before the signal
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a test run started in the background (`cmd &`) ignores SIGINT, and so would
                            # the child: Python then never installs its KeyboardInterrupt handler
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ckpt = tmp_path / "run.ckpt.npz"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted; the checkpoint" in stderr and "--resume" in stderr and "Traceback" not in stderr
    resumed = cli("train", "--resume", "--epochs", "1", "--out", out, cwd=tmp_path)  # loads the checkpoint
    assert resumed.returncode == 0, resumed.stderr[-2000:]



@pytest.mark.parametrize("change, message", [
    ({"lr": -1.0}, r"lr \(--lr\) must be a number > 0; got -1.0"),
    ({"resolution": 0.5, "output_tau": 0.2}, r"output_tau \(--output-tau, 0.2 ms\) must be >= the resolution"),
    ({"lanes": 0}, r"lanes \(--lanes\) must be an integer >= 1"),
    ({"accumulate": -1}, r"accumulate \(--accumulate\) must be an integer >= 0"),
    ({"accumulate": 1.5}, r"accumulate \(--accumulate\) must be an integer >= 0"),
])
def test_options_are_named_in_messages(tmp_path, change, message):
    """Before, --lr -1 said 'eta_bias must be >= 0' and --resolution 0.5 named tau_m of 'y'."""
    config = {**classify.CONFIG, "data": str(small_data(tmp_path / "data.npz")), **change}
    with pytest.raises(ValueError, match=message):
        classify.network_and_data(config)


def test_accumulate_sets_one_optimizer_step_per_k_batches(tmp_path):
    """--accumulate K: every plastic projection and learning unit sums K samples' steps."""
    import nest

    config = {**classify.CONFIG, "data": str(small_data(tmp_path / "data.npz")), "lanes": 1, "accumulate": 3}
    net, (x, *_) = classify.network_and_data(config)
    interval = 3 * x.shape[1]
    for projection in net.projections:
        assert nest.GetDefaults(projection.model)["update_interval"] == interval
        assert nest.GetDefaults(projection.model + "_backward")["update_interval"] == interval
    learning = net.nest.units[np.flatnonzero(net.spec.units["eta_bias"] != 0).tolist()]
    assert set(learning.get("update_interval")) == {interval}


def test_data_is_checked_before_training(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "inputs.npz", x_train=rng.normal(size=(4, 5, 2)), y_train=np.arange(4) % 2,
             x_test=rng.normal(size=(2, 5, 3)), y_test=np.arange(2))
    with pytest.raises(ValueError, match="x_train has 2 inputs per step, x_test 3"):
        classify.load_data(dict(classify.CONFIG, data=str(tmp_path / "inputs.npz")))
    np.savez(tmp_path / "onehot.npz", x_train=np.zeros((2, 5)), y_train=np.eye(2, dtype=int), x_test=np.zeros((2, 5)),
             y_test=np.arange(2))
    with pytest.raises(ValueError, match="one integer label per sample .not one-hot rows."):
        classify.load_data(dict(classify.CONFIG, data=str(tmp_path / "onehot.npz")))


def test_evaluate_from_another_folder_and_on_other_data(tmp_path):
    """train stores where its data is: evaluate runs from any folder; --data tests on other data."""
    (tmp_path / "work").mkdir()
    small_data(tmp_path / "work" / "data.npz")
    proc = cli("train", "--data", "data.npz", *SMALL, "--epochs", "1", "--out", "run", cwd=tmp_path / "work")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = cli("evaluate", tmp_path / "work" / "run.ckpt.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    other = small_data(tmp_path / "other.npz", seed=5)
    proc = cli("evaluate", tmp_path / "work" / "run.ckpt.npz", "--data", other, cwd=tmp_path)
    assert proc.returncode == 0 and "test_accuracy" in proc.stdout, proc.stderr[-3000:]


def test_resume_refuses_settings_it_would_ignore(tmp_path):
    proc = cli("train", "--resume", "--lr", "0.5", "--layers", "2", "--out", tmp_path / "run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "error: --resume continues with the checkpoint's own settings; drop --layers, --lr" in proc.stderr


@pytest.mark.parametrize("args, message", [(["--groups", "4:1.0"], "--groups must be n:tau_m:tau_r"),
                                           (["--epochs", "0"], "--epochs must be >= 1"),
                                           (["--threads", "0"], "--threads must be >= 1")])
def test_errors_have_the_error_prefix(tmp_path, args, message):
    proc = cli("train", "--data", small_data(tmp_path / "data.npz"), *args, cwd=tmp_path)
    assert proc.returncode == 2 and f"python -m pygle_nest train: error: {message}" in proc.stderr


def test_build_outside_the_checkout_is_a_message(tmp_path):
    """The installed package has no NESTML models to build from: a message, not a traceback."""
    proc = cli("build", cwd=tmp_path)
    assert proc.returncode == 2 and "error: no NESTML models at" in proc.stderr and "Traceback" not in proc.stderr
