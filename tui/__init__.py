"""``migtd-console``: the Textual operator console for MigTD-Py.

The console never imports the engine's session code: it starts ``migtd``
processes (locally or over SSH) and reads the JSON-lines events they write on
stderr (``docs/events.md``). Everything it shows is derived by the pure
:mod:`tui.model` from those lines, which is why a saved run replays exactly.
"""
