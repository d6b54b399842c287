"""``python -m tui``: the same as ``migtd-console``."""

import sys

from tui.app import main

sys.exit(main())
