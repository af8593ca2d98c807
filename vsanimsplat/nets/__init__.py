"""Neural networks, one per module (torch)."""
