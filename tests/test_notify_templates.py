"""User notification templates: whatever a user writes, checking it ends in a clear ConfigError or a
template that renders; never another exception (a traceback at start-up)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.notify_messages import render
from cashup_tui.adapters.notify_templates import COMMON, EVENTS, SAMPLE_FIELDS, check_templates
from cashup_tui.domain.errors import ConfigError
from tests.campaign import examples

PIECES = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "if", "endif", "for x in", "endfor", "symbol", "|upper",
                          "\n", " ", "title", "x", "'", "(", ")", "é", "\x00", "{{ symbol }}", "{% if symbol %}"])


@settings(max_examples=examples(50), deadline=None)
@given(event=st.sampled_from(EVENTS), text=st.lists(PIECES, max_size=25).map("".join))
def test_any_user_template_is_checked_without_a_traceback(event: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{event}.j2"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            found = check_templates(d)
        except ConfigError as exc:
            assert str(path) in str(exc)
            return
        assert found == {event: path}
        title, _ = render(event, {**COMMON, **SAMPLE_FIELDS[event]}, d)
        assert title


def test_every_built_in_renders_with_its_sample_fields() -> None:
    for event in EVENTS:
        title, _ = render(event, {**COMMON, **SAMPLE_FIELDS[event]})
        assert title and title != event.replace("_", " "), event  # not the plain fallback
    assert check_templates(None) == {} and check_templates("/nonexistent/cashup-templates") == {}
