"""Issue 15, live: one portfolio strategy trades several symbols through the risk gate and the order manager.

A paper node built by `build_node` against the Gate simulator on loopback trades three symbols from one
slot; its per-symbol positions are in the journal and come back after a restart (the kept slot with its
symbol list); a strategy that raises or returns NaN halts only its own slot, nothing traded. On real Gate
1h bars fed as ticks, every live decision equals the row the backtest computes for that bar on the whole
panel, and the slot rebalances on exactly the backtest's rebalance bars.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.domain.events import FundingSettled
from cashup_tui.domain.market import Bar, Ticker
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.panel import panel_from_bars, run_weights
from cashup_tui.engine.portfolio_slot import PortfolioSlot, add_portfolio
from cashup_tui.engine.runner import StrategyRunner
from cashup_tui.engine.strategy import load_strategy
from cashup_tui.runtime import build_node
from cashup_tui.service.strategies import resume_saved
from cashup_tui.settings import Settings, replace_section
from tests.conftest import MARKET_DIR, need_shared
from tests.engine_fakes import INSTRUMENTS, make_engine
from tests.test_gateio_sim import until

D = Decimal
SYMS = ["BTC_USDT", "ETH_USDT", "SOL_USDT"]
WEIGHTS = (0.5, 0.3, -0.2)
pytestmark = pytest.mark.timeout(120)

FIXED = '''
import numpy as np

from cashup_tui.engine.panel import PortfolioStrategy
from cashup_tui.engine.strategy import Param


class Fixed(PortfolioStrategy):
    """Fixed weights 0.5 / 0.3 / -0.2 (the first ones for fewer symbols), rebalanced on every bar (a test strategy)."""

    fail = Param("", choices=("", "raise", "nan"), help="break on purpose")

    def warmup(self):
        return 3

    def rebalance(self, panel):
        return np.ones(len(panel), dtype=bool)

    def weights(self, panel):
        if self.fail == "raise":
            raise RuntimeError("broken on purpose")
        w = np.tile([0.5, 0.3, -0.2][: len(panel.symbols)], (len(panel), 1))
        if self.fail == "nan":
            w[-1, 1] = np.nan
        return w
'''


def close_bar(node: Any, slot: PortfolioSlot) -> dict[str, Decimal]:
    """Every symbol closes the bar after the last one decided, at its current mark (the test says when a
    bar closes); returns the marks the decision sized with."""
    marks = {s: node.cache.mark(s) for s in slot.symbols}
    t = slot.decided_ms + 60_000
    for sym, m in marks.items():
        px = float(m)
        slot.on_bar(node.runner, Bar(sym, "1m", t, px, px, px, px, 1.0))
    return marks


async def test_paper_session_one_strategy_three_symbols_resumes_and_bad_slots_halt_alone(tmp_path: Path) -> None:
    path = tmp_path / "fixed.py"
    path.write_text(FIXED)
    cls = load_strategy(str(path))
    db = str(tmp_path / "store.sqlite")
    async with SimServer(SYMS, seed=9, tick_ms=100) as sim:
        settings = replace_section(Settings(), "gate", rest_url=sim.rest_url, ws_url=sim.ws_url)
        node = build_node(settings, "paper", db_url=db, symbols=SYMS)
        await node.start()
        try:
            runner = node.runner
            slot = add_portfolio(runner, cls(), SYMS, "1m", name="fx", order_notional=D(3000), start=True, keep=True)
            assert isinstance(slot, PortfolioSlot)
            assert await node.warm_up("fx", 20) >= 3  # recent bars of every symbol from the venue's REST
            assert slot.orders_sent == 0  # nothing decided on history
            marks = close_bar(node, slot)
            await runner.idle()
            await until(lambda: all(slot.books[s].size != 0 for s in SYMS) and not slot.pending, 30, "the three fills")
            assert slot.rebalances == 1 and slot.orders_sent == 3 and slot.state.value == "running"
            held = {}
            for sym, w in zip(SYMS, WEIGHTS, strict=True):
                inst = node.instruments[sym]
                exact = D(repr(w)) * D(3000) / (marks[sym] * inst.quanto_multiplier)
                size = slot.books[sym].size
                assert abs(size - exact) <= inst.size_step and (size > 0) == (w > 0), (sym, size, exact)
                assert node.portfolio.positions[sym].size == size  # the account holds what the slot holds
                held[sym] = size
            assert slot.targets == dict(zip(SYMS, WEIGHTS, strict=True))
            legs = {x["symbol"]: x for x in runner.status_of("fx")["legs"]}
            assert abs(legs["BTC_USDT"]["weight"] - 0.5) < 0.05 and abs(legs["SOL_USDT"]["weight"] + 0.2) < 0.05
            # the journal holds the orders, every one filled
            mine = [o for o in node.journal.load_orders() if o.strategy == "fx"]
            assert sorted(o.symbol for o in mine) == sorted(SYMS) and all(o.status.value == "filled" for o in mine)
            assert {f.symbol for f in node.journal.load_fills() if f.client_id in {o.client_id for o in mine}} == set(SYMS)
            # the next bar with the same weights: within one size step already, or a small top-up, never a stack
            close_bar(node, slot)
            await runner.idle()
            assert slot.rebalances == 2
        finally:
            await node.stop()

        # restart: the kept slot comes back with its symbol list and its positions from the journal
        node2 = build_node(settings, "paper", db_url=db, symbols=SYMS)
        await node2.start()
        try:
            assert await resume_saved(node2) == []
            slot2 = node2.runner.slots["fx"]
            assert isinstance(slot2, PortfolioSlot) and list(slot2.symbols) == SYMS
            assert slot2.state.value == "running" and slot2.order_notional == 3000
            assert {s: b.size for s, b in slot2.books.items()} == {s: node2.portfolio.positions[s].size for s in SYMS}
            assert all(slot2.books[s].size != 0 and (slot2.books[s].size > 0) == (held[s] > 0) for s in SYMS)

            # a raising and a NaN strategy: each halts its own slot with the cause, nothing traded
            bad = add_portfolio(node2.runner, cls(fail="raise"), SYMS, "1m", name="bad", start=True)
            nan = add_portfolio(node2.runner, cls(fail="nan"), SYMS, "1m", name="nan", start=True)
            for s in (bad, nan):
                await node2.warm_up(s.name, 20)
                close_bar(node2, s)  # type: ignore[arg-type]
            await node2.runner.idle()
            assert bad.state.value == "failed" and "broken on purpose" in bad.error and f"{path}:" in bad.error
            assert nan.state.value == "failed" and "weight nan for ETH_USDT at bar" in nan.error
            assert bad.orders_sent == nan.orders_sent == 0
            assert not [o for o in node2.journal.load_orders() if o.strategy in ("bad", "nan")]
            assert slot2.state.value == "running"
        finally:
            await node2.stop()


@pytest.mark.parametrize(("name", "params"), [
    ("xsec_momentum", {"lookback": 12, "rebalance_every": 6, "top": 1}),
    ("factor_score", {"lookback": 12, "vol_window": 8, "rebalance_every": 5, "short": True}),
])
async def test_live_decisions_equal_the_backtest_rows_on_the_same_bars(name: str, params: dict[str, Any]) -> None:
    """Real Gate BTC and ETH 1h bars, fed as ticks (open, high, low, close) through the slot's bar builders."""
    files = {"BTC_USDT": "gateio_usdt_perp_BTC_USDT_1h_2023-01-01_2023-09-22.csv",
             "ETH_USDT": "gateio_usdt_perp_ETH_USDT_1h_2023-01-01_2023-09-22.csv"}
    bars = {s: load_csv(need_shared(MARKET_DIR / f), symbol=s) for s, f in files.items()}
    n, warm = 160, 20
    cls = load_strategy(name)
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    slot = add_portfolio(runner, cls(**params), list(files), "1h", name="p", order_notional=D(1000),
                                allow_short=True, start=True)
    assert isinstance(slot, PortfolioSlot)
    slot.warm_up({s: [Bar(s, "1h", int(b.time_ms[i]), float(b.open[i]), float(b.high[i]), float(b.low[i]),
                          float(b.close[i]), float(b.volume[i])) for i in range(warm)] for s, b in bars.items()})
    decided: dict[int, tuple[float, ...]] = {}
    rebalanced: list[int] = []
    for i in range(warm, n + 1):  # bar i-1 closes when bar i's first tick arrives
        for j, (s, b) in enumerate(bars.items()):
            t0 = int(b.time_ms[i])
            for k, col in enumerate(("open", "high", "low", "close")):
                before = slot.rebalances
                runner.on_ticker(Ticker(s, t0 + k, float(getattr(b, col)[i])))
                if i > warm and j == len(bars) - 1 and k == 0:  # the last symbol's first tick closed bar i-1
                    decided[i - 1] = tuple(slot.targets[x] for x in bars)
                    if slot.rebalances > before:
                        rebalanced.append(i - 1)
        await runner.idle()
    assert slot.state.value == "running", slot.error
    # the backtest's weights and mask on the same bars (open/high/low/close as the builder saw them)
    same = [b.__class__.from_arrays(b.time_ms[:n], b.open[:n], b.high[:n], b.low[:n], b.close[:n], symbol=s,
                                    timeframe="1h") for s, b in bars.items()]
    strat = cls(**params)
    w, mask = run_weights(strat, strat.prepare(panel_from_bars(same)))
    assert sorted(decided) == list(range(warm, n))
    for t, row in decided.items():
        assert np.array_equal(np.array(row), w[t]), (t, row, w[t])
    assert rebalanced == [t for t in range(warm, n) if mask[t]] and len(rebalanced) >= 3
    assert any(any(x != 0 for x in decided[t]) for t in rebalanced)  # it held positions, not only flat rows


def flat_bar(slot: PortfolioSlot, runner: StrategyRunner, prices: dict[str, float]) -> None:
    t = slot.decided_ms + 60_000
    for sym, px in prices.items():
        slot.on_bar(runner, Bar(sym, "1m", t, px, px, px, px, 1.0))


async def test_funding_per_symbol_lifecycle_and_a_restart_of_the_books(tmp_path: Path) -> None:
    path = tmp_path / "fixed.py"
    path.write_text(FIXED)
    cls = load_strategy(str(path))
    prices = {"BTC_USDT": 50000.0, "ETH_USDT": 3000.0}  # the fake venue's fill prices and the marks
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    slot = add_portfolio(runner, cls(), list(prices), "1m", name="pf", order_notional=D(10_000), keep=True)
    assert isinstance(slot, PortfolioSlot)
    slot.warm_up({s: [Bar(s, "1m", 1_700_000_000_000 + i * 60_000, p, p, p, p) for i in range(4)]
                  for s, p in prices.items()})
    flat_bar(slot, runner, prices)
    await runner.idle()
    # 0.5 x 10,000 / (50,000 x 0.0001) BTC contracts, 0.3 x 10,000 / (3,000 x ETH's multiplier)
    want = {s: (D(repr(w)) * 10_000 / (D(repr(prices[s])) * INSTRUMENTS[s].quanto_multiplier)).to_integral_value()
            for s, w in zip(prices, WEIGHTS, strict=False)}
    assert {s: b.size for s, b in slot.books.items()} == want and slot.fills == 2
    # funding on BTC: the slot holds the whole account position there, so it takes the whole amount (settled
    # after its fills: its share is on what it held then)
    ts = slot.books["BTC_USDT"].updated_ms + 1000
    e.bus.publish(FundingSettled(ts, "BTC_USDT", D("-1.25"), FundingSettled.key_of("BTC_USDT", ts)))
    assert slot.books["BTC_USDT"].funding == D("-1.25") and slot.books["ETH_USDT"].funding == 0
    assert runner.pnl("pf")["funding"] == D("-1.25")
    # paused: bars are still collected, nothing is decided; resumed: the next bar is
    runner.pause("pf")
    flat_bar(slot, runner, prices)
    assert slot.rebalances == 1 and slot.bars_seen == 2
    runner.resume("pf")
    flat_bar(slot, runner, prices)
    await runner.idle()
    assert slot.rebalances == 2
    # the capital is the size plus its net PnL (fees and funding paid): the rebalance trims each symbol to it
    capital = 10_000 + runner.pnl("pf")["net_pnl"]
    assert capital < 10_000 and slot.orders_sent == 4
    held = {s: b.size for s, b in slot.books.items()}
    assert held == slot.target_contracts
    for s, w in zip(prices, WEIGHTS, strict=False):
        exact = D(repr(w)) * capital / (D(repr(prices[s])) * INSTRUMENTS[s].quanto_multiplier)
        assert 0 <= exact - held[s] < INSTRUMENTS[s].size_step
    sells = [o for o in e.cache.orders() if o.strategy == "pf" and o.side.value == "sell"]
    assert sells and all(o.reduce_only for o in sells)
    runner.stop("pf")
    flat_bar(slot, runner, prices)
    assert slot.bars_seen == 3
    # resumed after 10 minutes stopped: no flat bars made up for them; its bars start again, no decision
    runner.resume("pf")
    slot.decided_ms += 9 * 60_000
    flat_bar(slot, runner, prices)
    assert len(slot.series["BTC_USDT"]) == 1 and slot.rebalances == 2
    runner.stop("pf")
    # a restart on the same journal: the books (positions, fees, funding) come back per symbol
    again = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    rec = next(r for r in again.saved() if r["name"] == "pf")
    assert rec["symbols"] == list(prices) and rec["state"] == "stopped"
    slot2 = add_portfolio(again, cls(), rec["symbols"], "1m", name="pf", order_notional=D(10_000))
    assert isinstance(slot2, PortfolioSlot) and slot2.state.value == "stopped"
    assert {s: b.size for s, b in slot2.books.items()} == held and slot2.fills == 4
    assert slot2.books["BTC_USDT"].funding == D("-1.25")
    assert slot2.books["BTC_USDT"].fees == slot.books["BTC_USDT"].fees > 0


def test_a_bar_that_closed_while_the_history_was_fetched_is_kept_after_it() -> None:
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    slot = add_portfolio(runner, load_strategy("xsec_momentum")(lookback=2), ["BTC_USDT", "ETH_USDT"], "1m", name="x")
    assert isinstance(slot, PortfolioSlot)
    t0 = 1_700_000_000_000
    live = {s: Bar(s, "1m", t0 + 5 * 60_000, 9.0, 9.0, 9.0, 9.0) for s in ("BTC_USDT", "ETH_USDT")}
    for b in live.values():  # the first live bar closes before the warm-up's REST answer arrives
        slot.on_bar(runner, b)
    n = slot.warm_up({s: [Bar(s, "1m", t0 + i * 60_000, 1.0 + i, 1.0 + i, 1.0 + i, 1.0 + i) for i in range(6)]
                      for s in live})
    assert n == 6 and slot.decided_ms == t0 + 5 * 60_000
    assert list(slot.series["BTC_USDT"].cols["close"]) == [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]  # history, then the live bar
