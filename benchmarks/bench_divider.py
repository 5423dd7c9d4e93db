# bench_divider.py
#
# This file is part of pygle-nest.
#
# pygle-nest is free software: you can redistribute it and/or modify it under the terms of the
# GNU General Public License as published by the Free Software Foundation, either version 2 of
# the License, or (at your option) any later version.
# SPDX-License-Identifier: GPL-2.0-or-later

"""The floor under Adam's cost per connection-step: Adam's quotient m / (sqrt(s) + eps) alone.

Compiles a small C++ loop with the module's flags and times the quotient over independent
elements (no other work, so only the divider's throughput counts), one element at a time
(scalar sqrtsd / divsd, what gle_synapse's per-step update compiles to) and two at a time
(packed sqrtpd / divpd), side by side. Compare the scalar figure with the static connection's
ns per synapse-step in bench_synapses.py.

    .venv/bin/python benchmarks/bench_divider.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pygle_nest.build import EXTRA_CXXFLAGS  # noqa: E402

FLAGS = ["-O3", "-fno-math-errno", EXTRA_CXXFLAGS, "-std=c++20"]

SOURCE = r"""
#include <chrono>
#include <cmath>
#include <cstdio>
typedef double v2 __attribute__( ( vector_size( 16 ) ) );
constexpr int N = 4096, REPEATS = 1000, ROUNDS = 20;
alignas( 16 ) static double m[ N ], s[ N ];
static volatile double sink;

template < typename F >
double best_ns( F f )
{
  double best = 1e9;
  for ( int r = 0; r < ROUNDS; ++r )
  {
    auto t0 = std::chrono::steady_clock::now();
    for ( int k = 0; k < REPEATS; ++k )
      f();
    std::chrono::duration< double > dt = std::chrono::steady_clock::now() - t0;
    best = std::min( best, dt.count() / REPEATS / N * 1e9 );
  }
  return best;
}

// one quotient at a time: GCC must not vectorize this loop (the pragma novector is GCC 14+)
__attribute__( ( optimize( "no-tree-vectorize" ) ) ) double
scalar_sum()
{
  double acc = 0;
  for ( int i = 0; i < N; ++i )
    acc += m[ i ] / ( std::sqrt( s[ i ] ) + 1e-8 );
  return acc;
}

double
packed_sum()
{
  v2 acc = { 0, 0 };
  for ( int i = 0; i < N; i += 2 )
  {
    const v2 mi = { m[ i ], m[ i + 1 ] }, si = { s[ i ], s[ i + 1 ] };
    acc += mi / ( __builtin_ia32_sqrtpd( si ) + 1e-8 );
  }
  return acc[ 0 ] + acc[ 1 ];
}

int main()
{
  for ( int i = 0; i < N; ++i )
  {
    m[ i ] = 1e-3 * ( i + 1 );
    s[ i ] = 1e-6 * ( i + 3 );
  }
  const double scalar = best_ns( [] { sink = scalar_sum(); } );
  const double packed = best_ns( [] { sink = packed_sum(); } );
  std::printf( "%.3f %.3f\n", scalar, packed );
}
"""


def main():
    with tempfile.TemporaryDirectory(prefix="pygle-divider-") as tmp:
        src, exe = Path(tmp) / "divider.cpp", Path(tmp) / "divider"
        src.write_text(SOURCE)
        subprocess.run(["g++", *FLAGS, str(src), "-o", str(exe)], check=True)
        scalar, packed = map(float, subprocess.run([str(exe)], capture_output=True, text=True,
                                                   check=True).stdout.split())
    print(f"Adam's quotient m / (sqrt(s) + eps), independent elements, g++ {' '.join(FLAGS)}\n")
    print(f"{'one at a time (sqrtsd, divsd)':<34} {scalar:6.2f} ns/element")
    print(f"{'two at a time (sqrtpd, divpd)':<34} {packed:6.2f} ns/element")
    print(f"{'ratio':<34} {scalar / packed:6.2f}")


if __name__ == "__main__":
    main()
