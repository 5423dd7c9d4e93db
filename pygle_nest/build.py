"""Builds the pygle-nest NEST extension module from the NESTML models in ``nestml_models/``.

The one place that builds the module; used by ``setup.py`` (``pip install .``) and by
``python -m pygle_nest build``. Runs without importing ``nest`` into this process: NESTML code
generation and the check of the built module each run in a subprocess.

Steps: check the pinned versions; hash every input; reuse a cached build with the same hash;
otherwise assemble the template tree (NESTML's own helper directives plus the project's
templates), write a ``nest-config`` that fits the PyPI wheel, generate and compile, then load
the module into a fresh NEST and check that every model in ``nestml_models/`` is registered.
"""

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE_NAME = "pyglemodule"
#: Written next to the module: the models it must contain, and the hash of its inputs.
MANIFEST = "models.json"
REQUIRED_VERSIONS = {"nest-simulator": "3.10.0", "nestml": "9.0.0"}
# NEST's wheel was built with the old libstdc++ string ABI: without the flag the module compiles
# but cannot be loaded. -fno-math-errno lets sqrt be one instruction (Adam's step, every
# connection and step); results do not change.
WHEEL_CXXFLAGS = "-fopenmp -O3 -fno-math-errno -DNDEBUG -std=c++20 -fPIC -D_GLIBCXX_USE_CXX11_ABI=0"
# For every NEST (wheel or own build): no fused multiply-adds, so that the module rounds as the
# NumPy reference does, op for op. A checkpoint delivers its last slice with the reference's
# equations and resumes bit for bit only then; compilers fuse by default where the CPU
# baseline has FMA (aarch64, or x86-64 with -march).
EXTRA_CXXFLAGS = "-ffp-contract=off -fno-semantic-interposition"

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "nestml_models"
TEMPLATES_DIR = MODELS_DIR / "templates"
#: Plain C++ headers that the generated code includes.
HEADERS_DIR = MODELS_DIR / "cpp"
#: Each NESTML synapse also gives its backward twin, registered under this suffix,
BACKWARD_SUFFIX = "_backward"
#: the lagged variants of both (explicit microcircuits) and the static ones (no learning): the names' suffixes.
SYNAPSE_VARIANTS = ("", BACKWARD_SUFFIX, "_lagged", "_lagged" + BACKWARD_SUFFIX, "_static", "_static" + BACKWARD_SUFFIX)


class BuildError(RuntimeError):
    """The module could not be built or does not contain every expected model."""


def check_versions():
    """Raise BuildError unless the pinned NEST and NESTML versions are installed."""
    for dist, wanted in REQUIRED_VERSIONS.items():
        try:
            found = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(f"{dist}=={wanted} is required to build the module, but it is not "
                             f"installed (pip install {dist}=={wanted})") from None
        if found != wanted:
            raise BuildError(f"{dist}=={wanted} is required to build the module, found {found}")


def expected_models():
    """Names of all NEST models made from nestml_models/*.nestml (synapses with their variants)."""
    names = []
    for path in sorted(MODELS_DIR.glob("*.nestml")):
        for name in re.findall(r"^model\s+(\w+)\s*:", path.read_text(), flags=re.MULTILINE):
            names += [name + v for v in SYNAPSE_VARIANTS] if name.endswith("_synapse") else [name]
    return names


def _inputs():
    files = sorted(MODELS_DIR.glob("*.nestml")) + sorted(TEMPLATES_DIR.rglob("*.jinja2")) + sorted(HEADERS_DIR.glob("*.h"))
    return files + [Path(__file__)]


def _nest_info():
    """Prefix, MPI flag and nest-config of the installed NEST, asked in a subprocess."""
    code = ("import json, nest; b = nest.build_info; "
            "print(json.dumps({'prefix': b.get('prefix', ''), 'have_mpi': bool(b.get('have_mpi')), "
            "'pkg': nest.__path__[0]}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYNEST_QUIET="1"))
    if out.returncode != 0:
        raise BuildError("importing nest failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def input_hash(nest_info):
    h = hashlib.sha256()
    for path in _inputs():
        h.update(str(path.relative_to(REPO_ROOT)).encode())
        h.update(path.read_bytes())
    # where this NEST is installed (an isolated build environment of pip is a new folder every
    # time) does not change the module: the pinned version and the MPI flag do
    where = {k: v for k, v in nest_info.items() if k != "pkg"}
    h.update(json.dumps([REQUIRED_VERSIONS, where, sys.version, os.environ.get("CXXFLAGS", "")]).encode())
    return h.hexdigest()[:16]


def cache_dir():
    root = os.environ.get("PYGLE_NEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pygle-nest")
    return Path(root)


def _write_wheel_nest_config(folder: Path, nest_pkg: Path):
    """A nest-config for the PyPI wheel, whose own one points at the wheel's build machine."""
    libs_dir = nest_pkg.parent / "nest_simulator.libs"
    libs = " ".join(str(p) for p in sorted(libs_dir.glob("lib*.so*"))
                    if re.match(r"lib(gomp|gsl|gslcblas)-", p.name))
    answers = {
        "--compiler": "g++",
        "--prefix": str(folder),
        "--cflags": WHEEL_CXXFLAGS,
        "--includes": f"-I{nest_pkg / 'include' / 'nest'}",
        "--libs": f"{libs} -Wl,-rpath,{libs_dir}",
        "--static-libraries": "",
        "--libdir": str(folder / "lib"),
        "--version": REQUIRED_VERSIONS["nest-simulator"],
    }
    cases = "\n".join(f"  {k}) echo '{v}' ;;" for k, v in answers.items())
    script = folder / "bin" / "nest-config"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/sh\ncase \"$1\" in\n{cases}\n  *) echo \"unsupported: $1\" >&2; exit 1 ;;\nesac\n")
    script.chmod(0o755)


def _assemble_templates(dest: Path):
    """The project's templates next to NESTML's helper directives and module set-up (CMake)."""
    import pynestml  # only for its location; generation itself runs in a subprocess
    stock = Path(pynestml.__file__).parent / "codegeneration" / "resources_nest" / "point_neuron"
    shutil.copytree(stock / "directives_cpp", dest / "directives_cpp")
    shutil.copytree(stock / "setup", dest / "setup")
    for path in (TEMPLATES_DIR / "module").glob("*.jinja2"):
        shutil.copy(path, dest / "setup" / path.name)
    for kind in ("neuron", "synapse"):
        for path in (TEMPLATES_DIR / kind).glob("*.jinja2"):
            shutil.copy(path, dest / path.name)


# NESTML 9.0.0 asserts that a synapse has at most one input port while it builds the synapse's
# template namespace; our rate synapses have two continuous ones, which that namespace does not
# use (the project's template reads them from the model itself). The wrapper hides them from
# that one method only; every NESTML check still runs.
_GENERATE = """
import json, sys
import pynestml
from pynestml.codegeneration.nest_code_generator import NESTCodeGenerator
from pynestml.frontend.pynestml_frontend import generate_nest_target
assert pynestml.__version__ == "9.0.0", pynestml.__version__
namespace_of = NESTCodeGenerator._get_synapse_model_namespace

def without_continuous_ports(self, synapse, metadata):
    blocks = synapse.get_input_blocks()
    saved = [b.input_definitions for b in blocks]
    for b in blocks:
        b.input_definitions = [p for p in b.input_definitions if not p.is_continuous()]
    try:
        return namespace_of(self, synapse, metadata)
    finally:
        for b, ports in zip(blocks, saved):
            b.input_definitions = ports

NESTCodeGenerator._get_synapse_model_namespace = without_continuous_ports
cfg = json.loads(sys.argv[1])
generate_nest_target(input_path=cfg["models"], target_path=cfg["target"], install_path=cfg["install"],
                     module_name=cfg["module"], logging_level="ERROR", codegen_opts=cfg["codegen_opts"])
"""

_VERIFY = """
import json, sys, nest
nest.Install(sys.argv[1])
print(json.dumps(sorted(set(nest.node_models) | set(nest.synapse_models))))
"""


def verify_module(so_path: Path, generation_log: str = ""):
    """Load the module into a fresh NEST and raise BuildError if a model is missing."""
    out = subprocess.run([sys.executable, "-c", _VERIFY, str(so_path)], capture_output=True,
                         text=True, env=dict(os.environ, PYNEST_QUIET="1"))
    if out.returncode != 0:
        raise BuildError(f"nest.Install({so_path}) failed:\n{out.stderr[-3000:]}")
    registered = set(json.loads(out.stdout.strip().splitlines()[-1]))
    missing = [m for m in expected_models() if m not in registered]
    if missing:
        raise BuildError(f"the built module lacks the models {missing}: NESTML drops a model with an "
                         f"error and builds the rest. Its output:\n{generation_log[-6000:]}")


def _generate_and_compile(work: Path, nest_info):
    templates = work / "templates"
    _assemble_templates(templates)
    nest_path = Path(nest_info["prefix"])
    if not (nest_path / "bin" / "nest-config").exists() or not nest_info["have_mpi"]:
        nest_path = work / "nest"
        _write_wheel_nest_config(nest_path, Path(nest_info["pkg"]))
    cfg = {
        "models": [str(p) for p in sorted(MODELS_DIR.glob("*.nestml"))],
        "target": str(work / "target"),
        "install": str(work / "install"),
        "module": MODULE_NAME,
        "codegen_opts": {
            "nest_path": str(nest_path),
            "nest_version": "v" + REQUIRED_VERSIONS["nest-simulator"],
            "templates": {
                "path": str(templates),
                "model_templates": {kind: sorted(p.name for p in (TEMPLATES_DIR / kind).glob("*.jinja2"))
                                    for kind in ("neuron", "synapse")},
                "module_templates": ["setup"],
            },
        },
    }
    env = dict(os.environ, CXXFLAGS=f"{os.environ.get('CXXFLAGS', '')} {EXTRA_CXXFLAGS} -I{HEADERS_DIR}".strip())
    proc = subprocess.run([sys.executable, "-c", _GENERATE, json.dumps(cfg)], cwd=work,
                          capture_output=True, text=True, env=env)
    so = work / "install" / f"{MODULE_NAME}.so"
    if proc.returncode != 0 or not so.exists():
        tail = (proc.stdout + proc.stderr)[-6000:]
        for err in sorted((work / "target").glob("compiler_*err*.txt")) if (work / "target").exists() else []:
            tail += f"\n--- {err.name} ---\n" + err.read_text()[-6000:]
        raise BuildError(f"generating or compiling {MODULE_NAME} failed:\n{tail}")
    return so, proc.stdout + proc.stderr


def flavor(nest_info):
    """Modules for NEST with and without MPI live side by side (they differ in ABI)."""
    return "mpi" if nest_info["have_mpi"] else "serial"


def build(dest_root: Path, force: bool = False, log=sys.stdout) -> Path:
    """Build (or reuse) the module for the installed NEST and copy it to dest_root/<flavor>;
    return the path of the .so."""
    if not MODELS_DIR.is_dir():
        raise BuildError(f"no NESTML models at {MODELS_DIR}: building needs a source checkout of pygle-nest")
    check_versions()
    nest_info = _nest_info()
    key = input_hash(nest_info)
    cached = cache_dir() / key / f"{MODULE_NAME}.so"
    dest_dir = Path(dest_root) / flavor(nest_info)
    dest = dest_dir / f"{MODULE_NAME}.so"
    if cached.exists() and not force:
        log.write(f"pygle-nest: module up to date (cache {key})\n")
    else:
        start = time.time()
        log.write(f"pygle-nest: building {MODULE_NAME} ({', '.join(expected_models())}) ...\n")
        with tempfile.TemporaryDirectory(prefix="pygle-build-") as tmp:
            so, generation_log = _generate_and_compile(Path(tmp), nest_info)
            verify_module(so, generation_log)
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".so.partial")
            shutil.copy(so, partial)
            os.replace(partial, cached)
        log.write(f"pygle-nest: built in {time.time() - start:.1f} s\n")
    dest_dir.mkdir(parents=True, exist_ok=True)
    if not dest.exists() or dest.read_bytes() != cached.read_bytes():
        partial = dest.with_suffix(".so.partial")
        shutil.copy(cached, partial)
        os.replace(partial, dest)
    manifest = dest_dir / MANIFEST
    partial = manifest.with_suffix(".partial")
    partial.write_text(json.dumps({"models": expected_models(), "hash": key}))
    os.replace(partial, manifest)
    return dest
