"""Simulation: population sampling, regimens, designs, the mesa trial model and its agents,
population PK studies.

Imports ketsim.core and ketsim.config.
"""
