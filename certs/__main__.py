"""Entry point for `python -m certs`; see `certs.cli`."""

import sys

from certs.cli import main

sys.exit(main())
