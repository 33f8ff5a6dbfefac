"""Simulated shop days: pickup, waits and the agents a target needs (issue 16)."""
