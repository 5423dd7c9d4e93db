#!/usr/bin/env bash
# pygle-nest set-up and entry points on Debian. Each command installs what it needs, then runs:
#   bash run.sh demo      the main demo: LagLine learning (writes results/lagline.png, .json)
#   bash run.sh test      the test suite (sets up both venvs: the MPI tests run in .venv-mpi)
#   bash run.sh setup     set-up only
#   bash run.sh mpi-setup set-up of a second venv, .venv-mpi, with NEST built with MPI (see mpi_setup)
# Set-up: Debian packages (compiler, NEST's headers' dependencies), a venv in .venv, the pinned
# Python packages, and the extension module (pip install .; an unchanged module is not rebuilt).
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES="python3 python3-venv python3-dev g++ make cmake libboost-dev libltdl-dev libgsl-dev"
VENV=.venv
PY=$VENV/bin/python

# Installs those of the given Debian packages that are missing (dpkg -s).
apt_install_missing() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  # a python3 that already has venv and headers (e.g. pyenv) needs no Debian python packages
  if command -v python3 >/dev/null && python3 -c 'import venv, sysconfig, os; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then
    missing=("${missing[@]/python3*/}")
  fi
  missing=(${missing[@]+"${missing[@]}"})
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "run.sh: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

setup() {
  apt_install_missing $APT_PACKAGES
  [ -x "$PY" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.requirements-$(sha256sum requirements.txt | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "run.sh: installing Python packages"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -r requirements.txt
    touch "$stamp"
  fi
  "$PY" -m pip install -q --no-build-isolation --no-deps .
}

# ---------------------------------------------------------------------------------------------
# MPI set-up: .venv-mpi with NEST 3.10.0 built from PyPI's source distribution with MPI, OpenMP,
# GSL, ltdl and Boost (PyPI's wheel has no MPI), the pinned packages of requirements.txt except
# nest-simulator, mpi4py, and our package, whose module is built against that NEST
# (pygle_nest/_module/mpi). The NEST build (~5 min on 2 cores with the reduced model set below)
# is kept as a wheel in $NEST_MPI_CACHE/<key>; its install prefix is baked in, so the key holds
# the venv's absolute path. A .venv-mpi whose NEST already has MPI is left as it is.
# Run under MPI with:  $MPIRUN -np 2 .venv-mpi/bin/python script.py
MPI_VENV=.venv-mpi
MPI_PY=$MPI_VENV/bin/python
MPI_APT_PACKAGES="openmpi-bin libopenmpi-dev libgsl-dev libltdl-dev libboost-dev cmake g++ make python3 python3-venv python3-dev"
NEST_VERSION=3.10.0
MPI4PY_VERSION=4.1.2
CYTHON_VERSION=3.3.1   # a declared dependency of nest-simulator; the same version as in .venv
# Built-in models of the MPI NEST: the headers in NEST's models/ (lin_rate gives lin_rate_ipn and
# lin_rate_opn; multimeter gives voltmeter). The rate models and connections and
# eprop_learning_signal_connection are what pygle-nest uses; the rest is for tests and examples.
NEST_MPI_MODELS="lin_rate;rate_connection_delayed;rate_connection_instantaneous;step_rate_generator;multimeter;spike_recorder;weight_recorder;spike_generator;poisson_generator;dc_generator;parrot_neuron;inhomogeneous_poisson_generator;static_synapse;iaf_psc_alpha;iaf_psc_exp;eprop_iaf;eprop_readout;eprop_synapse;eprop_learning_signal_connection"
# Models whose absence fails the set-up.
NEST_MPI_REQUIRED="eprop_learning_signal_connection rate_connection_delayed rate_connection_instantaneous static_synapse lin_rate_ipn step_rate_generator multimeter spike_recorder iaf_psc_alpha iaf_psc_exp inhomogeneous_poisson_generator spike_generator"
NEST_MPI_CACHE=${PYGLE_NEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pygle-nest}/nest-mpi
MPIRUN="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE PYNEST_QUIET=1 mpirun --bind-to none --oversubscribe"

# True when $MPI_PY imports NEST $NEST_VERSION with MPI and all of $NEST_MPI_REQUIRED.
mpi_nest_ok() {
  [ -x "$MPI_PY" ] || return 1
  local py; py="$(cd "$MPI_VENV" && pwd)/bin/python"
  # from /tmp, so that nothing of the source tree is imported
  (cd /tmp && PYNEST_QUIET=1 OMP_WAIT_POLICY=PASSIVE "$py" - "$NEST_VERSION" $NEST_MPI_REQUIRED <<'PYEOF'
import importlib.metadata, sys
import nest
version, required = sys.argv[1], sys.argv[2:]
missing = [m for m in required if m not in nest.node_models and m not in nest.synapse_models]
ok = importlib.metadata.version("nest-simulator") == version and nest.build_info.get("have_mpi")
if missing:
    print("run.sh: the MPI NEST lacks the models", missing, file=sys.stderr)
sys.exit(0 if ok and not missing else 1)
PYEOF
  ) >/dev/null 2>"$MPI_VENV/.nest-check.log"
}

# pip's options for the NEST build (CMake definitions) for the venv at the absolute path $1. The
# installed nest-config then has the right prefix and include folder: NESTML modules build against
# it as they are.
nest_mpi_config_settings() {
  local d
  for d in with-mpi=ON with-openmp=ON with-gsl=ON with-ltdl=ON with-boost=ON \
      "with-models=$NEST_MPI_MODELS" "CMAKE_INSTALL_PREFIX=$1" \
      "CMAKE_INSTALL_INCLUDEDIR=lib/$PYVER/site-packages/nest/include"; do
    echo "--config-settings=cmake.define.$d"
  done
}

# Downloads NEST's source distribution and builds it into a wheel in the folder $1 (the cache),
# for the venv at the absolute path $2.
build_mpi_nest_wheel() {
  local dest=$1 venv_abs=$2
  local work; work=$(mktemp -d /tmp/nest-mpi-build.XXXXXX)
  local log="$dest/build.log"
  echo "run.sh: downloading the NEST $NEST_VERSION source distribution from PyPI"
  # --no-binary only for NEST: with :all: pip also builds Cython from source to read the
  # metadata (5 minutes instead of 10 s)
  "$MPI_PY" -m pip download -q --no-deps --no-binary nest-simulator -d "$work" "nest-simulator==$NEST_VERSION"
  local sdist; sdist=$(ls "$work"/nest_simulator-"$NEST_VERSION".tar.gz)
  echo "run.sh: building NEST $NEST_VERSION with MPI, OpenMP, GSL, ltdl, Boost (5-25 minutes; log: $log)"
  local start=$SECONDS
  # pip's wheel cache ignores config settings: --no-cache-dir, and the wheel is kept here
  local settings; mapfile -t settings < <(nest_mpi_config_settings "$venv_abs")
  if ! CMAKE_BUILD_PARALLEL_LEVEL=2 "$MPI_PY" -m pip wheel -v --no-cache-dir --no-deps \
      --no-binary nest-simulator -w "$work/wheel" "${settings[@]}" "$sdist" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "run.sh: building NEST with MPI failed; the full log is $log" >&2
    rm -rf "$work"
    return 1
  fi
  local wheel; wheel=$(ls "$work"/wheel/nest_simulator-*.whl)
  cp "$wheel" "$dest/$(basename "$wheel").partial"
  mv "$dest/$(basename "$wheel").partial" "$dest/$(basename "$wheel")"
  rm -rf "$work"
  echo "run.sh: built NEST in $((SECONDS - start)) s; wheel kept in $dest"
}

mpi_setup() {
  apt_install_missing $MPI_APT_PACKAGES
  if [ ! -x "$MPI_PY" ]; then
    echo "run.sh: creating $MPI_VENV"
    python3 -m venv "$MPI_VENV"
    echo '*' > "$MPI_VENV/.gitignore"   # keeps the venv out of git status
  fi
  local venv_abs; venv_abs=$(cd "$MPI_VENV" && pwd)
  PYVER=$("$MPI_PY" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
  local reqs="$MPI_VENV/requirements-mpi.txt"
  { grep -viE '^nest-simulator([=<>!~ ;]|$)' requirements.txt
    echo "mpi4py==$MPI4PY_VERSION"
    echo "Cython==$CYTHON_VERSION"; } > "$reqs.new"
  mv "$reqs.new" "$reqs"
  local stamp="$MPI_VENV/.requirements-$(sha256sum "$reqs" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "run.sh: installing Python packages into $MPI_VENV (requirements.txt without nest-simulator, mpi4py)"
    "$MPI_PY" -m pip install -q --upgrade pip
    "$MPI_PY" -m pip install -q -r "$reqs"
    touch "$stamp"
  fi
  if mpi_nest_ok; then
    echo "run.sh: $MPI_VENV has NEST $NEST_VERSION with MPI already"
  else
    local key; key="$NEST_VERSION-$PYVER-$(printf '%s\n' "$venv_abs" "$NEST_MPI_MODELS" "$(nest_mpi_config_settings "$venv_abs")" | sha256sum | cut -c1-12)"
    local dest="$NEST_MPI_CACHE/$key"
    mkdir -p "$dest"
    local wheel; wheel=$(ls "$dest"/nest_simulator-"$NEST_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$wheel" ]; then
      echo "run.sh: using the cached NEST $NEST_VERSION MPI wheel $wheel"
    else
      build_mpi_nest_wheel "$dest" "$venv_abs"
      wheel=$(ls "$dest"/nest_simulator-"$NEST_VERSION"-*.whl)
    fi
    echo "run.sh: installing $wheel into $MPI_VENV"
    "$MPI_PY" -m pip install -q --no-deps --force-reinstall "$wheel"
    if ! mpi_nest_ok; then
      cat "$MPI_VENV/.nest-check.log" >&2
      echo "run.sh: NEST in $MPI_VENV has no MPI or lacks models after installing $wheel;" \
           "delete $dest to rebuild it" >&2
      return 1
    fi
  fi
  echo "run.sh: installing pygle-nest into $MPI_VENV (builds the module against the MPI NEST)"
  "$MPI_PY" -m pip install -q --no-build-isolation --no-deps .
  echo "run.sh: checking: import nest (have_mpi), and 2 MPI ranks running gle_neuron"
  (cd /tmp && PYNEST_QUIET=1 "$venv_abs/bin/python" -c "import nest; assert nest.build_info['have_mpi']")
  local out
  rm -f "$venv_abs/.mpi-check.out"
  out=$(cd /tmp && $MPIRUN -np 2 "$venv_abs/bin/python" -c "
import nest, pygle_nest
assert pygle_nest.__file__.startswith('$venv_abs'), pygle_nest.__file__
nest.verbosity = nest.VerbosityLevel.ERROR
pygle_nest.install()
nest.Create('gle_neuron', 4)
nest.Simulate(1.0)
if nest.Rank() == 1:  # to a file: NEST's messages on stdout would interleave with a printed line
    open('$venv_abs/.mpi-check.out', 'w').write(f'rank {nest.Rank()} of {nest.NumProcesses()}')" \
    2>"$venv_abs/.mpi-check.log") || {
    echo "$out" >&2; cat "$venv_abs/.mpi-check.log" >&2; echo "run.sh: the MPI check failed" >&2; return 1; }
  grep -q "rank 1 of 2" "$venv_abs/.mpi-check.out" 2>/dev/null || {
    echo "$out" >&2; cat "$venv_abs/.mpi-check.log" >&2; echo "run.sh: the MPI check did not run 2 ranks" >&2; return 1; }
  echo "run.sh: MPI set-up done: $MPI_VENV (run with: $MPIRUN -np N $MPI_PY ...)"
}

cmd=${1:-}
case "$cmd" in
  setup) setup ;;
  mpi-setup) mpi_setup ;;
  demo) setup; PYNEST_QUIET=1 "$PY" examples/lagline.py "${@:2}" ;;
  test)
    setup
    mpi_setup
    set +e
    PYGLE_NEST_REQUIRE_MPI=1 PYNEST_QUIET=1 OMP_WAIT_POLICY=PASSIVE "$PY" -m pytest tests "${@:2}"
    rc=$?
    set -e
    if [ $rc -eq 5 ]; then echo "run.sh: pytest collected no tests: failing" >&2; exit 1; fi
    exit $rc ;;
  *) echo "usage: bash run.sh demo|test|setup|mpi-setup [args]" >&2; exit 2 ;;
esac
