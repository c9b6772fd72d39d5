"""Numerics: units, the seed tree, PK, PD and statistics.

Arrays in, arrays out; imports nothing else of ketsim.
"""
