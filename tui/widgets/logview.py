"""A log pane that renders only the visible lines of a bounded ring buffer.

Like toolong's viewer it uses Textual's line API: the cost of a frame is the
number of visible rows, not the number of lines received, so a flood of tens
of thousands of lines per second only costs the ring-buffer appends. Filtering
(by text and minimum level) rebuilds a view list when the filter changes and,
while it is set, at most once per UI tick as lines arrive.
"""

from __future__ import annotations

from typing import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.model import LEVELS, LogLine, SideState

LEVEL_STYLES: dict[str, Style] = {
    "error": Style(color="red", bold=True),
    "warn": Style(color="yellow"),
    "info": Style(color="green"),
    "debug": Style(color="cyan", dim=True),
    "trace": Style(dim=True),
    "raw": Style(color="magenta"),
}
_TEXT_STYLES: dict[str, Style] = {"error": Style(color="red"), "warn": Style(color="yellow")}


def parse_filter(text: str) -> tuple[str, str | None]:
    """``"level:warn tls"`` → (``"tls"``, ``"warn"``): substring and minimum level."""
    words, level = [], None
    for word in text.split():
        key, _, value = word.partition(":")
        if key.lower() in ("level", "l") and value.lower() in (*LEVELS, "warning"):
            level = "warn" if value.lower() == "warning" else value.lower()
        else:
            words.append(word)
    return " ".join(words).lower(), level


def passes(line: LogLine, needle: str, level: str | None) -> bool:
    """Raw (non-JSON) lines always pass the level filter: they may be the only clue."""
    if level is not None and line.level in LEVELS and LEVELS.index(line.level) > LEVELS.index(level):
        return False
    return not needle or needle in line.render().lower()


class LogView(ScrollView, can_focus=True):
    """One side's log lines, coloured by level, with filter and follow mode."""

    follow: reactive[bool] = reactive(True)

    def __init__(self, side: SideState, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.side = side
        self.needle = ""
        self.min_level: str | None = None
        self._view: Sequence[LogLine] = side.logs
        self._seen = -1
        self._width = 0

    def set_side(self, side: SideState) -> None:
        self.side = side
        self._seen = -1
        self._width = 0
        self.sync(force=True)

    def set_filter(self, text: str) -> None:
        self.needle, self.min_level = parse_filter(text)
        self.sync(force=True)

    @property
    def shown(self) -> int:
        return len(self._view)

    def sync(self, force: bool = False) -> None:
        """Catch up with the side's ring buffer (called once per UI tick)."""
        total = self.side.total_lines + len(self.side.problems)
        if total == self._seen and not force:
            return
        fresh = min(len(self.side.logs), max(0, total - max(self._seen, 0)))
        self._seen = total
        logs = self.side.logs
        for i in range(len(logs) - fresh, len(logs)):
            self._width = max(self._width, len(logs[i].render()))
        if self.needle or self.min_level:
            self._view = [ln for ln in logs if passes(ln, self.needle, self.min_level)]
        else:
            self._view = logs
        self.virtual_size = Size(self._width, len(self._view))
        if self.follow:
            # after the refresh, when the new virtual size is in the layout
            self.call_after_refresh(self._to_end)
        self.refresh()
        self._update_title()

    def _to_end(self) -> None:
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def on_resize(self) -> None:
        self.call_after_refresh(self._to_end)

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.call_after_refresh(self._to_end)
        self._update_title()

    def _update_title(self) -> None:
        mode = "follow" if self.follow else "paused"
        flt = ""
        if self.needle or self.min_level:
            flt = " · filter" + (f" {self.needle!r}" if self.needle else "") + (f" level≤{self.min_level}" if self.min_level else "")
        total = self.side.total_lines + len(self.side.problems)
        self.border_subtitle = f"{len(self._view)}/{total} lines · {mode}{flt}"

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._view):
            return Strip.blank(width, base)
        line = self._view[index]
        when, head, event, _ = line.columns()
        segments = [
            Segment(when, base + Style(dim=True)),
            Segment(head, base + LEVEL_STYLES.get(line.level, Style())),
            Segment(event, base + Style(bold=True)),
            Segment(line.text, base + _TEXT_STYLES.get(line.level, Style())),
        ]
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, base)
