"""Set the selected position's leverage and margin mode (Gate's position leverage endpoint), through the
node: profile check, the contract's range, the risk gate's cap, then the venue. A refusal keeps the
dialog open with the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.margin import MarginMode, PositionMargin
from cashup_tui.service.leverage import parse_leverage, parse_mode

DEFAULT_LEVERAGE = Decimal(10)  # what the engine assumes for a contract the venue has not reported yet
SetLeverage = Callable[[str, Decimal, MarginMode | None], Awaitable[PositionMargin | None]]


class LeverageDialog(ModalScreen[PositionMargin | None]):
    """Leverage N and margin mode (cross/isolated, [f2] switches); enter sends."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("f2", "flip", "Cross/isolated")]

    def __init__(self, symbol: str, inst: Instrument | None, current: PositionMargin | None,
                 fallback_leverage: Decimal, set_leverage: SetLeverage) -> None:
        super().__init__()
        self.symbol = symbol
        self.inst = inst
        self.current = current
        self.mode = current.mode if current is not None else MarginMode.ISOLATED
        self.leverage = current.leverage if current is not None else fallback_leverage
        self._set = set_leverage

    def compose(self) -> ComposeResult:
        rng = f"  range {self.inst.leverage_min:f}-{self.inst.leverage_max:f}x" if self.inst else ""
        now = f"{self.leverage.normalize():f}x {self.mode.value}"
        with Vertical(classes="dialog"):
            yield Label(f"LEVERAGE {self.symbol}  now {now}{rng}", markup=False, classes="dialog-title")
            with Horizontal(classes="trow"):
                yield Label("leverage", classes="tlabel")
                yield Input(f"{self.leverage.normalize():f}", id="lev-value", compact=True)
            with Horizontal(classes="trow"):
                yield Label("margin", classes="tlabel")
                yield Input(self.mode.value, id="lev-mode", compact=True)
            yield Static("", id="lev-status")
            yield Label("[enter] set  [f2] cross/isolated  [esc] cancel", markup=False, classes="dim")

    def on_mount(self) -> None:
        self.query_one("#lev-value", Input).focus()

    def action_flip(self) -> None:
        box = self.query_one("#lev-mode", Input)
        box.value = (MarginMode.ISOLATED if box.value.strip().lower() == MarginMode.CROSS else MarginMode.CROSS).value

    def on_input_submitted(self) -> None:
        self.run_worker(self._send, exclusive=True)

    async def _send(self) -> None:
        status = self.query_one("#lev-status", Static)
        try:
            lev = parse_leverage(self.query_one("#lev-value", Input).value)
            mode = parse_mode(self.query_one("#lev-mode", Input).value)
        except CashupError as exc:
            status.update(Text(str(exc), style="bold yellow"))
            return
        status.update(Text("sending…", style="dim"))
        try:
            got = await self._set(self.symbol, lev, mode)
        except CashupError as exc:
            hint = f"\n{exc.hint}" if exc.hint else ""
            status.update(Text(f"NOT SET: {exc}{hint}", style="bold white on red"))
            return
        self.dismiss(got or PositionMargin(self.symbol, mode or self.mode, lev))

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_leverage_dialog(app: Any, symbol: str) -> None:
    """Push the dialog for `symbol` on the app's node; a change is confirmed with a toast."""
    node = app.node
    engine_lev = next((v.position.leverage for v in node.positions() if v.position.symbol == symbol), DEFAULT_LEVERAGE)

    def done(got: PositionMargin | None) -> None:
        if got is not None:
            app.notify(f"{symbol} leverage {got.leverage.normalize():f}x {got.mode.value}")
            app.refresh_views()

    app.push_screen(LeverageDialog(symbol, node.instrument(symbol), node.margin_of(symbol), engine_lev,
                                   node.set_leverage), done)
