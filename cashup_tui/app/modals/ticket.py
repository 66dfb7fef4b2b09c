"""The order ticket: every order type the engine supports, with a live risk preview.

The ticket only builds an `OrderRequest`; the node runs the real risk gate (preview and submit),
so what the preview says is exactly what submit will decide. A denial keeps the ticket open and
shows the rule and the numbers. The size is typed in contracts, coins or USDT (f3 toggles; the
conversion is always shown) or set to 25/50/100% of the available margin (f5/f6/f7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cashup_tui.app import fmt
from cashup_tui.app.modals.ticket_units import (
    QUICK,
    UnitError,
    conversion,
    from_contracts,
    quick_contracts,
    to_contracts,
    unit_options,
)
from cashup_tui.app.ordered_input import OrderedInput
from cashup_tui.domain.enums import OrderType, Side, TimeInForce
from cashup_tui.domain.errors import CashupError, ValidationError
from cashup_tui.domain.instruments import Instrument, user_decimal
from cashup_tui.domain.orders import Order
from cashup_tui.service.views import OrderRequest, TicketPreview

# (label, order type, tif, post_only)
TRAILING_HINT = "trails only while CashUp runs: held here, not at the venue"
KINDS: dict[str, tuple[OrderType, TimeInForce, bool]] = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC, False),
    "market": (OrderType.MARKET, TimeInForce.IOC, False),
    "post-only": (OrderType.LIMIT, TimeInForce.POC, True),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC, False),
    "fok": (OrderType.LIMIT, TimeInForce.FOK, False),
    "stop-market": (OrderType.STOP_MARKET, TimeInForce.IOC, False),
    "stop-limit": (OrderType.STOP_LIMIT, TimeInForce.GTC, False),
    "take-profit": (OrderType.TAKE_PROFIT, TimeInForce.IOC, False),
    "trailing-stop": (OrderType.TRAILING_STOP, TimeInForce.IOC, False),
}
NEEDS_PRICE = {"limit", "post-only", "ioc", "fok", "stop-limit"}
NEEDS_TRIGGER = {"stop-market", "stop-limit", "take-profit"}


class TicketError(ValueError):
    pass


def ticket_number(text: str, name: str, *, required: bool) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text:
        if required:
            raise TicketError(f"{name} is required")
        return None
    try:  # the one parser of user numbers: no NaN/inf words, no `1_0`, no non-ASCII digits, a sane range
        v = user_decimal(text, name)
    except ValidationError:
        raise TicketError(f"{name}: {text!r} is not a number") from None
    if not v.is_finite() or v <= 0:
        raise TicketError(f"{name} must be a positive number")
    return v


def build_request(symbol: str, side: Side, kind: str, size: str, price: str, trigger: str,
                  reduce_only: bool, tp: str, sl: str, trail: str) -> OrderRequest:
    order_type, tif, post_only = KINDS[kind]
    size_d = ticket_number(size, "size (contracts)", required=True)
    assert size_d is not None
    return OrderRequest(
        symbol=symbol,
        side=side,
        size=size_d,
        order_type=order_type,
        price=ticket_number(price, "price", required=kind in NEEDS_PRICE) if kind != "market" else None,
        trigger_price=ticket_number(trigger, "trigger price", required=kind in NEEDS_TRIGGER),
        tif=tif,
        reduce_only=reduce_only,
        post_only=post_only,
        take_profit=ticket_number(tp, "take profit", required=False),
        stop_loss=ticket_number(sl, "stop loss", required=False),
        trail_pct=ticket_number(trail, "trail %", required=kind == "trailing-stop"),
    )


def render_preview(p: TicketPreview, size_line: str = "") -> Text:
    """The size in every unit (`size_line`), then what the node says: notional, margin, fees, liquidation,
    headroom under the limits, and a denial with its reason."""
    t = Text()
    if size_line:
        t.append(size_line + "\n", style="bold")
    if p.leverage_label:
        t.append(f"leverage {p.leverage_label}  ", style="bold")
    t.append(f"notional {fmt.num(p.notional)}  margin {fmt.num(p.margin)}  fees {fmt.num(p.fees, 4)}  "
             f"liq {fmt.price(p.liq_price)}")
    for lim in p.headroom:
        t.append(f"\n{lim.rule}: {fmt.num(lim.used)} / {fmt.num(lim.limit)}",
                 style="red" if lim.ratio > 1 else "yellow" if lim.ratio > 0.8 else "dim")
    if p.denial:
        t.append("\n")
        t.append(f"DENIED: {p.denial}", style="bold white on red")
    return t


def quick_hint(p: TicketPreview | None) -> Text:
    """The quick-size keys and the free margin they share out."""
    t = Text("[f5/f6/f7] 25/50/100% of the free margin", style="dim")
    if p is not None and p.available is not None:
        t.append(f" {fmt.num(p.available)}" + (f" at {float(p.leverage):g}x" if p.leverage else ""), style="dim")
    return t


class OrderTicket(ModalScreen[Order | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send"),
        Binding("f2", "flip", "Buy/Sell"),
        Binding("f3", "unit", "Size unit: contracts / coin / USDT"),
        *(Binding(key, f"quick('{share}')", f"Size: {int(share * 100)}% of the free margin") for key, share in QUICK.items()),
    ]

    def __init__(
        self,
        symbol: str,
        side: Side,
        *,
        price_hint: Decimal | None,
        size_hint: Decimal,
        preview: Callable[[OrderRequest], Awaitable[TicketPreview]],
        submit: Callable[[OrderRequest], Awaitable[Order]],
        instrument: Instrument | None = None,
    ) -> None:
        super().__init__()
        self.symbol = symbol
        self.side = side
        self.price_hint = price_hint
        self.size_hint = size_hint
        self.instrument = instrument
        self.unit = "cont"
        self._preview = preview
        self._submit = submit
        self._last: TicketPreview | None = None  # the node's last answer (free margin for the quick sizes)

    @classmethod
    def help_rows(cls) -> list[tuple[str, str]]:
        """The ticket's keys for the help screen: enter (from any field) and tab, then its bindings."""
        from cashup_tui.app.modals.help import binding_rows

        return [("enter", "Send (from any field)"), ("tab shift+tab", "Next / previous field"),
                *binding_rows(cls.BINDINGS)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog ticket"):
            yield Label(self._title(), id="ticket-title", classes="dialog-title")
            with Horizontal(classes="trow"):
                yield Label("type", classes="tlabel")
                yield Select([(k, k) for k in KINDS], value="limit", allow_blank=False, id="t-kind", compact=True)
            with Horizontal(classes="trow"):
                yield Label("size", classes="tlabel")
                yield OrderedInput(str(self.size_hint), id="t-size", compact=True)
                yield Select(unit_options(self.instrument), value="cont", allow_blank=False, id="t-unit",
                             compact=True)
            with Horizontal(classes="trow"):
                yield Label("price", classes="tlabel")
                yield OrderedInput("" if self.price_hint is None else str(self.price_hint), id="t-price", compact=True)
            with Horizontal(classes="trow"):
                yield Label("trigger", classes="tlabel")
                yield OrderedInput("", placeholder="stop / take-profit trigger price", id="t-trigger", compact=True)
            with Horizontal(classes="trow"):
                yield Label("TP / SL", classes="tlabel")
                yield OrderedInput("", placeholder="take profit", id="t-tp", compact=True)
                yield OrderedInput("", placeholder="stop loss", id="t-sl", compact=True)
            with Horizontal(classes="trow"):
                yield Label("trail %", classes="tlabel")
                yield OrderedInput("", placeholder="trailing distance, % of mark", id="t-trail", compact=True)
                yield Checkbox("reduce only", id="t-reduce", compact=True)
            yield Static("", id="ticket-preview")
            yield Label("[enter] send  [f2] buy/sell  [f3] size unit  [esc] cancel", markup=False, classes="dim")
            yield Static(quick_hint(None), id="ticket-quick", classes="dim")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send", variant="success" if self.side is Side.BUY else "error", id="t-send", compact=True)
                yield Button("Cancel", id="t-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#t-unit", Select).can_focus = False  # f3 (or the mouse): tab goes size -> price
        self.query_one("#t-size", Input).focus()
        self.run_worker(self._refresh_preview, exclusive=True, group="preview")

    def _title(self) -> Text:
        style = "bold black on green" if self.side is Side.BUY else "bold white on red"
        return Text.assemble((f" {self.side.value.upper()} ", style), f" {self.symbol}")

    def _ref_price(self) -> Decimal | None:
        """The price sizes in USDT convert at: the typed limit price, else the best price when opened."""
        text = self.query_one("#t-price", Input).value
        try:
            typed = ticket_number(text, "price", required=False)
        except TicketError:
            typed = None
        return typed if typed is not None and str(self.query_one("#t-kind", Select).value) != "market" \
            else self.price_hint

    def _contracts(self) -> Decimal:
        """The size field in the chosen unit, as contracts (the one unit the venue takes)."""
        name = {"cont": "contracts", "coin": "coins", "usdt": "USDT"}[self.unit]
        size = ticket_number(self.query_one("#t-size", Input).value, f"size ({name})", required=True)
        assert size is not None
        try:
            return to_contracts(size, self.unit, self.instrument, self._ref_price())
        except UnitError as exc:
            raise TicketError(str(exc)) from None

    def _request(self) -> OrderRequest:
        q = self.query_one
        kind = str(q("#t-kind", Select).value)
        return build_request(
            self.symbol, self.side, kind, str(self._contracts()), q("#t-price", Input).value,
            q("#t-trigger", Input).value, q("#t-reduce", Checkbox).value, q("#t-tp", Input).value,
            q("#t-sl", Input).value, q("#t-trail", Input).value,
        )

    def _show(self, text: Text | str) -> None:
        self.query_one("#ticket-preview", Static).update(text)

    async def _refresh_preview(self) -> None:
        try:
            req = self._request()
        except TicketError as exc:
            self._show(Text(str(exc), style="yellow"))
            return
        try:
            self._last = await self._preview(req)
        except CashupError as exc:
            shown = Text(str(exc), style="bold red")
        else:
            shown = render_preview(self._last, conversion(req.size, self.instrument, self._ref_price()))
            self.query_one("#ticket-quick", Static).update(quick_hint(self._last))
        if req.order_type is OrderType.TRAILING_STOP:
            shown = Text.assemble(shown, "\n", (TRAILING_HINT, "yellow"))
        self._show(shown)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self.run_worker(self._refresh_preview, exclusive=True, group="preview")

    @on(Select.Changed, "#t-unit")
    def _unit_changed(self, event: Select.Changed) -> None:
        """The same quantity in the new unit (a size that does not convert is left as typed)."""
        new = str(event.value)
        if new == self.unit:
            return
        try:
            contracts = self._contracts()
        except TicketError:
            contracts = None
        self.unit = new
        if contracts is not None:
            self._set_size(contracts)

    def _set_size(self, contracts: Decimal) -> None:
        try:
            value = from_contracts(contracts, self.unit, self.instrument, self._ref_price())
        except UnitError as exc:
            self._show(Text(str(exc), style="yellow"))
            return
        self.query_one("#t-size", Input).value = f"{value.normalize():f}"

    def action_unit(self) -> None:
        units = [u for _, u in unit_options(self.instrument)]
        self.query_one("#t-unit", Select).value = units[(units.index(self.unit) + 1) % len(units)]

    def action_quick(self, share: str) -> None:
        """Size to `share` of the free margin at the preview's leverage, fees included."""
        p, inst, price = self._last, self.instrument, self._ref_price()
        if p is None or p.available is None or not p.leverage or inst is None or price is None:
            self._show(Text("no free-margin figure yet: wait for the preview, or type a size", style="yellow"))
            return
        contracts = quick_contracts(Decimal(share), p.available, p.leverage, p.fee_rate, inst, price)
        if contracts < inst.min_size:
            self._show(Text(f"{int(Decimal(share) * 100)}% of the free margin ({fmt.num(p.available)}) is less "
                            f"than {inst.min_size} contract(s)", style="bold yellow"))
            return
        self._set_size(contracts)

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "t-send":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_flip(self) -> None:
        self.side = self.side.opposite
        self.query_one("#ticket-title", Label).update(self._title())
        self._changed()

    def action_submit(self) -> None:
        self.run_worker(self._send, exclusive=True, group="send")

    async def _send(self) -> None:
        try:
            req = self._request()
        except TicketError as exc:
            self._show(Text(str(exc), style="bold yellow"))
            return
        try:
            order = await self._submit(req)
        except CashupError as exc:
            self._show(Text(f"NOT SENT: {exc}", style="bold white on red"))
            return
        self.dismiss(order)

    def action_cancel(self) -> None:
        self.dismiss(None)
