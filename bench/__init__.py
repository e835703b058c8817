"""Benchmarks and the synthetic data generator: `python -m bench NAME [options]` (see docs/performance.md)."""
