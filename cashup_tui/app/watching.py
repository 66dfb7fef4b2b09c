"""The watchlist from the keyboard: `/` finds a contract the venue lists and puts it on the watchlist,
`delete` on the watchlist takes the selected one off. Both go through the workstation (service/watchlist.py),
which subscribes the new contract and saves the change to the settings file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.widgets import TabbedContent

from cashup_tui.app.modals.search import SymbolSearch
from cashup_tui.app.panes.market import Watchlist
from cashup_tui.domain.errors import CashupError


def open_search(app: Any) -> None:
    node = app.node

    def picked(sym: str | None) -> None:
        if not sym:
            return
        app.symbol = sym
        app.query_one(TabbedContent).active = "market"
        if sym in node.watchlist() or not hasattr(node, "watch"):
            _show(app, sym)
            return
        _run(app, node.watch(sym), lambda: _show(app, sym))

    app.push_screen(SymbolSearch(list(node.symbols()), list(node.watchlist())), picked)


def _show(app: Any, sym: str) -> None:
    app._refresh_market()
    app.query_one(Watchlist).select_symbol(sym)


def unwatch_selected(app: Any) -> None:
    node = app.node
    sym = app.query_one(Watchlist).selected_symbol
    if app.query_one(TabbedContent).active != "market" or not sym or not hasattr(node, "unwatch"):
        return

    def after() -> None:
        app.symbol = node.watchlist()[0] if app.symbol == sym else app.symbol
        _show(app, app.symbol)

    _run(app, node.unwatch(sym), after)


def _run(app: Any, call: Awaitable[str], after: Callable[[], None]) -> None:
    """The workstation's change in a worker: its message as a toast, or its error; `after` on success."""

    async def go() -> None:
        try:
            said = await call
        except CashupError as exc:
            app.notify(str(exc), severity="error", timeout=10)
            return
        app.notify(said, markup=False)
        after()

    app.run_worker(go(), group="actions")
