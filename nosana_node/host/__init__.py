"""What the node knows about its host (GPUs for now)."""
