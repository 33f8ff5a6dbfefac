"""Benchmarks behind `kefu bench NAME`: each prints a table, and with --json one JSON line."""
