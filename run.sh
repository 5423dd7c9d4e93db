#!/usr/bin/env bash
# pygle-nest set-up and entry points on Debian. Each command installs what it needs, then runs:
#   bash run.sh demo      the main demo: LagLine learning (writes results/lagline.png, .json)
#   bash run.sh test      the test suite
#   bash run.sh setup     set-up only
# Set-up: Debian packages (compiler, NEST's headers' dependencies), a venv in .venv, the pinned
# Python packages, and the extension module (pip install .; an unchanged module is not rebuilt).
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES="python3 python3-venv python3-dev g++ make cmake libboost-dev libltdl-dev libgsl-dev"
VENV=.venv
PY=$VENV/bin/python

setup() {
  local missing=()
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
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

cmd=${1:-}
case "$cmd" in
  setup) setup ;;
  demo) setup; PYNEST_QUIET=1 "$PY" examples/lagline.py "${@:2}" ;;
  test)
    setup
    set +e
    PYNEST_QUIET=1 OMP_WAIT_POLICY=PASSIVE "$PY" -m pytest tests "${@:2}"
    rc=$?
    set -e
    if [ $rc -eq 5 ]; then echo "run.sh: pytest collected no tests: failing" >&2; exit 1; fi
    exit $rc ;;
  *) echo "usage: bash run.sh demo|test|setup [args]" >&2; exit 2 ;;
esac
