"""``python -m bench.reconciler``: see ``bench.reconciler.run``."""

import sys

from bench.reconciler.run import main

sys.exit(main())
