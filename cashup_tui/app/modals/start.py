"""The start dialog of a strategy: symbol (a portfolio strategy's symbols, comma-separated), timeframe, size,
each typed parameter, and the mode it runs in.

The dialog only collects text; the service checks it (`check`: the strategy's own parameter parsing, as
`cashup trade --param`) and starts it (`start`: profile check, risk budget, runner). A bad value keeps
the dialog open with the field and the fix; nothing starts until every field is right.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from cashup_tui.domain.errors import CashupError
from cashup_tui.service.strategies import TIMEFRAMES, UNITS, ParamField, StartRequest

Check = Callable[[str, str, str, str, str, dict[str, str]], StartRequest]


class StartStrategy(ModalScreen[str | None]):
    """Returns the started slot's name, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Start")]

    def __init__(self, strategy: str, fields: Sequence[ParamField], *, symbol: str, mode: str, check: Check,
                 start: Callable[[StartRequest], Awaitable[str]], size: str = "1000",
                 symbol_label: str = "symbol") -> None:
        super().__init__()
        self.strategy = strategy
        self.fields = list(fields)
        self.symbol = symbol
        self.symbol_label = symbol_label
        self.mode_name = mode
        self.size_text = size
        self._check = check
        self._start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog ticket", id="start-dialog"):
            yield Label(f"Start {self.strategy}", classes="dialog-title")
            with VerticalScroll(id="start-fields"):
                with Horizontal(classes="trow"):
                    yield Label(self.symbol_label, classes="tlabel")
                    yield Input(self.symbol, id="st-symbol", compact=True,
                                placeholder="A,B,C: listed contracts" if self.symbol_label == "symbols"
                                else "any listed contract")
                with Horizontal(classes="trow"):
                    yield Label("timeframe", classes="tlabel")
                    yield Select([(t, t) for t in TIMEFRAMES], value="1m", allow_blank=False, id="st-timeframe",
                                 compact=True)
                with Horizontal(classes="trow"):
                    yield Label("size", classes="tlabel")
                    yield Input(self.size_text, id="st-size", compact=True)
                    yield Select([("USDT", "usdt"), ("contracts", "contracts")], value=UNITS[0], allow_blank=False,
                                 id="st-unit", compact=True)
                for f in self.fields:
                    with Horizontal(classes="trow"):
                        yield Label(f.name, classes="tlabel")
                        yield Input(str(f.default), id=f"st-p-{f.name}", compact=True, tooltip=f.help or None)
                    yield Label(f"  {f.allowed}" + (f": {f.help}" if f.help else ""), classes="dim", markup=False)
                with Horizontal(classes="trow"):
                    yield Label("mode", classes="tlabel")
                    yield Label(f"{self.mode_name.upper()} (the workstation's mode: `cashup --mode M` to change)",
                                id="st-mode", markup=False)
            yield Static("", id="start-error")
            yield Label("[enter] start  [esc] cancel", markup=False, classes="dim")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", variant="success", id="st-start", compact=True)
                yield Button("Cancel", id="st-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#st-symbol", Input).focus()

    def values(self) -> tuple[str, str, str, str, str, dict[str, str]]:
        q = self.query_one
        raw = {f.name: q(f"#st-p-{f.name}", Input).value for f in self.fields}
        return (self.strategy, q("#st-symbol", Input).value, str(q("#st-timeframe", Select).value),
                q("#st-size", Input).value, str(q("#st-unit", Select).value), raw)

    def _show(self, text: str, style: str = "bold white on red") -> None:
        self.query_one("#start-error", Static).update(Text(text, style=style))

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "st-start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        self.run_worker(self._go, exclusive=True, group="start-strategy")

    async def _go(self) -> None:
        try:
            req = self._check(*self.values())
        except CashupError as exc:
            self._show(_text(exc))
            return
        self._show(f"starting {self.strategy} on {req.symbol}…", "yellow")
        try:
            slot = await self._start(req)
        except CashupError as exc:
            self._show(f"NOT STARTED: {_text(exc)}")
            return
        self.dismiss(slot)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _text(exc: Any) -> str:
    hint = getattr(exc, "hint", "")
    return f"{exc}" + (f" ({hint})" if hint and hint not in str(exc) else "")


def open_start_dialog(app: Any, strategy: str) -> None:
    """Push the start dialog of `strategy` over `app` (a CashupApp); a start selects the new row."""
    from cashup_tui.app.panes.tables import SyncTable

    node = app.node
    try:
        fields = node.strategy_params(strategy)
        label, symbol = node.start_symbol(strategy, app.symbol)
    except CashupError as exc:
        app.notify(str(exc), severity="error", timeout=10)
        return

    def started(slot: str | None) -> None:
        if slot:
            app.notify(f"started {slot}")
            app.refresh_views()
            app.query_one("#strategies-table", SyncTable).select_key(slot)

    app.push_screen(StartStrategy(strategy, fields, symbol=symbol, mode=node.mode.value, check=node.check_start,
                                  start=node.start_with, symbol_label=label), started)
