"""A log pane that renders only the visible lines of a bounded ring buffer.

Like toolong's viewer it uses Textual's line API: the cost of a frame is the
number of visible rows, not the number of lines received, so a flood of tens
of thousands of lines per second only costs the ring-buffer appends. The Run
screen calls :meth:`LogView.sync` when the run moved; it looks only at the
lines appended since the last call (the side's ``appended`` counter). A filter
(text and minimum level) is applied to those new lines only and its view drops
the lines the ring buffer has dropped, so filtering a flood costs per new line,
not per line kept; the whole view is rebuilt only when the filter changes.

While lines stream in, a pane repaints at most every :data:`REPAINT_INTERVAL`
seconds (a flood is not readable faster, and each repaint renders every
visible row): a sync within that interval schedules one deferred repaint
instead. A filter change or a new side repaints at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

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

#: Least seconds between two repaints of a pane while lines stream in.
REPAINT_INTERVAL = 0.1
#: The virtual width (for horizontal scrolling) grows in steps of this many cells.
WIDTH_STEP = 32


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


def width_of(line: LogLine) -> int:
    """Cells :meth:`LogLine.render` takes, without building the string."""
    return 11 + 6 + max(15, len(line.event)) + 1 + len(line.text)


class LogView(ScrollView, can_focus=True):
    """One side's log lines, coloured by level, with filter and follow mode."""

    follow: reactive[bool] = reactive(True)

    def __init__(self, side: SideState, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.side = side
        self.needle = ""
        self.min_level: str | None = None
        self._view: Sequence[LogLine] = side.logs
        #: With a filter: (sequence number, line) of the kept lines that pass it.
        self._filtered: deque[tuple[int, LogLine]] = deque()
        self._seen = 0  # side.appended at the last sync
        self._width = 0
        self._styles: tuple[Style, Style, Style, dict[str, Style], dict[str, Style]] | None = None
        self._painted_at = 0.0
        self._paint_timer: Timer | None = None

    def set_side(self, side: SideState) -> None:
        """Show another side (a re-run or a replay)."""
        self.side = side
        self._width = 0
        self._rebuild()

    def set_filter(self, text: str) -> None:
        self.needle, self.min_level = parse_filter(text)
        self._rebuild()

    @property
    def shown(self) -> int:
        return len(self._view)

    @property
    def pending(self) -> bool:
        """A repaint is scheduled (lines arrived within the last :data:`REPAINT_INTERVAL`)."""
        return self._paint_timer is not None

    def _rebuild(self) -> None:
        """Start over from everything the ring buffer holds (new side or new filter)."""
        self._seen = self.side.appended - len(self.side.logs)
        self._filtered = deque()
        self.sync()
        self._paint()

    def sync(self) -> None:
        """Catch up with the lines appended to the side since the last call."""
        side = self.side
        logs = side.logs
        fresh = min(len(logs), side.appended - self._seen)
        first_kept = side.appended - len(logs)  # sequence number of logs[0]
        new = range(len(logs) - fresh, len(logs))
        width = self._width
        for i in new:
            width = max(width, width_of(logs[i]))
        # Grown in steps: each change of the virtual width lays the screen out again.
        self._width = -(-width // WIDTH_STEP) * WIDTH_STEP
        if self.needle or self.min_level:
            view = self._filtered
            for i in new:
                line = logs[i]
                if passes(line, self.needle, self.min_level):
                    view.append((first_kept + i, line))
            while view and view[0][0] < first_kept:  # dropped from the ring buffer
                view.popleft()
            self._view = _Lines(view)
        else:
            self._view = logs
        self._seen = side.appended
        wait = self._painted_at + REPAINT_INTERVAL - time.monotonic()
        if wait <= 0:
            self._paint()
        elif self._paint_timer is None:
            self._paint_timer = self.set_timer(wait, self._paint)

    def _paint(self) -> None:
        """Show the view as it is now: its size, the scroll position, the subtitle."""
        if self._paint_timer is not None:
            self._paint_timer.stop()
            self._paint_timer = None
        self._painted_at = time.monotonic()
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
        self.border_subtitle = f"{len(self._view)}/{self.side.appended} lines · {mode}{flt}"

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's style is the same for every line of a frame; computing it
        # (and the level styles derived from it) once per frame instead of once
        # per line is most of what a frame of a flood costs.
        self._styles = _line_styles(self.rich_style)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        styles = self._styles if self._styles is not None else _line_styles(self.rich_style)
        base, when_style, event_style, heads, texts = styles
        if index >= len(self._view):
            return Strip.blank(width, base)
        line = self._view[index]
        when, head, event, text = line.columns()
        segments = [Segment(when, when_style), Segment(head, heads.get(line.level, base)),
                    Segment(event, event_style), Segment(text, texts.get(line.level, base))]
        # Known cell length for plain-ASCII lines (nearly all of them): Strip need not measure.
        length = len(when) + len(head) + len(event) + len(text) if text.isascii() and event.isascii() else None
        return Strip(segments, length).crop_extend(scroll_x, scroll_x + width, base)


@lru_cache(maxsize=8)
def _line_styles(base: Style) -> tuple[Style, Style, Style, dict[str, Style], dict[str, Style]]:
    """The widget style and the column styles derived from it (by level)."""
    return (base, base + Style(dim=True), base + Style(bold=True),
            {level: base + style for level, style in LEVEL_STYLES.items()},
            {level: base + style for level, style in _TEXT_STYLES.items()})


class _Lines(Sequence[LogLine]):
    """The filtered view as a sequence of lines (the deque holds (number, line) pairs)."""

    def __init__(self, pairs: deque[tuple[int, LogLine]]) -> None:
        self._pairs = pairs

    def __len__(self) -> int:
        return len(self._pairs)

    # ints only (Sequence also takes a slice): the deque underneath cannot slice, and the renderer never asks
    def __getitem__(self, index: int) -> LogLine:  # type: ignore[override]
        return self._pairs[index][1]
