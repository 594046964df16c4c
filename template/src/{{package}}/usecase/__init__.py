"""Use cases and the ports they need. Never imports delivery or adapter code."""
