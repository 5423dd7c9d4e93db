"""LagLine (Ellenberger et al. 2024, Fig. 5): a student chain of two softplus GLE units learns the
weights and the membrane time constants of a teacher chain, online, in NEST; the same run with
instantaneous errors settles on a wrong solution. The project's main demo: the same as
``python -m pygle_nest demo`` (code in pygle_nest/demo.py).

    python examples/lagline.py [--time 6000] [--seed 1] [--out results/lagline]
"""

import sys

from pygle_nest.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
