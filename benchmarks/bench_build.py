# bench_build.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""Time of the module build: cold (empty cache, NESTML generation and compilation) and cached.

Uses a temporary cache folder and destination, so neither the user's cache nor the installed
module (pygle_nest/_module) is touched.

    .venv/bin/python benchmarks/bench_build.py
"""

import io
import os
import sys
import tempfile
import time
from pathlib import Path

# measure the working tree, not a copy installed into site-packages by `pip install .`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pygle_nest import build  # noqa: E402


def timed_build(dest, force):
    """Seconds for one build() call; its log is kept out of the table."""
    start = time.perf_counter()
    build.build(dest, force=force, log=io.StringIO())
    return time.perf_counter() - start


def main():
    with tempfile.TemporaryDirectory(prefix="pygle-bench-") as tmp:
        # build() reads the cache folder from the environment at call time
        os.environ["PYGLE_NEST_CACHE"] = str(Path(tmp) / "cache")
        dest = Path(tmp) / "module"
        cold = timed_build(dest, force=True)
        cached = timed_build(dest, force=False)
    # the cold time grows with the number of models
    print(f"models: {', '.join(build.expected_models())}\n")
    print(f"{'build':<28} {'seconds':>8}")
    print(f"{'cold (empty cache, forced)':<28} {cold:>8.2f}")
    print(f"{'cached (same inputs)':<28} {cached:>8.2f}")
    print(f"{'ratio cold / cached':<28} {cold / cached:>8.0f}")


if __name__ == "__main__":
    main()
