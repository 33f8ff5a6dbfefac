"""Consultation summaries (CONV-10, DESK-2): the classification tree and the summaries."""
