"""``python -m paper_checks.cli``: the ``stagewise`` command."""

import sys

from paper_checks.cli import main

sys.exit(main())
