"""Keys that arrive together (one read: a laggy SSH link, tmux send-keys, a paste) are handled one at a
time in the order typed, also when one of them moves the focus or closes a dialog; Esc then a key in
one read (the bytes of Alt+key) is Esc, then the key (app/serial_keys.py)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual import events
from textual.widgets import Input

from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.app.serial_keys import SEQUENCE_STARTS, EscFirstParser, split_alt
from tests.campaign import examples
from tests.test_tui_pilot import SIZE, _open_ticket, _quit, _ready
from tests.tui_support import demo_app, wait_until


def _burst(app, *keys: tuple[str, str | None]) -> None:  # type: ignore[no-untyped-def]
    for key, char in keys:  # posted back to back, as the driver posts one read's keys
        app.post_message(events.Key(key, char))


def _read(app, data: str) -> None:  # type: ignore[no-untyped-def]
    """What the workstation's driver does with one read from the terminal: parse, post every key."""
    for token in EscFirstParser().feed(data):
        app.post_message(token)


async def test_characters_after_tab_go_to_the_next_field(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        ticket = await _open_ticket(pilot, "b", "7")
        size, price = ticket.query_one("#t-size", Input), ticket.query_one("#t-price", Input)
        # size, tab (to the price, selected on focus), then the new price
        _burst(app, ("3", "3"), ("tab", "\t"), ("9", "9"), ("1", "1"))
        await wait_until(pilot, lambda: price.value == "91", timeout=10, what="91 in the price field")
        await pilot.pause(0.3)
        assert (size.value, price.value) == ("73", "91")
        assert app.focused is price
        await pilot.press("escape")
        await _quit(pilot)


async def test_esc_then_a_key_in_one_read_closes_the_ticket_then_acts(tmp_path: Path) -> None:
    """ESC 2 in one read (Textual's own parser made it "™", typed into the ticket): the ticket closes and
    2 opens Orders."""
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        ticket = await _open_ticket(pilot, "b", "7")
        size = ticket.query_one("#t-size", Input)
        _read(app, "\x1b2")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=10, what="the ticket closed")
        await wait_until(pilot, lambda: app.query_one("TabbedContent").active == "orders", timeout=10,
                         what="the Orders tab")
        assert size.value == "7"
        # and a key right behind an Esc that closes a dialog goes to the workstation, not the dialog
        await _open_ticket(pilot, "b", "7")
        _read(app, "\x1b1")
        await wait_until(pilot, lambda: app.query_one("TabbedContent").active == "market", timeout=10,
                         what="the Market tab")
        assert not isinstance(app.screen, OrderTicket)
        await _quit(pilot)


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(st.characters(min_codepoint=33, max_codepoint=0x2FFF).filter(str.isprintable), st.booleans())
def test_split_alt_is_esc_then_the_character(ch: str, shifted: bool) -> None:
    key = f"alt+shift+{ch.lower()}" if shifted and ch.isupper() else f"alt+{ch}"
    esc, rest = split_alt(events.Key(key, ch))
    assert (esc.key, esc.character) == ("escape", "\x1b")
    assert rest.character == ch
    assert rest.key == (ch if shifted and ch.isupper() else key[4:])


def test_split_alt_keeps_other_keys() -> None:
    for key, char in [("a", "a"), ("alt+left", None), ("ctrl+c", "\x03"), ("escape", "\x1b"), ("alt+enter", "\r")]:
        event = events.Key(key, char)
        assert split_alt(event) == [event]


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(st.characters(min_codepoint=32, max_codepoint=0x2FFF).filter(lambda c: c.isprintable() and c not in SEQUENCE_STARTS))
def test_the_parser_reads_esc_then_a_character_as_two_keys(ch: str) -> None:
    """ESC b was ctrl+left and ESC 2 was "™" (Textual's macOS/iTerm mappings); now always Esc, then the key."""
    keys = [t for t in EscFirstParser().feed("\x1b" + ch) if isinstance(t, events.Key)]
    assert [k.key for k in keys][:1] == ["escape"] and len(keys) == 2, keys
    assert keys[1].character == ch


def test_the_parser_still_reads_real_sequences() -> None:
    for data, key in [("\x1b[A", "up"), ("\x1bOP", "f1"), ("\x1b[15~", "f5"), ("\x1b[Z", "shift+tab")]:
        keys = [t.key for t in EscFirstParser().feed(data) if isinstance(t, events.Key)]
        assert keys == [key], (data, keys)
