"""What users run: the CLI, reports, published-trial validation, the explorer, NONMEM interchange
and benchmarks.

The top layer.
"""
