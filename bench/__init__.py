"""Benchmarks, run from the repository root as modules (`python -m bench.gpu_bench`); not part of the package."""
