"""Supervision: live monitoring, dispatch and alerts (LIVE-1…3)."""
