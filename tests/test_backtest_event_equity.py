"""The event engine's equity curve is the portfolio's own valuation at every close, also while a position
is built and unwound over several fills at different prices (a grid: resting limits scale in and out).

The engine books each fill in floats (cash, units, entry) and computes the curve after the loop; the
agreement tests compare it with the fast engine, which only ever holds all-in positions. Here the reference
is the order manager's Portfolio (Decimal), read at each close before the strategy acts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.event import EventEngine, backtest_limits
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"


def test_equity_is_the_portfolio_valuation_at_every_close_while_scaling_in_and_out() -> None:
    bars = load_csv(need_shared(MARKET_DIR / BTC_1H))[:1500]
    seen: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    eng: EventEngine

    class Watched(load_strategy("grid")):  # type: ignore[misc]
        def on_bar(self, ctx: Any, bar: Any) -> None:
            pos = eng.pf.positions.get(eng.sym)
            seen[eng.i] = (eng.pf.cash, pos.size, pos.entry_price) if pos is not None else (eng.pf.cash, Decimal(0),
                                                                                           Decimal(0))
            super().on_bar(ctx, bar)

    cfg = RunConfig()
    eng = EventEngine(Watched(), bars, cfg, VenueExecution.with_venue, True, backtest_limits(cfg))
    res = eng.run()
    sizes = {size for _, size, _ in seen.values()}
    assert len(sizes) >= 4  # flat, and several sizes held: bought at more than one level, sold in parts
    assert len(seen) == len(bars)
    qm = float(eng.inst.quanto_multiplier)
    idx = np.array(sorted(seen))
    want = np.array([float(seen[i][0]) + float(seen[i][1]) * qm * (float(bars.close[i]) - float(seen[i][2]))
                     for i in idx])
    np.testing.assert_allclose(res.equity[idx], want, rtol=1e-9)
