"""A strategy's `on_fill` gets the same `StrategyFill` (base units, floats) live as in a backtest:
the grid strategy, written against the backtest, re-arms correctly in the live runner."""

from __future__ import annotations

from decimal import Decimal

from cashup_tui.domain.market import Bar
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.strategy import StrategyFill, load_strategy
from tests.engine_fakes import INSTRUMENTS, make_engine

D = Decimal


async def test_grid_take_profit_is_placed_from_a_live_fill() -> None:
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    grid = load_strategy("grid")(levels=1, spacing_pct=1.0, order_pct=10.0)
    seen: list[object] = []
    original = grid.on_fill

    def spy(ctx, fill):  # type: ignore[no-untyped-def]
        seen.append(fill)
        original(ctx, fill)

    grid.on_fill = spy  # type: ignore[method-assign]
    runner.add(grid, "BTC_USDT", "1m", name="grid", order_notional=D(20_000))
    runner.on_bar(Bar("BTC_USDT", "1m", 1_700_000_000_000, 50000, 50000, 50000, 50000, 1.0))
    await runner.idle()
    buys = [o for o in e.cache.open_orders() if o.strategy == "grid"]
    assert len(buys) == 1 and buys[0].side.value == "buy"
    # the venue fills the resting buy: the runner hands the strategy a StrategyFill in coins
    from cashup_tui.domain.ids import ClientOrderId
    from cashup_tui.domain.orders import Fill

    o = buys[0]
    runner.on_fill(Fill("tr-1", ClientOrderId(o.client_id), o.symbol, o.side, o.size, o.price or D(49500)))
    await runner.idle()
    assert seen and isinstance(seen[0], StrategyFill)
    f = seen[0]
    assert f.side == "buy" and abs(f.qty - float(buys[0].size * D("0.0001"))) < 1e-12
    sells = [o for o in e.cache.orders() if o.strategy == "grid" and o.side.value == "sell"]
    assert len(sells) == 1, [(o.client_id, o.side.value, o.price, o.status.value, o.reason) for o in e.cache.orders()]
    assert sells[0].price > (buys[0].price or 0)
