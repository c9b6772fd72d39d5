"""Files and run directories: atomic writes, provenance (versions), the resumable run store.

Imports the layers below it.
"""
