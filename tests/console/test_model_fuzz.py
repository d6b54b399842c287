"""Whatever a peer or a broken process writes, the model and the panes never raise."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tui.model import STEPS, RunModel
from tui.record import RunRecord
from tui.report import report_markdown
from tui.widgets.panes import AttestationPane, PolicyPane, ResultBar, RunHeader, Timeline

EVENTS = ["start", "config", "listening", "connected", "request", "report_status",
          "quote_generated", "tls_established", "peer_attested", "policy_rule",
          "policy_decision", "msk_exchanged", "exit", "log", "unknown"]
FIELDS = ["ts", "level", "msg", "code", "result", "reason", "port", "ip", "verified",
          "rtmrs", "advisories", "bypassed", "failed_rules", "skipped", "ok", "key_sha256_8",
          "section", "field", "reference", "actual", "local", "source", "fmspc", "mrtd"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=8)
records = st.fixed_dictionaries({"event": st.sampled_from(EVENTS)},
                                optional={name: values for name in FIELDS})
lines = st.one_of(records.map(lambda r: json.dumps(r, default=str)), st.text(max_size=80), records)


def render(widget_show, *args) -> None:  # type: ignore[no-untyped-def]
    """Call a pane's show() without an app and render what it produced."""
    console = Console(width=100, file=io.StringIO())
    captured = []

    class Probe:
        border_title = ""
        parent = None

        def update(self, renderable, layout: bool = True) -> None:  # type: ignore[no-untyped-def]
            captured.append(renderable)

    widget_show(Probe(), *args)
    for renderable in captured:
        console.print(renderable)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["source", "destination"]), lines), max_size=25),
       st.integers(min_value=-300, max_value=300))
def test_any_input_is_shown_not_raised(feed, code) -> None:  # type: ignore[no-untyped-def]
    model = RunModel({"roles": ["destination", "source"], "attestation": "skip-ra"})
    for role, line in feed:
        model.feed(role, line)
    model.ended("source", code, "ssh")
    assert {s for s in model.sides["source"].steps} == {name for name, _ in STEPS}
    json.dumps(model.summary(), default=str)
    report_markdown(model, "fuzz", 0.0)
    for role in ("source", "destination"):
        render(Timeline.show, model.sides[role])
        render(AttestationPane.show, model, role)
        render(PolicyPane.show, model.sides[role])
    render(ResultBar.show, model)
    render(RunHeader.show, model, "fuzz")
    replayed = RunRecord.from_model("fuzz", 0.0, model, {"source": {"code": code, "transport": "ssh"}}).replay()
    assert replayed.sides["source"].result is not None
