"""Chat quality inspection (QA-1, QA-2): rules over transcripts, inspections run as durable
background jobs, reports per agent with false positives left out."""
