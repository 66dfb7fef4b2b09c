"""Toasts in the real workstation (the production factory path on a demo node): one per order however many
fills it has, at most three on screen, critical ones (the kill switch) until read in the notification centre."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashup_tui.domain.enums import OrderStatus, OrderType, Side
from cashup_tui.service.toasts import ToastFeed
from cashup_tui.service.views import OrderRequest
from tests.test_tui_pilot import _quit
from tests.tui_support import press, wait_until

D = Decimal
pytestmark = pytest.mark.timeout(300)
SIZE = (100, 30)


def factory_app(tmp_path: Path) -> Any:
    """As `cashup` builds it (cli/tui.py): the workstation gets a factory and builds the node after the first paint."""
    from cashup_tui.app.app import CashupApp
    from cashup_tui.runtime import build_node
    from cashup_tui.service.workstation import EngineWorkstation
    from cashup_tui.settings import load_settings, replace_section

    # the sweep below takes five levels of the moving demo book: its notional varies with the book (it was
    # once 69k, over the default 50k order limit, and refused); the limits are not what these tests check
    settings = replace_section(load_settings(environ={}), "risk", max_order_notional=1e6, max_position_notional=1e6)

    def build() -> Any:
        return build_node(settings, "demo", db_url=str(tmp_path / "t.sqlite"), symbols=["BTC_USDT"])

    return CashupApp(EngineWorkstation(build, mode="demo", symbols=["BTC_USDT"]), refresh_hz=10.0)


def toasts(app: Any) -> list[Any]:
    return list(app._notifications)


async def test_one_toast_per_order_three_at_most_and_critical_until_read(tmp_path: Path) -> None:
    app = factory_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        ws = app.node
        await wait_until(pilot, lambda: ws.node is not None and ws.node.started and ws.node.cache.book("BTC_USDT"),
                         timeout=120, what="the demo node")  # generous: a loaded box
        node = ws.node
        app.clear_notifications()  # start-up toasts (reconciliation) are not what this test counts
        asks = node.cache.book("BTC_USDT").asks
        size = sum((a.size for a in asks[:5]), D(0))  # sweeps five levels: several fills
        order = await ws.submit(OrderRequest("BTC_USDT", Side.BUY, size, OrderType.MARKET, tif=None))
        cid = order.client_id

        def filled() -> bool:
            o = node.cache.order(cid)
            return o is not None and o.status is OrderStatus.FILLED and o.filled == size

        await wait_until(pilot, filled, timeout=60, what="the sweep to fill")
        assert len(node.cache.order(cid).trade_ids) >= 2  # a multi-fill order
        fills = len(node.cache.order(cid).trade_ids)
        whole = f"({cid}, {fills} fills)"

        def of_order() -> list[str]:
            return [str(n.message) for n in toasts(app) if cid in str(n.message)]

        await wait_until(pilot, lambda: len(of_order()) > 1 or any(whole in m for m in of_order()), timeout=60,
                         what=f"the order's toasts for its {fills} fills")
        assert len(of_order()) == 1 and whole in of_order()[0]  # one toast for the order, not one per fill
        # the kill switch: critical, stays while ordinary toasts come and go
        await ws.kill(1, "toast test")
        await wait_until(pilot, lambda: any("trading" in str(n.message) for n in toasts(app)), timeout=60,
                         what="the kill toast")
        for i in range(4):
            app.notify(f"ordinary {i}")
            assert len(toasts(app)) <= 3
        assert any("trading" in str(n.message) for n in toasts(app))
        assert any("ordinary 3" in str(n.message) for n in toasts(app))
        await press(pilot, "n")  # the notification centre: read
        await wait_until(pilot, lambda: not any("trading" in str(n.message) for n in toasts(app)), timeout=15,
                         what="the critical toast to go once read")
        await press(pilot, "escape")
        await ws.resume()
        await _quit(pilot)  # as a user does (the app asks first: the sweep left a position open)
    assert app.return_code == 0


def test_a_flatten_in_many_pieces_is_one_toast_per_order() -> None:
    from cashup_tui.domain.orders import Fill

    feed = ToastFeed()
    for i in range(12):  # what a kill-3 flatten made: a toast per partial fill
        feed.fill(Fill(f"T{i}", "t-flat", "BTC_USDT", Side.SELL, D(1), D(100 + i)))
    feed.add("warning", "trading active -> reducing", key="risk", critical=True)
    feed.add("error", "RISK kill_level_3: flatten", key="risk", critical=True)
    out = feed.drain()
    assert [t.key for t in out] == ["order:t-flat", "risk"]
    assert out[0].text == "FILL SELL 12 BTC_USDT @ 105.5 (t-flat, 12 fills)"
    assert out[1].critical and out[1].severity == "error" and "reducing" in out[1].text and "flatten" in out[1].text
    feed.fill(Fill("T99", "t-flat", "BTC_USDT", Side.SELL, D(2), D(200)))
    (later,) = feed.drain()  # a later fill: the same key, so the app replaces the order's toast
    assert later.key == "order:t-flat" and later.text.startswith("FILL SELL 14 BTC_USDT")


async def test_a_view_that_fails_names_the_error_and_the_workstation_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A pane that cannot show what it reads (here Positions' read model raising) used to end the app, and
    with it the node, mid-trade: it is logged once (even as its message changes), named in one toast, and
    the rest goes on."""
    app = factory_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        ws = app.node
        await wait_until(pilot, lambda: ws.node is not None and ws.node.started, timeout=120, what="the demo node")

        ticks = iter(range(10**6))

        def broken() -> Any:  # a message that changes every tick (a count, a price) is still one error
            raise ZeroDivisionError(f"float division by zero at row {next(ticks)}")

        monkeypatch.setattr(ws, "positions", broken)
        await press(pilot, "3")
        await wait_until(pilot, lambda: any("display error (ZeroDivisionError" in str(n.message) for n in toasts(app)),
                         timeout=30, what="the display error toast")
        for _ in range(5):  # more refresh ticks: still one toast, one log record
            await pilot.pause(0.15)
        assert app.is_running and ws.node.started
        assert sum("display error" in str(n.message) for n in toasts(app)) == 1
        assert sum("a view could not show its data" in r.getMessage() for r in caplog.records) == 1
        monkeypatch.undo()
        await press(pilot, "1")
        await wait_until(pilot, lambda: app.query_one("#market") is not None, what="the market pane")
        await _quit(pilot)
