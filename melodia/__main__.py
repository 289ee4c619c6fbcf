"""`python -m melodia ...` runs the command line, as `melodia ...` does."""

import sys

from melodia.apps.cli import main

sys.exit(main())
