"""Strategy runner: isolation of a raising strategy, orders through risk, lifecycle persisted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cashup_tui.domain.enums import OrderType
from cashup_tui.domain.events import FundingSettled, StrategyFailed
from cashup_tui.domain.market import Bar, Ticker
from cashup_tui.engine.runner import BarBuilder, SlotState, StrategyRunner
from cashup_tui.engine.strategy import load_strategy
from tests.engine_fakes import INSTRUMENTS, make_engine, order

D = Decimal

GOOD = '''
from cashup_tui.engine.strategy import Strategy, Param

class AlwaysLong(Strategy):
    """Goes long on every bar."""
    vectorised = False
    size = Param(1.0)

    def on_bar(self, ctx, bar):
        ctx.target(self.size)
'''

BAD = '''
from cashup_tui.engine.strategy import Strategy

class Broken(Strategy):
    """Raises on the second bar."""
    vectorised = False

    def on_start(self, ctx):
        self.n = 0

    def on_bar(self, ctx, bar):
        self.n += 1
        if self.n == 2:
            raise ZeroDivisionError("boom")
        ctx.target(-1)
'''


def _load(tmp_path: Path, name: str, text: str):
    p = tmp_path / f"{name}.py"
    p.write_text(text)
    return load_strategy(str(p)), p


def bar(i: int, close: float = 50000.0) -> Bar:
    return Bar("BTC_USDT", "1m", 1_700_000_000_000 + i * 60_000, close, close, close, close, 1.0)


async def test_raising_strategy_is_halted_and_reported_others_carry_on(tmp_path: Path) -> None:
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    failed: list[StrategyFailed] = []
    e.bus.subscribe(StrategyFailed, failed.append)
    good_cls, _ = _load(tmp_path, "good", GOOD)
    bad_cls, bad_path = _load(tmp_path, "bad", BAD)
    runner.add(good_cls(), "BTC_USDT", "1m", name="good", order_notional=D(500))
    runner.add(bad_cls(), "BTC_USDT", "1m", name="bad", order_notional=D(500))
    for i in range(3):
        runner.on_bar(bar(i))
        await runner.idle()
        e.clock.advance(2000)
        e.cache.set_mark("BTC_USDT", D(50000), e.clock.now_ms())
    st = {s["name"]: s for s in runner.status()}
    assert st["bad"]["state"] == "failed" and "ZeroDivisionError" in st["bad"]["error"]
    line = next(i for i, t in enumerate(BAD.splitlines(), 1) if "raise ZeroDivisionError" in t)
    assert len(failed) == 1 and failed[0].where == f"{bad_path}:{line}"
    assert st["good"]["state"] == "running" and st["good"]["bars"] == 3
    # good: 500 USDT / (50000 * 0.0001) = 100 contracts long; bad: 100 short on bar 1 only
    assert runner.slots["good"].position == D(100) and runner.slots["bad"].position == D(-100)
    assert e.portfolio.positions["BTC_USDT"].size == D(0)
    assert e.journal.kv_get("runner.bad")["state"] == "failed"


async def test_no_trading_before_reconciliation_and_pause(tmp_path: Path) -> None:
    e = make_engine(reconciled=False)
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    runner.on_bar(bar(0))
    await runner.idle()
    assert e.venue.submit_calls == []
    await e.om.reconcile()
    runner.pause("g")
    runner.on_bar(bar(1))
    await runner.idle()
    assert e.venue.submit_calls == []
    runner.resume("g")
    runner.on_bar(bar(2))
    await runner.idle()
    assert len(e.venue.submit_calls) == 1


async def test_state_and_position_survive_restart(tmp_path: Path) -> None:
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(size=0.5), "BTC_USDT", "1m", name="g", order_notional=D(500))
    runner.on_bar(bar(0))
    await runner.idle()
    runner.pause("g")
    e2 = make_engine(journal=e.journal, venue=e.venue)
    r2 = StrategyRunner(e2.om, INSTRUMENTS, e2.clock, e2.journal, e2.bus)
    slot = r2.add(cls(size=0.5), "BTC_USDT", "1m", name="g", order_notional=D(500))
    assert slot.state is SlotState.PAUSED and slot.position == D(50)


async def test_strategy_budget_is_enforced(tmp_path: Path) -> None:
    from cashup_tui.engine.risk import StrategyBudget

    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500),
               budget=StrategyBudget(max_order_notional=D(100)))
    runner.on_bar(bar(0))
    await runner.idle()
    assert e.venue.submit_calls == []
    assert any(r[2] == "budget_order_notional" for r in e.journal.risk_events)


async def test_ticks_build_bars() -> None:
    b = BarBuilder("BTC_USDT", "1m")
    t0 = 1_700_000_040_000 - 1_700_000_040_000 % 60_000
    assert b.update(10.0, t0) is None
    assert b.update(12.0, t0 + 10_000) is None
    assert b.update(9.0, t0 + 20_000) is None
    closed = b.update(11.0, t0 + 60_000)
    assert closed is not None and (closed.open, closed.high, closed.low, closed.close) == (10.0, 12.0, 9.0, 9.0)
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    seen = []

    class Rec:
        params: dict = {}

        def label(self) -> str:
            return "rec"

        def on_start(self, ctx) -> None: ...

        def on_bar(self, ctx, bar) -> None:
            seen.append(bar)

        def on_ticker(self, ctx, t) -> None: ...

    runner.add(Rec(), "BTC_USDT", "1m", name="rec")  # type: ignore[arg-type]
    for k, px in enumerate((1.0, 2.0, 3.0)):
        runner.on_ticker(Ticker("BTC_USDT", t0 + k * 60_000, last=px))
    assert [b.close for b in seen] == [1.0, 2.0]


async def _long_slot(tmp_path: Path):
    """An engine whose slot "g" went long 100 contracts (500 USDT at 50000) on its first bar."""
    e = make_engine()
    runner = StrategyRunner(e.om, INSTRUMENTS, e.clock, e.journal, e.bus)
    cls, _ = _load(tmp_path, "good", GOOD)
    runner.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    runner.on_bar(bar(0))
    await runner.idle()
    return e, runner, cls


async def test_target_holds_a_position_on_its_side_as_the_price_drifts(tmp_path: Path) -> None:
    """`target(1.0)` sizes at entry and then holds, like both backtest engines: a mark that drifts
    (100 contracts at 50000 would be 98 at 51000) sends no rebalancing orders; a flip does trade."""
    e, runner, _ = await _long_slot(tmp_path)
    assert runner.slots["g"].position == D(100) and len(e.venue.submit_calls) == 1
    for i, px in enumerate((51000, 49000, 52500), start=1):
        e.clock.advance(2000)
        e.cache.set_mark("BTC_USDT", D(px), e.clock.now_ms())
        runner.on_bar(bar(i, float(px)))
        await runner.idle()
    assert len(e.venue.submit_calls) == 1 and runner.slots["g"].position == D(100)


async def test_each_slot_keeps_its_own_pnl_realised_unrealised_fees_funding(tmp_path: Path) -> None:
    """Per-strategy PnL from the slot's own fills (not minus fees only), and it survives a restart."""
    e, runner, cls = await _long_slot(tmp_path)
    # 100 contracts long at 50000 (multiplier 0.0001: 500 USDT); taker fee 0.05% = 0.25
    e.clock.advance(1000)
    e.cache.set_mark("BTC_USDT", D(51000), e.clock.now_ms())
    # the venue books the settlement (longs pay 100 x 0.0001 x 51000 x 0.0001 = 0.051); a replay of it is ignored
    settled = FundingSettled(e.clock.now_ms(), "BTC_USDT", D("-0.051"), FundingSettled.key_of("BTC_USDT", e.clock.now_ms()))
    await e.om.handle_event(settled)
    await e.om.handle_event(settled)
    assert e.portfolio.positions["BTC_USDT"].funding == D("-0.051")
    p = runner.pnl("g")
    assert (p["entry_price"], p["realised_pnl"], p["unrealised_pnl"], p["fees"], p["funding"]) == (
        D(50000), D(0), D(10), D("0.25"), D("-0.051"))
    assert p["net_pnl"] == D(10) - D("0.25") - D("0.051")
    assert runner.status()[0]["net_pnl"] == p["net_pnl"]
    e2 = make_engine(journal=e.journal, venue=e.venue)
    r2 = StrategyRunner(e2.om, INSTRUMENTS, e2.clock, e2.journal, e2.bus)
    r2.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    e2.cache.set_mark("BTC_USDT", D(51000), e2.clock.now_ms())
    p2 = r2.pnl("g")
    assert (p2["entry_price"], p2["unrealised_pnl"], p2["fees"], p2["funding"]) == (D(50000), D(10), D("0.25"), D("-0.051"))


async def test_funding_is_shared_by_what_each_slot_holds_of_the_venue_position(tmp_path: Path) -> None:
    """A slot holding half of the account's position on the contract takes half of the settlement."""
    e, runner, _ = await _long_slot(tmp_path)
    await e.om.submit(order(size="100", price=None, otype=OrderType.MARKET))  # a manual 100 beside the slot's 100
    assert e.portfolio.positions["BTC_USDT"].size == D(200)
    ts = e.clock.now_ms() + 60_000  # settled after both fills
    await e.om.handle_event(FundingSettled(ts, "BTC_USDT", D("-0.1"), FundingSettled.key_of("BTC_USDT", ts)))
    assert runner.pnl("g")["funding"] == D("-0.05")
    assert e.portfolio.positions["BTC_USDT"].funding == D("-0.1")


async def test_a_fresh_venue_starts_the_slot_flat(tmp_path: Path) -> None:
    """A restarted demo simulator is flat: the resumed slot does not rebuild a position from old fills."""
    e, runner, cls = await _long_slot(tmp_path)
    assert runner.slots["g"].position == D(100)
    e2 = make_engine(journal=e.journal)
    r2 = StrategyRunner(e2.om, INSTRUMENTS, e2.clock, e2.journal, e2.bus)
    r2.fresh_venue = True
    slot = r2.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    assert (slot.position, slot.fills, r2.pnl("g")["realised_pnl"]) == (D(0), 0, D(0))


async def test_a_settlement_booked_while_the_slot_was_not_running_reaches_it_once(tmp_path: Path) -> None:
    """Start-up reconciliation books the settlements made while CashUp was stopped before any strategy is
    back: each slot takes its share when it is added (on what it held then), once across restarts."""
    e, _, cls = await _long_slot(tmp_path)
    await e.om.submit(order(size="100", price=None, otype=OrderType.MARKET))  # a manual 100 beside the slot's 100
    before = e.clock.now_ms() - 1  # settled before the slot's fill: it held nothing then
    e2 = make_engine(journal=e.journal, venue=e.venue)
    assert e2.portfolio.positions["BTC_USDT"].size == D(200)
    for ts, amount in ((before, "-0.3"), (e.clock.now_ms() + 60_000, "-0.1")):  # booked at start-up, no runner yet
        await e2.om.handle_event(FundingSettled(ts, "BTC_USDT", D(amount), FundingSettled.key_of("BTC_USDT", ts)))
    r2 = StrategyRunner(e2.om, INSTRUMENTS, e2.clock, e2.journal, e2.bus)
    r2.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    assert r2.pnl("g")["funding"] == D("-0.05")  # half of the second; none of the first
    e3 = make_engine(journal=e.journal, venue=e.venue)
    r3 = StrategyRunner(e3.om, INSTRUMENTS, e3.clock, e3.journal, e3.bus)
    r3.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    assert r3.pnl("g")["funding"] == D("-0.05")  # taken once
    # a runner that exists before the settlement is booked (no slot yet) passes it on the same way
    e4 = make_engine(journal=e.journal, venue=e.venue)
    r4 = StrategyRunner(e4.om, INSTRUMENTS, e4.clock, e4.journal, e4.bus)
    ts = e.clock.now_ms() + 120_000
    await e4.om.handle_event(FundingSettled(ts, "BTC_USDT", D("-0.2"), FundingSettled.key_of("BTC_USDT", ts)))
    r4.add(cls(), "BTC_USDT", "1m", name="g", order_notional=D(500))
    assert r4.pnl("g")["funding"] == D("-0.15")
