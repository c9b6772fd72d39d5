"""``python -m ketsim.apps.explorer FILE ...``: serve the explorer (as ``ketsim explore``)."""

import sys

from ketsim.apps.explorer import main

sys.exit(main())
