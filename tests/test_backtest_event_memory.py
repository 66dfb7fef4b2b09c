"""The event engine's memory does not grow with its order count: finished orders, their journal lines,
fills and trade ids are kept in a recent window only (working orders always), and the run is the same."""

from __future__ import annotations

import numpy as np
import pytest

from cashup_tui.adapters.sim.execution import VenueExecution
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.event import EventEngine, backtest_limits, run_event
from cashup_tui.engine.backtest.fast import run_fast
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared
from tests.test_backtest_event import BTC_1H, same

SIM = VenueExecution.with_venue
WINDOW = 10


@pytest.fixture(scope="module")
def bars():
    return load_csv(need_shared(MARKET_DIR / BTC_1H))[:1500]


def held(eng: EventEngine) -> dict[str, int]:
    return {"journal orders": len(eng.journal.orders), "journal fills": len(eng.journal.fills),
            "journal lines": len(eng.journal.journal), "cache orders": len(eng.cache.orders()),
            "trade ids": eng.pf.trade_count()}


@pytest.mark.parametrize("name,hooks,cfg", [("sma_cross", False, {"allow_short": True}), ("grid", True, {})])
def test_a_small_history_window_bounds_memory_and_changes_nothing(bars, monkeypatch, name, hooks, cfg) -> None:
    config = RunConfig(**cfg)
    strat = load_strategy(name)(**({"fast": 2, "slow": 3} if name == "sma_cross" else {}))
    full = run_event(strat, bars, config, SIM, hooks=hooks)
    monkeypatch.setattr(EventEngine, "history_window", WINDOW)
    eng = EventEngine(load_strategy(name)(**({"fast": 2, "slow": 3} if name == "sma_cross" else {})), bars, config,
                      SIM, hooks, backtest_limits(config))
    res = eng.run()
    assert eng.venue.my_trades(limit=10**6)[0].id - eng.venue.my_trades(limit=10**6)[-1].id > 4 * WINDOW  # more fills
    for what, count in held(eng).items():
        assert count <= 4 * WINDOW + len(eng.cache.open_orders()), what
    assert full.trades.tolist() == res.trades.tolist()
    np.testing.assert_array_equal(full.equity, res.equity)
    assert full.rejected == res.rejected == 0
    if name == "sma_cross":
        same(run_fast(load_strategy(name)(fast=2, slow=3), bars, config), res)
