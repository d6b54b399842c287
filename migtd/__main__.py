"""``python -m migtd``: the same as the ``migtd`` command."""

import sys

from migtd.cli import main

sys.exit(main())
