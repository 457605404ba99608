"""Benchmarks (run as scripts); `bench.corpus` is also used by tests/faults."""
