"""Amend an open order: new price and/or size, sent through the risk gate by the node."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from cashup_tui.app.modals.ticket import TicketError, ticket_number
from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.orders import Order


class AmendOrder(ModalScreen[Order | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, order: Order, amend: Callable[..., Awaitable[Order]]) -> None:
        super().__init__()
        self.order = order
        self._amend = amend

    def compose(self) -> ComposeResult:
        o = self.order
        with Vertical(classes="dialog"):
            yield Label(f"AMEND {o.client_id}  {o.side.value.upper()} {o.size} {o.symbol} @ {o.price}",
                        markup=False, classes="dialog-title")
            with Horizontal(classes="trow"):
                yield Label("price", classes="tlabel")
                yield Input("" if o.price is None else str(o.price), id="a-price", compact=True)
            with Horizontal(classes="trow"):
                yield Label("size", classes="tlabel")
                yield Input(str(o.size), id="a-size", compact=True)
            yield Static("", id="amend-status")
            yield Label("[enter] send amend  [esc] cancel", markup=False, classes="dim")

    def on_mount(self) -> None:
        self.query_one("#a-price", Input).focus()

    def on_input_submitted(self) -> None:
        self.run_worker(self._send, exclusive=True)

    async def _send(self) -> None:
        status = self.query_one("#amend-status", Static)
        try:
            price = ticket_number(self.query_one("#a-price", Input).value, "price", required=False)
            size = ticket_number(self.query_one("#a-size", Input).value, "size", required=False)
        except TicketError as exc:
            status.update(Text(str(exc), style="bold yellow"))
            return
        new_price = price if price is not None and price != self.order.price else None
        new_size = size if size is not None and size != self.order.size else None
        if new_price is None and new_size is None:
            status.update(Text("nothing changed", style="yellow"))
            return
        try:
            order = await self._amend(self.order.client_id, price=new_price, size=new_size)
        except CashupError as exc:
            status.update(Text(f"NOT AMENDED: {exc}", style="bold white on red"))
            return
        self.dismiss(order)

    def action_cancel(self) -> None:
        self.dismiss(None)

