"""Real-world regression corpus (issue 10)."""
