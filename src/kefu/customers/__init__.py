"""The customer's side panel (DESK-5) and proactive conversations (CONV-6, LIMIT-2)."""
