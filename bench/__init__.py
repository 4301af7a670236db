"""Benchmarks: plain scripts, run by hand (see bench/README.md), never as timed tests."""
