"""A small dialog asking for one or more paths (open a fleet, compare a policy, export somewhere).

It dismisses with the values typed (a tuple, one per field) on Enter, or
``None`` on Esc; the screen that pushed it decides what they mean.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PathPrompt(ModalScreen[tuple[str, ...] | None]):
    """``fields`` are ``(label, initial value)``; the first must not be empty."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.title_text, id="prompt-title")
            for n, (label, value) in enumerate(self.fields):
                yield Label(label, classes="prompt-label")
                yield Input(value=value, id=f"prompt-{n}", classes="prompt-input")
            yield Label("Enter: OK · Esc: cancel", classes="prompt-help")

    def on_mount(self) -> None:
        self.query_one("#prompt-0", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        values = tuple(self.query_one(f"#prompt-{n}", Input).value.strip() for n in range(len(self.fields)))
        if not values[0]:
            self.notify(f"{self.fields[0][0]}: give a path", severity="warning")
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
