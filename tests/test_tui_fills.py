"""Issue 10: the Fills pane (fills, round trips, orders in time order) shows the rows `cashup fills` prints,
and `A` opens the audit log, on the real demo node (in-process Gate simulator on loopback, SQLite journal)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.app.modals.audit import AuditLog
from cashup_tui.app.modals.confirm import Confirm
from cashup_tui.app.panes.tables import SyncTable
from cashup_tui.domain.enums import OrderType, Side, TimeInForce
from cashup_tui.service.views import OrderRequest
from tests.test_runtime_cli import cashup
from tests.tui_support import demo_app, press, screen_text, table_keys, wait_until

pytestmark = pytest.mark.timeout(150)
D = Decimal


def _market(side: Side, size: str, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(symbol="BTC_USDT", side=side, size=D(size), order_type=OrderType.MARKET, price=None,
                        trigger_price=None, tif=TimeInForce.IOC, reduce_only=reduce_only)


async def test_fills_pane_shows_the_cli_rows_round_trips_orders_with_times_and_the_audit_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.node_ready and node.started, timeout=30, what="the demo node")
        ws = app.node
        await ws.submit(_market(Side.BUY, "5"))  # through the workstation: profile check, risk gate, journal
        pos = node.portfolio.positions
        await wait_until(pilot, lambda: "BTC_USDT" in pos and pos["BTC_USDT"].size == 5, timeout=20, what="long 5")
        await ws.submit(_market(Side.SELL, "5", reduce_only=True))
        await wait_until(pilot, lambda: pos["BTC_USDT"].is_flat, timeout=20, what="flat again")
        await press(pilot, "6")
        await wait_until(pilot, lambda: len(table_keys(app, "fills-table")) >= 2
                         and len(table_keys(app, "trips-table")) == 1 and len(table_keys(app, "orders-by-time")) == 2,
                         timeout=20, what="fills, one round trip and two orders in the Fills pane")
        text = screen_text(app)
        assert "Closed positions" in text and "Orders in time order" in text
        orders = app.query_one("#orders-by-time", SyncTable)
        created = [str(orders.get_row_at(i)[0]) for i in range(orders.row_count)]
        assert created == sorted(created, reverse=True) and all(c[:2] == "20" and len(c) == 19 for c in created)
        shown = {k.split(":", 1)[0] for k in table_keys(app, "fills-table")}
        trip = app.query_one("#trips-table", SyncTable).get_row_at(0)
        # at 80x24 every table fits its pane whole (least important columns dropped), never scrolled sideways
        await pilot.resize_terminal(80, 24)

        def fitted() -> bool:
            tables = [app.query_one(f"#{t}", SyncTable) for t in ("fills-table", "trips-table", "orders-by-time")]
            return all(t.columns_fitted is not None and t.virtual_size.width <= t.scrollable_content_region.width
                       for t in tables)

        await wait_until(pilot, fitted, timeout=20, what="the Fills tables fitted to 80 columns")
        assert app.query_one("#fills-table", SyncTable).columns_fitted[:5] == ("Time", "Symbol", "Side", "Size", "Price")
        assert "Created" in (app.query_one("#orders-by-time", SyncTable).columns_fitted or ())
        created = [str(orders.get_row_at(i)[0]) for i in range(orders.row_count)]
        assert created == sorted(created, reverse=True), "rebuilt for the width, still newest first"
        await pilot.resize_terminal(140, 40)
        # `A`: the audit log, with this session's order submissions
        await press(pilot, "A")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditLog), timeout=15, what="the audit log")
        assert "order.submit" in screen_text(app) and "user:trader" in screen_text(app)
        await press(pilot, "escape")
        await press(pilot, "q")
        if isinstance(app.screen, Confirm):
            await press(pilot, "y")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")
    # the CLI reads the same journal and prints the same fills and round trip
    monkeypatch.setenv("CASHUP_DB", str(tmp_path / "t.sqlite"))
    rc, out, err = cashup(capsys, "fills", "--mode", "demo", "--json")
    assert rc == 0, err
    assert {r["trade_id"] for r in json.loads(out)["fills"]} == shown
    rc, out, err = cashup(capsys, "fills", "--mode", "demo", "--round-trips", "--json")
    (t,) = json.loads(out)["round_trips"]
    assert (str(trip[1]), str(trip[2]), str(trip[3])) == (t["symbol"], t["side"].upper(), t["size"])
    rc, out, err = cashup(capsys, "audit", "--mode", "demo", "--json")
    assert [r["action"] for r in json.loads(out)["audit"] if r["actor"] == "user:trader"].count("order.submit") == 2
