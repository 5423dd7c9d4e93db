"""Loads the built extension module into the running NEST kernel."""

import json
from pathlib import Path

from .build import MANIFEST, MODULE_NAME

MODULE_DIR = Path(__file__).resolve().parent / "_module"


def module_path() -> Path:
    """Absolute path of the built module (``pip install .`` or ``python -m pygle_nest build``)."""
    path = MODULE_DIR / f"{MODULE_NAME}.so"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: build the module with `pip install .` "
                                "or `python -m pygle_nest build`")
    return path


def install():
    """Install the module into the running kernel; a no-op when its models are there already.

    Call it again after ``nest.ResetKernel()``, which unloads user modules.
    """
    import nest

    models = json.loads((module_path().parent / MANIFEST).read_text())["models"]
    if all(m in nest.node_models or m in nest.synapse_models for m in models):
        return
    nest.Install(str(module_path()))
    missing = [m for m in models if m not in nest.node_models and m not in nest.synapse_models]
    if missing:
        raise RuntimeError(f"{module_path()} was loaded but lacks the models {missing}: rebuild it")
