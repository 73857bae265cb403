"""rnnlab.models."""
