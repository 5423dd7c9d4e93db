"""MNIST-1D (Ellenberger et al. 2024, Fig. 8d) with the paper's 14,956-parameter GLE network,
trained in NEST by the paper's protocol (100 lanes, Adam 1e-3 every step, reduce-on-plateau):
scalar input, one point per dt = 0.2 ms (sequences of 360); 6 layers
of 53 units, each of 18 (tau_m 0.6, tau_r 0.2), 18 (1.2, 0.2) and 17 (1.2, 1.2) ms units,
the first linear, the others tanh; 10 linear outputs with cross-entropy (beta = 1, gamma = 0).
The data (4000 train / 1000 test) is generated locally by the mnist1d package. Writes the
learning curve (PNG), the figures (JSON) and a checkpoint after every epoch. The same as
``python -m pygle_nest train --out results/mnist1d`` (code in pygle_nest/classify.py).

    python examples/mnist1d_gle.py [--threads 2] [--epochs 150] [--hours 2] [--resume] [--help]
"""

import sys

from pygle_nest.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["train", "--out", "results/mnist1d", *sys.argv[1:]]))
