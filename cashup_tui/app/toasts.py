"""The workstation's toasts on screen: at most MAX_VISIBLE at once, one per key, critical ones until read.

Why: toasts stack over the pane the trader is watching (a kill-3 flatten covered the Risk pane). Every
toast of the app goes through `ToastShelf.show` (CashupApp.notify included): a toast with the key of
one shown replaces it (an order's later fills), past MAX_VISIBLE the oldest non-critical one goes
first, and a critical toast (service/toasts.py) has no timeout: it stays until the notification
centre is opened (`read_all`), where every notification is listed anyway.
"""

from __future__ import annotations

from typing import Any

from textual.notifications import Notification, SeverityLevel

MAX_VISIBLE = 3
UNTIL_READ_S = 10.0**9  # a critical toast's timeout: gone only when read


class ToastShelf:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._keyed: dict[str, Notification] = {}
        self._critical: dict[str, Notification] = {}  # identity -> notification

    def visible(self) -> list[Notification]:
        return sorted(self.app._notifications, key=lambda n: n.raised_at)

    def show(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
             timeout: float | None = None, markup: bool = True, key: str = "", critical: bool = False) -> None:
        app = self.app
        for k, v in list(self._keyed.items()):  # gone by themselves (timed out): forget their keys
            if v.has_expired:
                del self._keyed[k]
        if key and (old := self._keyed.pop(key, None)) is not None:
            critical = critical or old.identity in self._critical
            self._drop(old)
        shown = self.visible()
        while len(shown) >= MAX_VISIBLE:
            victim = next((n for n in shown if n.identity not in self._critical), shown[0])
            shown.remove(victim)
            self._drop(victim)
        n = Notification(message, title, severity, UNTIL_READ_S if critical else
                         (app.NOTIFICATION_TIMEOUT if timeout is None else timeout), markup=markup)
        if key:
            self._keyed[key] = n
        if critical:
            self._critical[n.identity] = n
        app._notifications.add(n)  # at once (not posted): the cap counts it before the next toast
        app._refresh_notifications()

    def read_all(self) -> None:
        """The notification centre was opened: the critical toasts have been read."""
        for n in list(self._critical.values()):
            self._drop(n)
        self.app._refresh_notifications()

    def _drop(self, n: Notification) -> None:
        self._critical.pop(n.identity, None)
        for k, v in list(self._keyed.items()):
            if v is n:
                del self._keyed[k]
        self.app._unnotify(n, refresh=False)


VIEW_ERRORS_LOGGED = 50  # distinct view errors logged with a traceback per session (then toasts only)


def view_error_key(exc: BaseException, tab: str) -> str:
    """Where a view error comes from (the pane, its type and the line that raised), not its message:
    a message carrying changing numbers (a price, a count) is the same error every tick, logged once."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    at = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
    return f"{tab}|{type(exc).__name__}|{at}"
