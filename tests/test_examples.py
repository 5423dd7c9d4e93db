"""The examples a user copies run and do what they say (short settings)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script, *args, cwd):
    env = dict(os.environ, PYNEST_QUIET="1")
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_plain_nest_learning(tmp_path):
    proc = run("plain_nest_learning.py", "--out", tmp_path / "plain.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, last = (float(v.strip(" ,\n").split()[0]) for v in proc.stdout.split("first fifth")[1].split("last fifth"))
    assert last < 0.6 * first and (tmp_path / "plain.png").exists()


def test_builder_training(tmp_path):
    proc = run("builder_training.py", "--out", tmp_path / "bt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "bt.json").read_text())
    assert result["test_after"][0] >= 0.9 > result["test_before"][0] and (tmp_path / "bt.png").exists()
    assert "after resuming: 1.00" in proc.stdout or f"after resuming: {result['test_after'][0]:.2f}" in proc.stdout


def test_spiking_readout(tmp_path):
    """A GLE readout of the spikes of Brunel's network, 3 s of learning: it beats the memoryless
    offline regression of the same spike traces on the delayed signal; the spiking network
    stays in its asynchronous regime."""
    proc = run("spiking_readout.py", "--train", 3, "--test", 1, "--out", tmp_path / "sr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "sr.json").read_text())
    regression = result["linear regression (offline, memoryless)"]["test_nmse"]
    assert result["GLE"]["test_nmse"] < 0.75 * regression and regression < 1.0
    assert result["instantaneous errors"]["test_nmse"] < 1.0
    assert 20 < result["setup"]["mean_rate_hz"] < 120 and (tmp_path / "sr.png").exists()


def test_microcircuit_readout(tmp_path):
    """GLE learners on PD14 at 10 % of its neurons and in-degrees, 2 s of learning: every
    population fires in an asynchronous regime (0.5 to 40 spikes/s), the connections are those of
    the model's probabilities, the GLE learner beats the memoryless offline regression of the same
    spike traces on the thalamic signal 20 ms ahead, and a --scale too small to read 150 neurons
    of a population is refused by name."""
    proc = run("microcircuit_readout.py", "--train", 2, "--test", 1, "--out", tmp_path / "mc", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "mc.json").read_text())
    setup = result["setup"]
    assert setup["neurons"] == 7717 and all(0.5 < r < 40 for r in setup["rates_hz"].values()), setup
    assert 3.0e6 < setup["connections"] < 3.6e6
    regression = result["linear regression (offline, memoryless)"]["test_nmse"]
    assert result["GLE"]["test_nmse"] < regression and (tmp_path / "mc.png").exists()
    small = run("microcircuit_readout.py", "--scale", 0.01, cwd=tmp_path)
    assert small.returncode == 2 and "--scale must leave 150 neurons in each of L23E, L4E, L5E" in small.stderr
