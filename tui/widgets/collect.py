"""The collection table: one row per inventory host, its state in this run and the one-line error.

It holds nothing but what it was last shown: the screen
(:mod:`tui.screens.collect`) fills it from the plan (every host pending,
or fresh when the collector keeps it) and updates one row per outcome the
collector reports. Nothing in it depends on time, so a run's table is the
same on every machine.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from migtd.fleet.collect import HostOutcome
from tui import fleet

#: Style of each state word (failures red, the kept hosts dim).
STATE_STYLE = {"collected": "bold green", "fresh (skipped)": "dim", "pending": "", "cancelled": "yellow"}
FAILED_STYLE = "bold red"
#: Width of the state column: the longest state word.
STATE_WIDTH = max(len(w) for w in [*fleet.STATE_WORDS.values(), *STATE_STYLE])
#: Longest error shown (the whole line is in fleet-state.json).
ERROR_WIDTH = 160


def state_text(word: str) -> Text:
    """A state word in its colour (any failure kind in red)."""
    return Text(word, style=STATE_STYLE.get(word, FAILED_STYLE))


class CollectTable(DataTable[Text]):
    """Host, address, state, error: the row key is the host name."""

    def plan(self, hosts: list[tuple[str, str, bool]]) -> None:
        """One row per ``(name, address, due)``: due hosts pending, the others fresh (skipped).

        The first three columns get their final widths now (every state word
        is known), so updating a row never moves the columns of the others.
        """
        self.clear(columns=True)
        self.add_column("host", key="host", width=max([4, *(len(n) for n, _a, _d in hosts)]))
        self.add_column("address", key="address", width=max([7, *(len(a) for _n, a, _d in hosts)]))
        self.add_column("state", key="state", width=STATE_WIDTH)
        self.add_column("error", key="error")
        for name, address, is_due in hosts:
            word = "pending" if is_due else "fresh (skipped)"
            self.add_row(Text(name), Text(address), state_text(word), Text(""), key=name)

    def outcome(self, outcome: HostOutcome) -> None:
        """Show one host's outcome (a host the plan does not know is added)."""
        word = fleet.state_word(outcome)
        error = outcome.message.splitlines()[0][:ERROR_WIDTH] if outcome.message else ""
        if outcome.name not in self.rows:
            self.add_row(Text(outcome.name), Text(""), state_text(word), Text(error), key=outcome.name)
            return
        self.update_cell(outcome.name, "state", state_text(word))
        self.update_cell(outcome.name, "error", Text(error, style=FAILED_STYLE if error else ""),
                         update_width=True)

    def cancel_pending(self) -> int:
        """Mark the hosts still pending as cancelled; how many were."""
        n = 0
        for key in list(self.rows):
            cell = self.get_cell(key, "state")
            if cell.plain == "pending":
                self.update_cell(key, "state", state_text("cancelled"))
                n += 1
        return n

    def states(self) -> dict[str, str]:
        """Host → state word, as shown (the tests read it)."""
        return {str(key.value): self.get_cell(key, "state").plain for key in self.rows}
