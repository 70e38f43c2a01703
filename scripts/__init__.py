"""Command-line scripts: training, comparison, benchmarks, data.

The scripts run NumPy (OpenBLAS threads) and torch (OpenMP threads) in one
process. OpenMP workers that spin-wait between torch ops starve the OpenBLAS
threads of the interleaved scratch steps (measured: a 3000-image epoch of both
took 15 s + 19 s with spinning workers, 12 s + 2 s without), so unless the user
chose otherwise, OpenMP workers sleep when idle. This must be set before torch
is first imported, hence here.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
