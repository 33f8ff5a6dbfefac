"""Ratings (RATE-1 to RATE-3, CONV-7): the consumer rates the agent who served them."""
