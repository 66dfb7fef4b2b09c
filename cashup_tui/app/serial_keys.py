"""Keys handled one at a time, in the order they were typed, and Esc+key kept as two keys.

Why this exists. Textual forwards a key to the focused widget's queue and, when the widget does not
take it, bubbles it up one queue at a time to the app, where the app's bindings run. Keys that arrive
in one read (a laggy SSH link, tmux send-keys, a paste) are all forwarded before the first has
bubbled: a character typed after Tab reached the old field before Tab moved the focus, and a key typed
after Esc reached the dialog Esc was closing. (Input's own editing keys had the same race inside the
field: app/ordered_input.py, Textualize/textual#6605.)

Here the app forwards the next key only once the previous one is done: right after forwarding a key,
a `KeyDone` marker is posted to the same widget; it bubbles up the same queues behind the key, so
when it reaches the app the key has been handled wherever it went. A widget removed while handling
the key (a dialog that Esc closed) drops the marker; a short timer then lets the next key go, and
the next key goes to whatever now has the focus, as it should.

Esc then a key in one read is, byte for byte, what a terminal sends for Alt+key (textual#4816 is
the timing side of this), and Textual's parser maps some of those pairs to other keys: ESC 2 to "™"
and ESC 1..0 to the characters macOS's Option key types under WezTerm, ESC b / ESC f to ctrl+left /
ctrl+right (iTerm's word jumps). Over SSH, Esc then "2" typed "™" into the open ticket. CashUp binds
no Alt key, so `EscFirstParser` reads ESC + one character as the two keys a person typed, and
`split_alt` does the same for an Alt+key that reaches the app another way (a kitty-protocol
terminal, an unrecognised sequence re-issued). `use_esc_first_parser` puts the parser into Textual's
Linux and web drivers (they build their parser from a module name; this is the one seam).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from typing import Any

from textual import events
from textual._xterm_parser import XTermParser
from textual.message import Message

MARKER_TIMEOUT_S = 0.25  # only when a key's widget went away with its marker


class KeyDone(Message, bubble=True):
    """Posted behind a forwarded key: reaching the app means the key was handled."""

    def __init__(self, token: int) -> None:
        super().__init__()
        self.token = token


SEQUENCE_STARTS = frozenset("[O]P_^\\")  # ESC + these opens a longer sequence (CSI, SS3, OSC, DCS, ...)


class EscFirstParser(XTermParser):
    """Textual's parser, with ESC + one printable character read as Esc, then that character."""

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        if len(sequence) == 2 and sequence[0] == "\x1b" and sequence[1].isprintable() \
                and sequence[1] not in SEQUENCE_STARTS:
            yield events.Key("escape", "\x1b")
            yield from super()._sequence_to_key_events(sequence[1])
            return
        yield from super()._sequence_to_key_events(sequence, alt)


def use_esc_first_parser() -> None:
    """Make Textual's Linux and web drivers build `EscFirstParser` (one workstation per process)."""
    from textual.drivers import linux_driver, web_driver

    linux_driver.XTermParser = EscFirstParser  # type: ignore[misc]
    web_driver.XTermParser = EscFirstParser  # type: ignore[misc]


def split_alt(event: events.Key) -> list[events.Key]:
    """Alt+<character> (ESC then the character, in one read) as the two keys typed; other keys as they are."""
    key, char = event.key, event.character
    if not key.startswith("alt+") or char is None or len(char) != 1 or not char.isprintable():
        return [event]
    rest = key[len("alt+"):]
    if rest.startswith("shift+") and char.isupper():
        rest = char
    return [events.Key("escape", "\x1b"), events.Key(rest, char)]


class SerialKeys:
    """App mixin (put it before `App`): one key in flight at a time (see the module docstring)."""

    _tokens = itertools.count(1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_backlog: deque[events.Key] = deque()
        self._key_in_flight: int | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._key_backlog.extend(split_alt(event))
            if self._key_in_flight is None:
                await self._next_key()
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _next_key(self) -> None:
        app: Any = self
        while self._key_backlog and self._key_in_flight is None:
            key = self._key_backlog.popleft()
            token = next(self._tokens)
            self._key_in_flight = token
            await super().on_event(key)  # type: ignore[misc]  # priority bindings, or forward to the focus
            target = app.focused or app.screen  # where it was forwarded (focus moves only if it was not)
            target.post_message(KeyDone(token))
            app.set_timer(MARKER_TIMEOUT_S, lambda t=token: self._key_done(t))

    def _key_done(self, token: int) -> None:
        if self._key_in_flight != token:
            return
        self._key_in_flight = None
        if self._key_backlog:
            app: Any = self
            app.call_next(self._next_key)

    def on_key_done(self, message: KeyDone) -> None:
        message.stop()
        self._key_done(message.token)
