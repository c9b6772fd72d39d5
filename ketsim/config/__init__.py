"""Scenario configuration: the pydantic schema (:mod:`ketsim.config.schema`, rooted at
:class:`ketsim.config.scenario.Scenario`), dose shorthand, sweeps, indications, YAML I/O and the
cross-field design rules.

Imports only ketsim.core.
"""
