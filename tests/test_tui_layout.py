"""Layout by priority, tested on the screen as a user sees it: the REAL demo node (simulator on loopback,
our clients, the engine) at 80x24, 160x48 and 240x60, read back with `screen_text`.

80x24 keeps what matters whole (Positions' nine columns, the Risk limits and kill state, the chart
header, the ticket's buttons under a denial) and never shows a cut header; from 160x48 the side panel
shows Liq and order Status and the extra space holds the fills and a depth chart; 240x60 adds a
context chart. The layout follows the terminal on resize."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.app import fmt
from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.app.panes.market import WATCH_COLUMNS
from cashup_tui.app.panes.positions import COLUMNS, SHORT
from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.service.views import OrderRequest
from tests.tui_support import demo_app, press, screen_text, wait_text, wait_until, watch_prices

D = Decimal
pytestmark = pytest.mark.timeout(180)
PRICE_AXIS = re.compile(r"\d{1,3}(,\d{3})+\.\d+[┤├]")  # a price-axis label with a thousands separator


async def _ready(pilot: Any, node: Any) -> None:
    app = pilot.app

    def priced() -> bool:
        p = watch_prices(app)
        return node.started and bool(p) and all(v not in ("—", "") for v in p.values())

    await wait_until(pilot, priced, timeout=30, what="the demo watchlist to show prices")


async def _position_and_order(pilot: Any, node: Any) -> tuple[Any, Any]:
    """A 7-contract BTC long (a marketable limit fills) and a 3-contract bid resting 1% under the touch,
    through the service as the ticket would send them; returns (position view, resting order)."""
    ws = pilot.app.node
    inst = node.instruments["BTC_USDT"]
    book = node.cache.book("BTC_USDT")
    await ws.submit(OrderRequest("BTC_USDT", Side.BUY, D(7), OrderType.LIMIT,
                                 inst.round_price(book.best_ask.price * D("1.003"), "up")))
    resting = await ws.submit(OrderRequest("BTC_USDT", Side.BUY, D(3), OrderType.LIMIT,
                                           inst.round_price(book.best_bid.price * D("0.99"), "down")))
    await wait_until(pilot, lambda: bool(ws.positions()) and bool(ws.open_orders()), timeout=30,
                     what="the fill and the resting order")
    return ws.positions()[0], resting


async def _tab(pilot: Any, key: str, needle: str) -> str:
    await press(pilot, key)
    return await wait_text(pilot, needle)


def _line_with(text: str, *needles: str) -> str:
    return next(line for line in text.splitlines() if all(n in line for n in needles))


def _whole_headers(header: str, names: set[str]) -> list[str]:
    """The header cells of a table line (split on 2+ spaces), each checked to be a whole column name."""
    cells = [c for c in re.split(r"\s{2,}", header.strip()) if c]
    cut = [c for c in cells if c not in names]
    assert not cut, f"cut or unknown header cells {cut} in {header!r}"
    return cells


def _shown(pilot: Any, needle_of: Any) -> Any:
    """A predicate: the text `needle_of()` (read from the node now) is on screen."""
    return lambda: needle_of() in screen_text(pilot.app)


async def test_80x24_keeps_what_matters_whole(tmp_path: Path) -> None:
    """Each check is recorded, not raised at once, so a failure lists every layout problem at 80x24."""
    app, node = demo_app(tmp_path)
    problems: list[str] = []

    def check(ok: object, what: str) -> None:
        if not ok:
            problems.append(f"{what}\n{screen_text(app)}")

    def whole(header: str, names: set[str], what: str) -> list[str]:
        try:
            return _whole_headers(header, names)
        except AssertionError as exc:
            problems.append(f"{what}: {exc}")
            return []

    names = set(COLUMNS) | set(SHORT.values())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, node)
        ws = app.node
        # Positions with no position: every header whole (it showed "... Fees  F")
        text = await _tab(pilot, "3", "Symbol")
        whole(_line_with(text, "Symbol", "Side"), names, "Positions' empty header")
        _, resting = await _position_and_order(pilot, node)
        # Positions: the nine columns a trader watches, every number whole
        await wait_until(pilot, _shown(pilot, lambda: fmt.price(ws.positions()[0].mark)), timeout=20, what="the row")
        await wait_until(pilot, _shown(pilot, lambda: fmt.price(ws.positions()[0].position.entry_price)), timeout=20,
                         what="the entry price")
        text, view = screen_text(app), ws.positions()[0]
        header = whole(_line_with(text, "Symbol", "Side"), names, "Positions' header")
        for name in ("Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "Liq"):
            check(name in header, f"Positions without {name}")
        check({"Liq dist", "Liq%"} & set(header) and {"Realised", "Real."} & set(header), "no Liq dist / Realised")
        row = _line_with(text, "BTC_USDT", "LONG")
        check(fmt.price(view.liq_price) in row and f"{float(view.liq_distance_pct):.1f}%" in row, f"row {row!r}")
        # Risk: the state, the kill level and every limit on the first screen (the account and the kill
        # legend pushed the limits off before)
        text = await _tab(pilot, "5", "kill level 0")
        for rule in ("gross exposure", "largest position", "open orders", "daily loss", "drawdown"):
            check(rule in text, f"Risk without the {rule} limit")
        lines = text.splitlines()
        at = {k: next((i for i, ln in enumerate(lines) if k in ln), 99) for k in ("drawdown", "Account (venue)")}
        check(at["drawdown"] < at["Account (venue)"], "Risk: the account before the limits")
        # Market: the chart header stays, the watchlist shows whole columns, the chart draws the own
        # entry (and names the liquidation and the resting bid) with separators on the price axis
        text = await _tab(pilot, "1", "BTC_USDT flow")
        await wait_until(pilot, _shown(pilot, lambda: "┤"), timeout=20, what="the chart")
        whole(_line_with(text, "Symbol", "Last").split("price USDT")[0], set(WATCH_COLUMNS), "watchlist header")
        entry = fmt.price(ws.positions()[0].position.entry_price)
        try:
            await wait_text(pilot, f"entry {entry}", timeout=10)
        except AssertionError:
            problems.append(f"no entry line {entry}")
        text = screen_text(app)
        check("BTC_USDT 1m" in text, "no chart header")
        check(f"liq {fmt.price(ws.positions()[0].liq_price)}" in text, "no liq line")
        check(f"buy 3 @ {fmt.price(resting.price)}" in text, "no resting order line")
        check(PRICE_AXIS.search(text), "no thousands separators on the price axis")
        # the ticket's denial keeps its buttons on screen
        await press(pilot, "b")
        await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "t-size", timeout=15, what="the ticket")
        await press(pilot, "backspace", *"1000000")
        text = await wait_text(pilot, "DENIED")
        check("Send" in text and "Cancel" in text, "the denied ticket without its buttons")
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=15, what="esc closes")
        app.exit(0)
    assert not problems, "\n\n".join(problems)


async def test_160x48_side_panel_fills_and_depth_then_240x60_and_back_on_resize(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _ready(pilot, node)
        view, resting = await _position_and_order(pilot, node)
        ws = app.node
        await wait_until(pilot, _shown(pilot, lambda: fmt.price(ws.positions()[0].liq_price)), timeout=20,
                         what="the liquidation price in the side panel")
        await wait_until(pilot, lambda: "OPEN" in _line_with(screen_text(app) + f"\n{resting.client_id}",
                                                             resting.client_id), timeout=20, what="the order OPEN")
        text = screen_text(app)
        assert "Status" in _line_with(text, "Symbol", "Size", "Price"), text  # the side panel's order status
        assert "Liq" in _line_with(text, "Symbol", "Side", "Mark").split("│")[-1]  # the side panel's Liq column
        # the watchlist's headers are whole ("OI con" was cut at the ladder)
        _whole_headers(_line_with(text, "Symbol", "Last").split("price USDT")[0], set(WATCH_COLUMNS))
        # the extra space: the newest fills and the book's depth beside the market
        text = await wait_text(pilot, "depth, cumulative cont")
        assert "Fills (newest first)" in text
        fill_price = fmt.price(view.position.entry_price)  # one fill: its price is the entry

        def side_fill() -> bool:  # a fill row in the side panel (right of its border): time, BUY, the price
            return any(re.search(rf"\d\d:\d\d:\d\d\s+BTC_USDT\s+BUY\s+7\s+{re.escape(fill_price)}", line.split("│")[-1])
                       for line in screen_text(app).splitlines())

        await wait_until(pilot, side_fill, timeout=20, what="the fill in the side panel")
        # 240x60: a context chart beside the main one
        await pilot.resize_terminal(240, 60)
        await wait_text(pilot, "BTC_USDT 15m context")
        # back to 100x30 on resize: no side panel, no context chart
        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, lambda: "depth, cumulative" not in screen_text(app)
                         and "context" not in screen_text(app), timeout=20, what="the 100x30 layout")
        assert not app.query_one("#side").display or app.query_one("#side").region.width == 0
        app.exit(0)
