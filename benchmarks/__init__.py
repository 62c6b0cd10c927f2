"""Benchmarks of the training code; not tests, and never run by the pipeline.

    python -m benchmarks.epoch            # every network and dtype, portable and native
    python -m benchmarks.epoch --quick    # a smoke test (tests/test_benchmark.py runs it)

See benchmarks/epoch.py for what is measured (grid.py: --grid, cores.py: --cores)
and benchmarks/sampling.py for when a ratio is refused; docs/performance.md for the
figures.
"""
