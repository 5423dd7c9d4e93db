"""pip install . in a fresh venv, as a Python user does it: with build isolation, pip brings the
pinned NEST and NESTML into the build and into the venv, the module is built, and a plain NEST
script in that venv uses it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pip_install_in_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True,
                          env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    script = ("import nest, pygle_nest; nest.Install(pygle_nest.module_path()); "
              "n = nest.Create('gle_neuron', params={'activation': pygle_nest.ACTIVATIONS['tanh']}); "
              "nest.Simulate(1.0); print('ok', pygle_nest.__file__)")
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env=dict(env, PYNEST_QUIET="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2] == "ok" and str(venv) in proc.stdout.split()[-1]
