"""Screens of the console: Run (live or replayed) and History."""
