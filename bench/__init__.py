"""Benchmarks; results and how to run them are in docs/PERFORMANCE.md."""
