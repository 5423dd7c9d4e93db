"""The command line (python -m pygle_nest): train, evaluate, resume, and its checks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pygle_nest import classify

SMALL = ["--layers", "1", "--groups", "4:1.0:0.5,3:0.5:0.5", "--resolution", "0.1", "--lr", "1e-3",
         "--train", "12", "--test", "6"]


ROOT = Path(__file__).resolve().parent.parent
# the checkout's package, as the tests in this process import it (not an older installed copy)
ENV = dict(os.environ, PYNEST_QUIET="1",
           PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def cli(*args, cwd, env=ENV):
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


def test_train_in_the_microcircuit_form_with_lanes(tmp_path):
    """--microcircuit: representation and error neurons apart, with lanes and the paper's pairing
    (rate_lag 1, one step later); resumed and evaluated like the compact form."""
    data = small_data(tmp_path / "data.npz")
    out = tmp_path / "mc"
    proc = cli("train", "--data", data, *SMALL, "--lanes", "3", "--microcircuit", "--epochs", "1", "--out", out,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads(out.with_suffix(".json").read_text())["config"]
    assert config["microcircuit"] is True and config["rate_lag"] == 1 and config["lanes"] == 3
    proc = cli("train", "--epochs", "2", "--resume", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = cli("evaluate", out.with_name("mc.ckpt"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    curve = json.loads(out.with_suffix(".json").read_text())["curve"]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["test_accuracy"] == curve[-1]["test_accuracy"]


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
    proc = cli("evaluate", tmp_path / "run.ckpt", cwd=tmp_path)
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
    proc = subprocess.Popen([sys.executable, "-m", "pygle_nest", "train", "--data", str(data), *SMALL,
                             "--lanes", "1", "--epochs", "1000", "--patience", "1000", "--checkpoint-every", "3",
                             "--out", str(out)],  # a run that the schedule does not end before the signal
                            cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a test run started in the background (`cmd &`) ignores SIGINT, and so would
                            # the child: Python then never installs its KeyboardInterrupt handler
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ckpt = tmp_path / "run.ckpt"
    deadline = time.time() + 300
    while not (ckpt / "manifest.json").exists() and time.time() < deadline and proc.poll() is None:
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
    proc = cli("evaluate", tmp_path / "work" / "run.ckpt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    other = small_data(tmp_path / "other.npz", seed=5)
    proc = cli("evaluate", tmp_path / "work" / "run.ckpt", "--data", other, cwd=tmp_path)
    assert proc.returncode == 0 and "test_accuracy" in proc.stdout, proc.stderr[-3000:]
    # data of another input width: the widths named (before: every unit parameter listed as different)
    with np.load(other) as f:
        np.savez(tmp_path / "wide.npz", **{k: np.stack([f[k]] * 2, axis=-1) if k.startswith("x") else f[k]
                                           for k in f.files})
    proc = cli("evaluate", tmp_path / "work" / "run.ckpt", "--data", tmp_path / "wide.npz", cwd=tmp_path)
    assert proc.returncode == 2 and "has 2 input channel(s) and labels of 3 classes; the trained network takes 1 " \
        "input channel(s) and 3 classes" in proc.stderr, proc.stderr[-3000:]


def test_resume_accepts_the_checkpoints_settings_and_names_other_ones(tmp_path):
    """The same command line with --resume added continues (before, it was refused since its
    settings were not the defaults); settings other than the saved ones are refused, each named
    with both values; a resume without a checkpoint says so."""
    small_data(tmp_path / "data.npz")
    first = ["train", "--data", "data.npz", *SMALL, "--epochs", "1", "--out", tmp_path / "run"]
    assert cli(*first, cwd=tmp_path).returncode == 0
    same = cli(*first, "--resume", "--epochs", "2", cwd=tmp_path)
    assert same.returncode == 0 and "epoch 2/2" in same.stderr, same.stderr[-3000:]
    other = cli(*first, "--resume", "--lr", "0.5", "--layers", "2", cwd=tmp_path)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert ("error: --resume continues with the checkpoint's own settings; these differ from them: "
            "--layers (saved 1, given 2), --lr (saved 0.001, given 0.5)\n") in other.stderr
    missing = cli("train", "--resume", "--out", tmp_path / "none", cwd=tmp_path)
    assert missing.returncode == 2 and (f"error: --resume: no checkpoint {tmp_path / 'none.ckpt'} (start the "
                                        f"run without --resume)") in missing.stderr


def test_resume_keeps_the_runs_epochs_and_hours(tmp_path):
    """Before, --resume without --epochs ran on towards the default 150 epochs: the checkpoint
    keeps the run's --epochs and --hours, and a resume that gives them anew keeps its own."""
    from pygle_nest import checkpoint

    out = tmp_path / "run"
    first = cli("train", "--data", small_data(tmp_path / "data.npz"), *SMALL, "--epochs", "1", "--hours", "5",
                "--out", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = cli("train", "--resume", "--out", out, cwd=tmp_path)  # as the interrupt hint says
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [c["epoch"] for c in json.loads(out.with_suffix(".json").read_text())["curve"]] == [1]  # no epoch more
    assert checkpoint.position(tmp_path / "run.ckpt")["extra"]["limits"] == {"epochs": 1, "hours": 5.0}
    resumed = cli("train", "--resume", "--epochs", "2", "--out", out, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [c["epoch"] for c in json.loads(out.with_suffix(".json").read_text())["curve"]] == [1, 2]
    assert checkpoint.position(tmp_path / "run.ckpt")["extra"]["limits"] == {"epochs": 2, "hours": 5.0}


def test_the_interrupt_hint_says_what_is_on_disk(tmp_path, monkeypatch, capsys):
    """Ctrl-C before the first checkpoint: nothing to resume (before, the hint said the checkpoint
    held the last saved state); after one was written: --resume; with only an earlier run's file
    there: that one is not this run's."""
    from pygle_nest.__main__ import main

    ckpt = tmp_path / "run.ckpt"

    def interrupted(save):
        def train(*args, **kwargs):
            if save:  # as checkpoint.save writes: a new manifest renamed over the old
                ckpt.mkdir(exist_ok=True)
                (tmp_path / "partial").write_bytes(b"saved")
                (tmp_path / "partial").replace(ckpt / "manifest.json")
            raise KeyboardInterrupt

        monkeypatch.setattr(classify, "train", train)
        with pytest.raises(SystemExit) as exit:
            main(["train", "--out", str(tmp_path / "run")])
        assert exit.value.code == 130
        return capsys.readouterr().err

    assert f"interrupted; nothing was saved (no {ckpt}): start the run again, without --resume\n" in interrupted(False)
    assert (f"interrupted; the checkpoint {ckpt} holds the last saved state: continue with --resume --out "
            f"{tmp_path / 'run'}\n") in interrupted(True)
    assert (f"interrupted; nothing of this run was saved ({ckpt} is an earlier run's): start it again, without "
            f"--resume\n") in interrupted(False)


def test_a_missing_mnist1d_says_what_to_install(tmp_path, monkeypatch, capsys):
    """pip install . lacked mnist1d, and train and evaluate on the default data ended in a
    ModuleNotFoundError: setup.py requires it as requirements.txt pins it, and where the import
    fails anyway one line says what to install."""
    import ast

    from pygle_nest.__main__ import main

    setup = next(node for node in ast.walk(ast.parse((ROOT / "setup.py").read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup")
    requires = ast.literal_eval(next(k.value for k in setup.keywords if k.arg == "install_requires"))
    assert classify.MNIST1D_REQUIREMENT in requires
    assert classify.MNIST1D_REQUIREMENT in (ROOT / "requirements.txt").read_text().split()
    assert cli("train", "--data", small_data(tmp_path / "data.npz"), *SMALL, "--epochs", "1", "--out", tmp_path / "run",
               cwd=tmp_path).returncode == 0
    for name in ("mnist1d", "mnist1d.data"):
        monkeypatch.setitem(sys.modules, name, None)  # `import mnist1d` fails, as where it is not installed
    for argv in (["train", "--out", str(tmp_path / "default")],
                 ["evaluate", str(tmp_path / "run.ckpt"), "--data", "mnist1d"]):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        err = capsys.readouterr().err
        assert exit.value.code == 2 and err.count("\n") == 1, err
        assert (f"python -m pygle_nest {argv[0]}: error: data 'mnist1d' needs the package mnist1d, which is not "
                f"installed: pip install mnist1d==0.0.2.post1 (or give --data FILE.npz)\n") == err


def test_the_learning_curve_fits_the_run():
    """A run of 3 epochs on MNIST-1D: the x-range is the run's (before, the published curve
    stretched it to 150 epochs), and loss and learning rate have labelled log axes of their own."""
    import matplotlib.pyplot as plt

    curve = [{"epoch": k, "lr": 1e-3 / k, "online_accuracy": 0.2, "online_loss": 2.0, "test_accuracy": 0.3,
              "test_loss": 1.9 - 0.1 * k, "test_accuracy_centred": 0.3} for k in (1, 2, 3)]
    fig = classify.learning_curve({"config": {"data": "mnist1d"}, "curve": curve})
    accuracy, loss, rate = fig.axes
    assert 3 < accuracy.get_xlim()[1] < 4 and loss.get_xlim() == accuracy.get_xlim() == rate.get_xlim()
    assert any("published" in line.get_label() for line in accuracy.lines)
    assert (loss.get_ylabel(), rate.get_ylabel(), accuracy.get_ylabel()) == ("loss", "learning rate", "accuracy")
    assert [line.get_label() for line in rate.lines] == ["learning rate"]
    assert loss.get_yscale() == rate.get_yscale() == "log"
    plt.close(fig)


@pytest.mark.parametrize("args, message", [(["--groups", "4:1.0"], "--groups must be n:tau_m:tau_r"),
                                           (["--epochs", "0"], "--epochs must be >= 1"),
                                           (["--threads", "0"], "--threads must be >= 1")])
def test_errors_have_the_error_prefix(tmp_path, args, message):
    proc = cli("train", "--data", small_data(tmp_path / "data.npz"), *args, cwd=tmp_path)
    assert proc.returncode == 2 and f"python -m pygle_nest train: error: {message}" in proc.stderr


def test_build_outside_the_checkout_is_a_message(tmp_path):
    """The installed package has no NESTML models to build from: a message, not a traceback."""
    proc = cli("build", cwd=tmp_path, env=dict(os.environ, PYNEST_QUIET="1"))  # the installed copy
    assert proc.returncode == 2 and "error: no NESTML models at" in proc.stderr and "Traceback" not in proc.stderr
