import sys

from ketsim.cli import main

sys.exit(main())
