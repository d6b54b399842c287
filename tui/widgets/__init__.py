"""Widgets of the Run screen; each redraws itself from a :class:`tui.model.RunModel`."""
