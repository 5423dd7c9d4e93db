"""Loads the built extension module into the running NEST kernel."""

import json
from pathlib import Path

from .build import MANIFEST, MODULE_NAME, flavor

MODULE_ROOT = Path(__file__).resolve().parent / "_module"


def _module_dir() -> Path:
    """The folder of the module built for the NEST in use (with or without MPI)."""
    import nest

    return MODULE_ROOT / flavor({"have_mpi": bool(nest.build_info.get("have_mpi"))})


def _built(name) -> Path:
    """A file of the built module; FileNotFoundError with the way to build it if it is missing."""
    path = _module_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: build the module with `pip install .` "
                                "or `python -m pygle_nest build`")
    return path


def module_path() -> str:
    """Absolute path of the built module, for ``nest.Install(pygle_nest.module_path())``."""
    return str(_built(f"{MODULE_NAME}.so"))


def models():
    """Names of the models that the built module provides."""
    return json.loads(_built(MANIFEST).read_text())["models"]


def install():
    """Install the module into the running kernel; a no-op when its models are there already.

    Call it again after ``nest.ResetKernel()``, which unloads user modules.
    """
    import nest

    expected = models()
    if all(m in nest.node_models or m in nest.synapse_models for m in expected):
        return
    nest.Install(module_path())
    missing = [m for m in expected if m not in nest.node_models and m not in nest.synapse_models]
    if missing:
        raise RuntimeError(f"{module_path()} was loaded but lacks the models {missing}: rebuild it")
