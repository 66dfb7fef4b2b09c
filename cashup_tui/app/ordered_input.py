"""An Input whose editing keys keep their place among typed characters.

Textual's Input inserts printable characters in its own key handler, but runs its bound keys (backspace,
delete, arrows, home/end, enter) only after the key has bubbled up to the app, so keys that arrive in one
read (a laggy SSH link, a paste of keystrokes) can apply out of order: "5", backspace, "2000" typed into
"7" gave "75200", not "72000" (Textualize/textual#6605; the upstream fix, PR #6631, runs the widget's own
bindings inline, as here). Keys bound outside the field (tab to the next field) are kept in order by the app,
which dispatches one key at a time (app/serial_keys.py).
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input


def _own_actions(cls: type[Input]) -> dict[str, str]:
    """key -> action of the Input's own bindings (a binding may name several keys)."""
    out: dict[str, str] = {}
    for b in cls.BINDINGS:
        if isinstance(b, Binding):
            for key in b.key.split(","):
                out.setdefault(key.strip(), b.action)
    return out


_ACTIONS = _own_actions(Input)


class OrderedInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        action = _ACTIONS.get(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            self._restart_blink()
            await self.run_action(action)
            return
        await super()._on_key(event)
