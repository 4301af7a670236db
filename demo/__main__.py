"""`python -m demo`: run the demo; the exit code says whether every step succeeded."""

import sys

from demo.run import main

sys.exit(main())
