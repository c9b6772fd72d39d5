"""``python -m ketsim.apps.cli ...``: the ``ketsim`` command line."""

import sys

from ketsim.apps.cli import main

sys.exit(main())
