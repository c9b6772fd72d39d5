"""How a scenario is run beyond its model: the concentration output grid of PK runs
(:class:`OutputSpec`) and the parameter sweep (:class:`SweepSpec`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ketsim.config.schema.base import HoursField, StrictModel

__all__ = [
    "OutputSpec",
    "SweepSpec",
]


class OutputSpec(StrictModel):
    """Time grid on which concentrations are reported."""

    step: HoursField = Field(1.0, description="output interval")
    end: HoursField = Field(12 * 168.0, description="last output time")

    @model_validator(mode="after")
    def _grid(self) -> OutputSpec:
        if not self.step > 0:
            raise ValueError("'step' must be > 0 h")
        if not self.end >= 0:
            raise ValueError("'end' must be >= 0 h")
        if self.end / self.step > 5e6:
            raise ValueError("the output grid has more than 5,000,000 points: raise 'step'")
        return self


class SweepSpec(StrictModel):
    """A parameter sweep: scenario paths and the values they take (see :mod:`ketsim.config.sweep`).

    Paths use the syntax of error messages (``arms[0].regimens[0].rate``) plus ``[*]`` for every
    element of a list. Cells are the cartesian product of the ``grid`` lists (last key varies
    fastest), crossed with the rows of the ``zip`` lists (equal lengths, varied together). The
    base scenario ignores its sweep; :func:`ketsim.config.sweep.expand_sweep` checks it and builds
    the
    cells.
    """

    grid: dict[str, list[Any]] = Field({}, description="path: values, crossed with each other")
    zip: dict[str, list[Any]] = Field(
        {}, description="path: values of equal length, varied together and crossed with the grid"
    )
