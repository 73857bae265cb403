"""rnnlab.diagnose."""
