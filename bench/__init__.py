"""Benchmark: seeding and the load-driving harness (`make bench`)."""
