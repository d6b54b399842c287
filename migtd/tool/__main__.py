"""``python -m migtd.tool``: the same as ``migtd-tool``."""

import sys

from migtd.tool.main import main

sys.exit(main())
