"""Benchmarks of the training code; not tests, and never run by the pipeline.

    python -m benchmarks.epoch            # the full comparison, a few minutes
    python -m benchmarks.epoch --quick    # 2x150 only, fewer repeats

See benchmarks/epoch.py for what is measured and how.
"""
