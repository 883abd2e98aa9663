"""``python -m featent``: the same command line as the ``featent`` console script."""

import sys

from featent.cli.main import main

sys.exit(main())
