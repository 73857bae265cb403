"""rnnlab.report."""
