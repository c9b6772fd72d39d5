import sys

from ketsim.apps.cli import main

sys.exit(main())
