"""Scenario configuration: the pydantic schema, dose shorthand, sweeps, indications, YAML I/O and
the cross-field design rules.

Imports only ketsim.core.
"""
