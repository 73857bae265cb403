"""rnnlab.compare."""
