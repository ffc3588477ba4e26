"""Bytewax flows, sources and sinks of city stream analytics."""

import os

# The flow's models use NumPy; with several workers on few cores, OpenBLAS threads in every
# process fight for the same cores (measured ~10x slower), so one thread each.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
