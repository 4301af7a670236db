"""Entry point for `python -m bench.localcluster`."""

import sys

from bench.localcluster.run import main

sys.exit(main())
