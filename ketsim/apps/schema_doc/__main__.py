"""``python -m ketsim.apps.schema_doc``: print the schema reference or write it into a file."""

from ketsim.apps.schema_doc.cli import main

raise SystemExit(main())
