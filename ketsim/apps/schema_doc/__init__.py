"""Scenario-schema reference in Markdown, generated from the pydantic models.

The reference has one subsection per model reachable from :class:`ketsim.config.scenario.Scenario`
(headed by its YAML path, e.g. ``arms[].regimens[].titration``), each with a table of the model's
keys, their types or allowed values, defaults and descriptions, plus a subsection for the ``pd:``
overrides (every field of :class:`ketsim.core.pd.parameters.PDParameters` with its default and the
source noted in the code). Everything is read from the schema at run time, in declaration order,
so the output is deterministic and follows the schema when fields are added.

README.md holds a copy between the lines ``<!-- schema-reference:start -->`` and
``<!-- schema-reference:end -->``; refresh it with::

    python -m ketsim.apps.schema_doc --write README.md

Modules: :mod:`~ketsim.apps.schema_doc.reference` walks the models and renders the reference,
:mod:`~ketsim.apps.schema_doc.field_types` describes field types,
:mod:`~ketsim.apps.schema_doc.markdown` writes Markdown and YAML text,
:mod:`~ketsim.apps.schema_doc.source_notes` reads the source comments of fields, and
:mod:`~ketsim.apps.schema_doc.cli` is the command line (README markers).
"""

from ketsim.apps.schema_doc.cli import (
    END_MARKER,
    START_MARKER,
    between_markers,
    main,
    replace_between_markers,
)
from ketsim.apps.schema_doc.reference import reachable_models, schema_reference
from ketsim.apps.schema_doc.source_notes import pd_parameter_sources

__all__ = [
    "END_MARKER",
    "START_MARKER",
    "between_markers",
    "main",
    "pd_parameter_sources",
    "reachable_models",
    "replace_between_markers",
    "schema_reference",
]
