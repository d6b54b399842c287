"""``python -m migtd``: the same as the ``migtd`` command."""

from migtd.cli import entry

entry()
