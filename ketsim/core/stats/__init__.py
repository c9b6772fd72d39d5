"""Vectorised statistics over many replicate trials: tests, regressions, survival, mixed models."""
