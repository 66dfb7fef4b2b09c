"""Pilot tests of the workstation on the REAL demo node: the in-process Gate simulator on loopback, our
websocket client, ccxt REST, the risk gate, the order manager and a SQLite journal in tmp_path.

Everything is driven with keys as a user would; conditions are polled with a deadline (no long fixed
sleeps). Each test starts its own app on its own loopback port, so the file is safe under `-n 2`.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TabbedContent

from cashup_tui.app.app import TABS
from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.modals.kill import KillSwitch
from cashup_tui.app.modals.ticket import OrderTicket
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.domain.enums import OrderStatus, TradingState
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_text, wait_until, watch_prices

D = Decimal
pytestmark = pytest.mark.timeout(150)
SIZE = (100, 30)


async def _ready(pilot: Any, node: Any) -> dict[str, str]:
    """Wait until the node is up and every watchlist row shows a price."""
    app = pilot.app

    def priced() -> bool:
        p = watch_prices(app)
        return node.started and bool(p) and all(v not in ("—", "") for v in p.values())

    await wait_until(pilot, priced, timeout=20, what="the demo watchlist to show prices")
    return watch_prices(app)


async def _open_ticket(pilot: Any, key: str, size: str, price: str | None = None) -> OrderTicket:
    """b/s, then type the size (replacing the hint) and optionally the price (tab selects the field)."""
    await press(pilot, key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, OrderTicket), timeout=15, what="the order ticket")
    ticket = pilot.app.screen
    await wait_until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "t-size", timeout=15,
                     what="the size field focused")
    await press(pilot, "backspace", *size)
    if price is not None:
        await press(pilot, "tab", *price)
    return ticket


def _best(node: Any, symbol: str) -> tuple[Decimal, Decimal]:
    book = node.cache.book(symbol)
    return book.best_bid.price, book.best_ask.price


async def _quit(pilot: Any) -> None:
    """q; with an order or position still open the app asks first (the question names them): y."""
    app = pilot.app
    await press(pilot, "q")
    await wait_until(pilot, lambda: app.return_code is not None or isinstance(app.screen, Confirm), timeout=15,
                     what="the app to exit or ask after q")
    if app.return_code is None:
        await press(pilot, "y")
    await wait_until(pilot, lambda: app.return_code is not None, timeout=15, what="the app to exit after q")


# -- panes ------------------------------------------------------------------------------------------------
async def test_every_pane_shows_live_demo_data_and_resizes_do_not_crash(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        first = await _ready(pilot, node)
        assert set(first) == set(node.symbols)
        # prices move: the simulator steps at 10 Hz and the watchlist is refreshed on a timer
        await wait_until(pilot, lambda: watch_prices(app) != first, timeout=15, what="a watchlist price to change")
        # every part of the market pane fills in (the trades stream may lag the tickers under load)
        parts = {
            "status": lambda t: " DEMO " in t and "ACTIVE" in t,
            "ladder": lambda t: "mid " in t and "spread" in t,
            "tape": lambda t: "BUY " in t or "SELL" in t,
            "flow": lambda t: "BTC_USDT flow " in t,
            "chart": lambda t: "BTC_USDT 1m" in t,
        }
        for name, ok in parts.items():
            await wait_until(pilot, lambda ok=ok: ok(screen_text(app)), timeout=20, what=f"the market pane's {name}")
        # every tab shows its table / body
        await press(pilot, "2")
        await wait_text(pilot, "Open orders")
        await wait_text(pilot, "Client id")
        await wait_text(pilot, "History")
        await press(pilot, "3")
        await wait_text(pilot, "Liq dist")
        await press(pilot, "4")
        await wait_until(pilot, lambda: "sma_cross" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies from strategies/ listed")
        await wait_text(pilot, "STOPPED")
        await press(pilot, "5")
        await wait_text(pilot, "kill level 0")
        for needle in ("gross exposure", "daily loss", "VaR 1d", "Stress tests"):
            await wait_text(pilot, needle)
        # resizes: usable at 80x24 (tabs, no side panel), richer at 160x48 (side panel), no crash at 40x10
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await wait_until(pilot, lambda: not app.has_class("-wide"), timeout=15, what="narrow layout")
        assert not app.query_one("#side").display
        await wait_text(pilot, " DEMO ")
        await pilot.resize_terminal(160, 48)
        await wait_until(pilot, lambda: app.has_class("-wide") and app.query_one("#side").region.width > 0,
                         timeout=15, what="the side panel at 160x48")
        await press(pilot, "1")
        await wait_until(pilot, lambda: "Open orders" in screen_text(app) and "Symbol" in screen_text(app),
                         timeout=15, what="market + side panel together")
        for (w, h), tabs in (((40, 10), "12345"), ((61, 13), "51")):
            await pilot.resize_terminal(w, h)
            for tab in tabs:
                await press(pilot, tab)  # a tab switch refreshes the pane at the new size
                assert app.query_one("#tabs").active == TABS[int(tab) - 1]
            assert app.size == (w, h) and app.is_running and screen_text(app).strip()
        await pilot.resize_terminal(*SIZE)
        await press(pilot, "1")
        await wait_until(pilot, lambda: "BTC_USDT" in screen_text(app), timeout=15, what="the market back at 100x30")
        await _quit(pilot)
    assert app.return_code == 0


# -- orders: rest + cancel, fill + position + close; nothing lost on quit ----------------------------------
async def test_ticket_rest_cancel_then_fill_position_close_and_journal_saved(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    venue = None
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        venue = node.sim.state.venue
        inst = node.instruments["BTC_USDT"]
        # 1) a limit buy 1% under the bid rests
        bid, _ = _best(node, "BTC_USDT")
        low = inst.round_price(bid * D("0.99"), "down")
        await _open_ticket(pilot, "b", "3", str(low))
        await wait_text(pilot, "notional")  # the risk preview is shown before sending
        await press(pilot, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="the ticket to send")
        resting = [o for o in node.cache.open_orders() if o.price == low]
        assert len(resting) == 1 and resting[0].status is OrderStatus.OPEN
        cid = resting[0].client_id
        assert [o.text for o in venue.list_orders()] == [cid]  # it reached the venue
        await press(pilot, "2")
        await wait_until(pilot, lambda: cid in table_keys(app, "open-orders"), timeout=15, what="the order in Orders")
        await wait_text(pilot, cid)
        await wait_text(pilot, "OPEN")
        # 2) `c` cancels the selected order
        app.query_one("#open-orders", SyncTable).focus()
        await press(pilot, "c")
        await wait_until(pilot, lambda: cid in table_keys(app, "order-history"), timeout=20,
                         what="the cancelled order in History")
        assert cid not in table_keys(app, "open-orders")
        assert node.cache.order(cid).status is OrderStatus.CANCELLED and venue.list_orders() == []
        await wait_text(pilot, "CANCELLED")
        # 3) a marketable limit buy fills: the position appears in Positions
        await press(pilot, "1")
        await wait_until(pilot, lambda: app.query_one(TabbedContent).active == "market", timeout=15, what="Market")
        _, ask = _best(node, "BTC_USDT")
        high = inst.round_price(ask * D("1.003"), "up")
        await _open_ticket(pilot, "b", "7", str(high))
        await press(pilot, "enter")
        # the ticket closes once the venue acks; the fill may be booked before that, so wait for both
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="the ticket to send")
        pos = node.portfolio.positions
        await wait_until(pilot, lambda: "BTC_USDT" in pos and pos["BTC_USDT"].size == 7, timeout=20,
                         what="the fill to open a 7-contract long")
        assert venue.position("BTC_USDT").size == 7
        await press(pilot, "3")
        await wait_until(pilot, lambda: "BTC_USDT" in table_keys(app, "positions-table"), timeout=15,
                         what="the position row")
        await wait_text(pilot, "LONG")
        # 4) `f` + `y` closes it at market: flat in the engine, the venue and the pane
        app.query_one("#positions-table", SyncTable).focus()
        await press(pilot, "f")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the close confirmation")
        await wait_text(pilot, "Close the whole BTC_USDT position")
        await press(pilot, "y")
        await wait_until(pilot, lambda: pos["BTC_USDT"].is_flat and "BTC_USDT" not in table_keys(app, "positions-table"),
                         timeout=20, what="the position to be closed")
        assert venue.position("BTC_USDT").size == 0
        filled = [o for o in node.cache.orders() if o.status is OrderStatus.FILLED]
        assert len(filled) == 2  # the entry and the close
        ids = {cid, *(o.client_id for o in filled)}
        await _quit(pilot)
    assert app.return_code == 0
    assert not node.started  # the node was stopped by the quit path, not torn down by the harness
    # the journal on disk has every order with its final state, and the stop was audited
    with sqlite3.connect(tmp_path / "t.sqlite") as db:
        rows = dict(db.execute("select client_id, status from orders").fetchall())
        audit = [a for (a,) in db.execute("select action from audit_log")]
    assert {k: rows[k] for k in ids} == {cid: "cancelled", **{i: "filled" for i in ids - {cid}}}
    assert "order.submit" in audit and "order.cancel" in audit and "position.close" in audit
    assert audit[-1] == "node.stop"


# -- the risk gate ------------------------------------------------------------------------------------------
async def test_denied_ticket_shows_the_reason_and_sends_nothing(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        venue = node.sim.state.venue
        before = len(node.cache.orders())
        # size far beyond max_order_notional (50,000 USDT by default)
        ticket = await _open_ticket(pilot, "b", "1000000")
        await wait_text(pilot, "DENIED")
        assert "max_order_notional" in screen_text(app)
        await press(pilot, "enter")
        await wait_text(pilot, "NOT SENT")
        assert app.screen is ticket  # the ticket stays open with the reason
        assert len(node.cache.orders()) == before and venue.list_orders() == []
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=15, what="esc closes")
        # a price far outside the band (5% by default)
        bid, _ = _best(node, "BTC_USDT")
        far = node.instruments["BTC_USDT"].round_price(bid * D("0.80"), "down")
        await _open_ticket(pilot, "b", "1", str(far))
        await wait_text(pilot, "price_band")
        await press(pilot, "enter")
        await wait_text(pilot, "NOT SENT")
        assert len(node.cache.orders()) == before and venue.list_orders() == []
        await press(pilot, "escape")
        await _quit(pilot)
    assert app.return_code == 0


# -- the kill switch --------------------------------------------------------------------------------------
async def test_kill_switch_levels_and_resume(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await press(pilot, "k")
        await wait_until(pilot, lambda: isinstance(app.screen, KillSwitch), timeout=15, what="the kill switch")
        await press(pilot, "2")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the confirmation")
        assert node.risk.state is TradingState.ACTIVE  # nothing happens before `y`
        await press(pilot, "y")
        await wait_until(pilot, lambda: "REDUCING K2" in screen_text(app).splitlines()[0], timeout=15,
                         what="REDUCING in the status bar")
        assert node.risk.state is TradingState.REDUCING
        await press(pilot, "5")
        await wait_text(pilot, "kill level 2: reduce only")
        await wait_text(pilot, " REDUCING ")
        # a declined confirmation changes nothing
        await press(pilot, "k", "4")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the confirmation")
        await press(pilot, "n")
        await pilot.pause(0.2)
        assert node.risk.state is TradingState.REDUCING
        await press(pilot, "k", "4")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the confirmation")
        await press(pilot, "y")
        await wait_text(pilot, "kill level 4: flatten and halt")
        await wait_until(pilot, lambda: "HALTED K4" in screen_text(app).splitlines()[0], timeout=15, what="HALTED K4")
        assert node.risk.state is TradingState.HALTED
        # resume from the Risk tab
        await press(pilot, "r")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the resume confirmation")
        await press(pilot, "y")
        await wait_text(pilot, "kill level 0: normal trading")
        await wait_until(pilot, lambda: " ACTIVE " in screen_text(app).splitlines()[0], timeout=15, what="ACTIVE")
        assert node.risk.state is TradingState.ACTIVE
        await _quit(pilot)
    assert app.return_code == 0


# -- strategies ---------------------------------------------------------------------------------------------
async def _palette(pilot: Any, command: str) -> None:
    await press(pilot, "ctrl+p")
    await pilot.pause(0.1)
    await press(pilot, *command)
    await wait_text(pilot, "key ")  # the palette lists the matching command with its key
    await press(pilot, "enter")


async def _accept_start_dialog(pilot: Any) -> None:
    """Starting a strategy (not a slot) opens the start dialog: enter accepts its defaults (symbol, 1m, size)."""
    from cashup_tui.app.modals.start import StartStrategy

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StartStrategy), timeout=15, what="the start dialog")
    await press(pilot, "enter")
    # the slot exists before the dialog closes: a key pressed before that would go to the dialog
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, StartStrategy), timeout=30,
                     what="the start dialog to close")


async def _select_row(pilot: Any, table_id: str, key: str) -> None:
    table = pilot.app.query_one(f"#{table_id}", SyncTable)
    table.focus()
    for _ in range(table.row_count + 1):
        if table.selected_key == key:
            return
        await press(pilot, "down")
    raise AssertionError(f"row {key} not reachable with the arrow keys in #{table_id}")


async def test_start_and_stop_a_strategy_and_quit_asks_while_running(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await press(pilot, "4")
        await wait_until(pilot, lambda: "sma_cross" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies list")
        await _select_row(pilot, "strategies-table", "sma_cross")
        # start (the command palette offers the same actions as the keys)
        await _palette(pilot, "Start strategy")
        await _accept_start_dialog(pilot)
        slot = "sma_cross-BTC_USDT"
        await wait_until(pilot, lambda: slot in table_keys(app, "strategies-table"), timeout=15,
                         what="the running strategy row")
        assert node.runner.slots[slot].state.value == "running"
        await wait_text(pilot, "RUNNING")
        # q while a strategy runs asks first; `n` keeps everything running
        await press(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the quit question")
        await wait_text(pilot, "1 strategy is running (sma_cross-BTC_USDT)")
        await press(pilot, "n")
        await pilot.pause(0.2)
        assert app.return_code is None and node.runner.slots[slot].state.value == "running"
        # stop it with `e` on its row
        await _select_row(pilot, "strategies-table", slot)
        await press(pilot, "e")
        await wait_until(pilot, lambda: node.runner.slots[slot].state.value == "stopped", timeout=15,
                         what="the strategy to stop")
        await wait_until(pilot, lambda: "RUNNING" not in screen_text(app), timeout=15, what="STOPPED shown")
        await _quit(pilot)  # nothing runs now: no question
    assert app.return_code == 0


async def test_enter_starts_the_selected_strategy(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await press(pilot, "4")
        await wait_until(pilot, lambda: "sma_cross" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies list")
        await _select_row(pilot, "strategies-table", "sma_cross")
        await press(pilot, "enter")
        await _accept_start_dialog(pilot)
        await wait_until(pilot, lambda: "sma_cross-BTC_USDT" in node.runner.slots, timeout=15,
                         what="enter to start sma_cross")
        assert node.runner.slots["sma_cross-BTC_USDT"].state.value == "running"
        await press(pilot, "q")  # a strategy runs: quitting asks first
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the quit question")
        await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=15, what="the app to exit after y")
    assert app.return_code == 0


async def test_start_resumes_a_paused_strategy(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        await press(pilot, "4")
        await wait_until(pilot, lambda: "sma_cross" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies list")
        await _select_row(pilot, "strategies-table", "sma_cross")
        await _palette(pilot, "Start strategy")
        await _accept_start_dialog(pilot)
        slot = "sma_cross-BTC_USDT"
        await wait_until(pilot, lambda: slot in node.runner.slots, timeout=15, what="the strategy to start")
        await wait_until(pilot, lambda: slot in table_keys(app, "strategies-table"), timeout=15, what="its row")
        await _select_row(pilot, "strategies-table", slot)
        await press(pilot, "p")
        await wait_until(pilot, lambda: node.runner.slots[slot].state.value == "paused", timeout=15, what="paused")
        await _palette(pilot, "Start strategy")
        try:
            await wait_until(pilot, lambda: node.runner.slots[slot].state.value == "running", timeout=2,
                             what="start to resume the paused slot")
        finally:
            node.runner.stop(slot)
            await _quit(pilot)


# -- the other keys: help, search, chart timeframe/overlay, cancel all, reduce 50% -----------------------------
async def test_help_search_chart_keys_cancel_all_and_reduce(tmp_path: Path) -> None:
    from cashup_tui.app.modals.help import HelpScreen
    from cashup_tui.app.modals.search import SymbolSearch
    from cashup_tui.app.panes.market import CandleChart

    app, node = demo_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, node)
        # ? lists every key the issue requires (generated from the bindings)
        await press(pilot, "question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=15, what="the help screen")
        keys = {k for k, _ in app.screen.rows}
        assert {"1", "2", "3", "4", "5", "b", "s", "c", "k", "/", "?", "q"} <= keys
        await wait_text(pilot, "Kill switch")
        await press(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), timeout=15, what="help closed")
        # / searches symbols: "eth" + enter selects ETH_USDT for the market pane and the ticket
        await press(pilot, "slash")
        await wait_until(pilot, lambda: isinstance(app.screen, SymbolSearch), timeout=15, what="the symbol search")
        await press(pilot, "e", "t", "h", "enter")
        await wait_until(pilot, lambda: app.symbol == "ETH_USDT", timeout=15, what="ETH_USDT selected")
        await wait_text(pilot, "ETH_USDT 1m")
        # t cycles the chart timeframe, o the overlay
        chart = app.query_one(CandleChart)
        await press(pilot, "t")
        await wait_text(pilot, "ETH_USDT 5m")
        before = chart.overlay
        await press(pilot, "o")
        await wait_text(pilot, f"overlay: {chart.overlay}")
        assert chart.overlay != before
        # two resting orders, then x + y cancels all of them
        inst = node.instruments["ETH_USDT"]
        for pct in ("0.98", "0.97"):
            bid, _ = _best(node, "ETH_USDT")
            await _open_ticket(pilot, "b", "2", str(inst.round_price(bid * D(pct), "down")))
            await press(pilot, "enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="sent")
        await wait_until(pilot, lambda: len(node.cache.open_orders()) == 2, timeout=20, what="two resting orders")
        await press(pilot, "x")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the cancel-all question")
        await wait_text(pilot, "Cancel ALL open orders?")
        await press(pilot, "y")
        await wait_until(pilot, lambda: not node.cache.open_orders(), timeout=20, what="every order cancelled")
        assert node.sim.state.venue.list_orders() == []
        # a 10-contract long, then r + y on the Positions tab reduces it by half
        _, ask = _best(node, "ETH_USDT")
        await _open_ticket(pilot, "b", "10", str(inst.round_price(ask * D("1.003"), "up")))
        await press(pilot, "enter")
        # the ticket closes once the venue acks; the fill may be booked before that, so wait for both
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderTicket), timeout=20, what="the ticket to send")
        pos = node.portfolio.positions
        await wait_until(pilot, lambda: "ETH_USDT" in pos and pos["ETH_USDT"].size == 10, timeout=20,
                         what="a 10-contract ETH long")
        await press(pilot, "3")
        await wait_until(pilot, lambda: "ETH_USDT" in table_keys(app, "positions-table"), timeout=15,
                         what="the ETH position row")
        await _select_row(pilot, "positions-table", "ETH_USDT")
        await press(pilot, "r")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), timeout=15, what="the reduce question")
        await wait_text(pilot, "Reduce ETH_USDT by 50%")
        await press(pilot, "y")
        await wait_until(pilot, lambda: pos["ETH_USDT"].size == 5, timeout=20, what="the position halved")
        assert node.sim.state.venue.position("ETH_USDT").size == 5
        await _quit(pilot)
    assert app.return_code == 0
