"""Endpoints and per-replicate analyses of simulated trials. Imports core, config and sim."""
