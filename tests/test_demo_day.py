"""A demo day: the real workstation on the production demo node (`cashup_tui.runtime`, the in-process Gate
simulator on loopback, our websocket client and ccxt REST), a strategy started from the start dialog that
trades (longs, a short, long again), a funding settlement while it holds, then stopped. Its own PnL
(realised + unrealised + fees + funding) and fills must be the venue's account numbers, read from the
venue over Gate's REST API: `GET /futures/usdt/accounts` (history pnl/fee/fund, total), `/positions`,
`/my_trades`. The account holds nothing but this strategy's orders, so the two must agree exactly.

With `-s` the test prints the side-by-side table (the "demo day" transcript)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cashup_tui.app.modals.start import StartStrategy
from tests.test_tui_strategies_start import _select_row
from tests.tui_support import demo_app, press, table_keys, wait_until

D = Decimal
SYM = "BTC_USDT"
pytestmark = pytest.mark.timeout(240)

FLIPPER = '''
from cashup_tui.engine.strategy import Strategy


class Flipper(Strategy):
    """Long, short, long again (every 15 tickers), then holds (a test strategy)."""

    vectorised = False

    def on_start(self, ctx):
        self.ticks = 0

    def on_ticker(self, ctx, ticker):
        self.ticks += 1
        step = self.ticks // 15
        if step <= 2:
            ctx.target(1.0 if step % 2 == 0 else -1.0)
'''


@pytest.fixture
def strategies_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "strats"
    d.mkdir()
    (d / "flipper.py").write_text(FLIPPER)
    monkeypatch.setenv("CASHUP_STRATEGIES_DIR", str(d))
    return d


async def test_demo_day_the_strategys_pnl_and_fills_are_the_venues(tmp_path: Path, strategies_dir: Path) -> None:
    app, node = demo_app(tmp_path, symbols=[SYM])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.node_ready and node.started, timeout=30, what="the demo node")
        await press(pilot, "4")
        await wait_until(pilot, lambda: "flipper" in table_keys(app, "strategies-table"), timeout=15,
                         what="the strategies list")
        await _select_row(pilot, "flipper")
        await press(pilot, "enter")  # the start dialog, its defaults: BTC_USDT, 1m, its size in USDT
        await wait_until(pilot, lambda: isinstance(app.screen, StartStrategy), timeout=15, what="the start dialog")
        await press(pilot, "enter")
        name = f"flipper-{SYM}"
        await wait_until(pilot, lambda: name in node.runner.slots, timeout=20, what="the strategy started")
        await wait_until(pilot, lambda: not isinstance(app.screen, StartStrategy), timeout=30, what="the dialog closed")
        slot = node.runner.slots[name]
        # long, short, long: three orders, at least three fills, and it holds a long
        await wait_until(pilot, lambda: slot.orders_sent >= 3 and slot.position > 0 and not slot.pending, timeout=60,
                         what="the strategy to flip and hold a long")
        venue = node.sim.state.venue
        await node.sim.admin_action("funding", {"symbol": SYM})  # the simulator settles as at its interval
        await wait_until(pilot, lambda: node.runner.pnl(name)["funding"] != 0, timeout=30,
                         what="the funding settlement booked on the strategy")
        # stop it (e on its row): it sends nothing more; what it holds stays
        await _select_row(pilot, name)
        await press(pilot, "e")
        await wait_until(pilot, lambda: slot.state.value == "stopped", timeout=15, what="the strategy to stop")
        await node.runner.idle()
        await wait_until(pilot, lambda: not node.cache.open_orders(), timeout=15, what="no open order")

        # the venue's numbers over Gate's REST API (what `cashup` reads from Gate itself)
        account = await node.rest.account_raw()
        (pos,) = [p for p in await node.rest.positions_raw() if p["contract"] == SYM]
        trades = await node.rest.my_trades(SYM)
        mine = node.runner.pnl(name)
        mark = node.cache.mark(SYM)
        qm = node.instruments[SYM].quanto_multiplier
        v_size, v_entry = D(pos["size"]), D(pos["entry_price"])
        hist = account["history"]
        venue_row = {
            "fills": len(trades), "position": v_size, "entry_price": v_entry,
            "realised_pnl": D(hist["pnl"]), "fees": -D(hist["fee"]), "funding": D(hist["fund"]),
            "unrealised_pnl": v_size * qm * (mark - v_entry),  # at the same mark as the strategy's
            "fees_of_fills": sum((t.fee for t in trades), D(0)),
        }
        start_cash = D(str(node.settings.sim.starting_balance))
        venue_row["net_pnl"] = D(account["total"]) - start_cash + venue_row["unrealised_pnl"]
        ours = {"fills": slot.fills, "position": slot.position, "entry_price": mine["entry_price"],
                "realised_pnl": mine["realised_pnl"], "fees": mine["fees"], "funding": mine["funding"],
                "unrealised_pnl": mine["unrealised_pnl"], "fees_of_fills": mine["fees"], "net_pnl": mine["net_pnl"]}
        print(f"\ndemo day: {name}, {slot.orders_sent} orders, mark {mark}; strategy vs venue (Gate REST)")
        for k in ours:
            print(f"  {k:<15} {ours[k]!s:>24} {venue_row[k]!s:>24}")
        # the strategy's book keeps 28 significant digits through average entries: equal to far below a cent
        assert {k: round(D(v), 12) for k, v in ours.items()} == {k: round(D(v), 12) for k, v in venue_row.items()}
        assert mine["net_pnl"] == mine["realised_pnl"] + mine["unrealised_pnl"] - mine["fees"] + mine["funding"]
        assert venue_row["funding"] == venue.position(SYM).pnl_fund != 0
        await node.om.close_position(SYM)
        await wait_until(pilot, lambda: venue.position(SYM).size == 0, timeout=20, what="flat at the end of the day")
        await press(pilot, "q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20, what="the app to exit")
