"""Signed webhooks (API-2): the owner's endpoints, the outbox, signing and delivery."""
