"""The event engine: bars replayed one at a time through the engine path paper trading uses.

Every order takes the live path:

    strategy (in a StrategyRunner slot: dispatch, guard, budget, lifecycle) -> BacktestContext
    -> OrderManager (RiskEngine gate, write-ahead journal, order state machine)
    -> VenueExecution (the Execution port) -> the shared simulated Venue
    -> fills back through OrderManager.on_fill (dedup by trade id, Portfolio, journal)
    -> the episode book (trades) and the strategy's `on_fill` (a `SimFill`: coins and floats).

The context differs from live (`LiveContext`) on purpose: `target()` sizes by the run's sizer
(all-in by default, like the fast engine) and market orders wait for the next bar's open.

The venue answers in-process, so the order manager's documented synchronous path
(`OrderManager.submit_now`) is used: same gate, same journal rows, same transitions, no event
loop round trip per order. The journal is a `WindowJournal` (in memory; a backtest keeps nothing, and
finished orders and fills only in a recent window: memory does not grow with the order count).

What happens in a bar:
- open: orders decided at the previous close execute: targets become market orders sized like
  the fast engine (all-in / percent / notional), `buy`/`sell` without a price fill at the open
  (with slippage); resting limit orders that the open gaps through fill at the open;
- intrabar: stops/take-profits (strategy `stop_pct`/`take_pct`) are checked pessimistically
  (stop first) and the bar's path (open -> low -> high -> close when it closes up, open -> high ->
  low -> close when it closes down) is fed to the venue, so resting limits fill where the bar
  reaches them and liquidation happens at the venue's maintenance-margin price;
- close: funding settles (venue and portfolio), equity is marked to the close, the strategy sees
  the bar (its limit orders rest from that close).

Speed: nothing is sent to the venue in a bar where nothing can happen. The venue is fed a bar only when a resting order, a stop or the liquidation price is
within the bar's range, or an order is about to be sent (the venue then sees the current price
first). A vectorised strategy's signals are computed ONCE with `run_signals` (signals at t use data
up to t only: the lookahead checker enforces it) and the per-bar step compares targets; `hooks=True`
calls the strategy's own `on_bar` instead (what live trading runs; event-only strategies always do).
Bars where nothing can happen are not visited at all: without hooks, stops, resting or pending
orders and with no liquidation price in play (flat, or a 1x long), the loop jumps to the next bar
whose previous close turns the signal away from the position, or to the next funding settlement
(`EventEngine.skip_quiet = False` visits every bar: the same result, a test holds it).
Equity at each close is computed after the loop from the portfolio state recorded at every change
(cash, position, entry): the same number the portfolio reports at that close. A run's speed is set
by its order count: each order takes the real path (strategy slot -> risk gate -> order manager ->
venue -> fill accounting; bench/backtest.py prints its cost), a quiet bar almost nothing.

Risk limits: `backtest_limits()` is the real RiskEngine with limits a backtest can live with
(leverage capped at the run's leverage; no daily-loss/drawdown circuit breakers, which are live
account protections; notional caps far above any sane account). Denials are not silent: each one
is counted in `Result.rejected` and noted in `Result.notes`.

Same answer as the fast engine (tests hold it to 1e-9 on real candles) for all-in / percent /
notional sizing at any leverage: both size by the venue's margin rule above 1x, skip a segment whose
entry is below one contract, and liquidate at the venue's maintenance-margin price.
"""

from __future__ import annotations

import gc
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from cashup_tui.domain.enums import ORDER_TYPE, SIDE, Side
from cashup_tui.domain.errors import CashupError, DataError, RiskDenied, StrategyError, ValidationError
from cashup_tui.domain.instruments import Instrument, to_decimal
from cashup_tui.domain.market import Bar
from cashup_tui.domain.orders import Fill
from cashup_tui.engine.backtest import model
from cashup_tui.engine.backtest.context import BacktestContext, BacktestRunner
from cashup_tui.engine.backtest.history import WINDOW, TradeColumns, WindowJournal, trim_trade_ids
from cashup_tui.engine.backtest.model import TRADE_DTYPE, Result, RunConfig, funding_rates, max_units
from cashup_tui.engine.backtest.plumbing import OpenIndexCache, Tap, col, drive, label
from cashup_tui.engine.backtest.sim_port import SimulatedExecution
from cashup_tui.engine.clock import TestClock
from cashup_tui.engine.order_manager import OrderManager
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.risk import RiskEngine, RiskLimits, StrategyBudget
from cashup_tui.engine.runner import Slot, SlotState
from cashup_tui.engine.strategy import Bars, Strategy, StrategyFill, run_signals, where

__all__ = ["BacktestContext", "EventEngine", "SimFill", "backtest_limits", "run_event"]

D = Decimal
ZERO = D(0)


SimFill = StrategyFill  # the one fill type strategies see (engine/strategy.py)


def backtest_limits(cfg: RunConfig) -> RiskLimits:
    """The risk gate's limits for a backtest: real rules, generous where a backtest needs room.

    Account leverage is capped at the run's `--leverage` (an all-in order at 1x is ~0.9995x);
    notional caps are 1e15 USDT (a compounding run must not hit a live account's size cap);
    the daily-loss and drawdown breakers are off (they protect a live account; drawdown is a
    backtest metric); the price band is the venue's own 50%; order rate and open orders are
    generous but finite (a grid lays its levels in one bar)."""
    big = D(10) ** 15
    return RiskLimits(max_order_notional=big, max_position_notional=big, max_gross_exposure=big,
                      max_leverage=to_decimal(float(max(cfg.leverage, 1.0))), price_band_pct=D(50),
                      max_open_orders=1000, max_orders_per_sec=1000.0, daily_loss_limit=D(0), max_drawdown_pct=D(0))


class EventEngine:
    """One event backtest: its clock, venue, journal, portfolio, risk gate and order manager
    (kept as attributes so tests can audit a finished run: `run()` returns the Result)."""

    skip_quiet = True  # jump over bars where nothing can happen (False: visit every bar; same result)
    history_window = WINDOW  # finished orders / fills the journal, cache and dedup set keep (working ones always)

    def __init__(self, strategy: Strategy, bars: Bars, cfg: RunConfig, sim: Callable[..., Any],
                 hooks: bool, limits: RiskLimits) -> None:
        self.s, self.bars, self.cfg = strategy, bars, cfg
        self.sym = sym = bars.symbol or "BTC_USDT"
        self.inst: Instrument = cfg.instrument or Instrument(
            symbol=sym, quanto_multiplier=D(1), price_tick=D("1e-8"), size_step=model.UNIT_STEP,
            min_size=model.UNIT_STEP, max_size=D(10**12), leverage_max=D(125))
        insts = {sym: self.inst}
        self.qm = float(self.inst.quanto_multiplier)
        lev = to_decimal(float(cfg.leverage)) if cfg.leverage >= 1 else D(1)
        self.clock = TestClock(int(bars.time_ms[0]))
        try:
            self.ex = sim(insts, self.clock.now_ms, balance=to_decimal(float(cfg.cash)),
                          fee_bps=to_decimal(float(cfg.fee_bps)), default_leverage=lev, record_events=True)
        except TypeError:
            self.ex = None
        if not isinstance(self.ex, SimulatedExecution):
            raise ValidationError("the event engine needs an in-process simulated venue behind the Execution port",
                                  hint="pass VenueExecution.with_venue (cashup_tui.adapters.sim.execution)")
        self.venue = self.ex.venue
        self.journal = WindowJournal(self.history_window)
        self.cache = OpenIndexCache(self.history_window)
        self.pf = Portfolio.with_cash(insts, to_decimal(float(cfg.cash)), default_leverage=lev)
        self.tap = Tap(self._state)
        self.journal.listener = self.tap.fill  # fills as journalled: the order manager needs no bus here
        self.risk = RiskEngine(limits, insts, self.pf, self.cache, self.clock, self.journal, bus=self.tap)
        self.om = OrderManager(self.ex, self.journal, self.risk, self.pf, self.cache, self.clock, None,
                               id_prefix="b", session="bt")
        self.om.missing_position_is_flat = True
        drive(self.om.reconcile())  # start-up reconciliation, as live: nothing trades before it
        self.runner = BacktestRunner(self, self.om, insts, self.clock, self.journal, self.tap)
        self.slot_name = f"{strategy.label()}-{sym}"
        self.slot: Slot | None = None
        self.hooks = hooks
        self.fee, self.slip = cfg.fee, cfg.slip
        self.desired = 0
        self.targeting = False  # True once the strategy uses target(): only then the engine steers the position
        self.blocked = False  # after a stop/take: flat until the strategy asks for a position again
        self.skipped = 0  # a target whose entry rounds to no contract: its segment is skipped (the fast rule)
        self.pending: list[tuple[float, str]] = []  # market orders for the next open (signed qty, tag)
        self.i = 0
        self.seg_next = False  # True in the close phase: state changes show from the next close on
        self.px: float | None = None  # the price the venue, cache and portfolio last saw
        self.dpx = D(0)
        self.logs: list[tuple[int, str]] = []
        self.trades = TradeColumns()
        self.ep: dict[str, Any] | None = None  # the open position episode
        self.reason = "signal"
        self.ctx = BacktestContext(self)
        self.stop, self.take = strategy.stops()
        self.tags: dict[str, str] = {}
        self.rejected = 0
        self.denied = 0
        self.side = 0  # sign of the position (from fills)
        self.units = 0.0  # signed base units
        self.liq: float | None = None  # the venue's liquidation price of the open position
        self.resting = False
        self.best_buy = -np.inf  # highest resting buy / lowest resting sell (fill when the bar reaches them)
        self.best_sell = np.inf
        self.fund_total = 0.0
        self._busy = False
        self.long_liquidates = cfg.leverage > 1  # a 1x long cannot be liquidated (its liq price is <= 0)
        self.wants_fills = type(strategy).on_fill is not Strategy.on_fill  # else fills need no SimFill
        # per-change portfolio state: the close from which it holds, cash, units, entry, side
        self.seg_i = array("q", [0])
        self.seg_cash = array("d", [float(cfg.cash)])
        self.seg_units = array("d", [0.0])
        self.seg_entry = array("d", [0.0])
        self.seg_side = array("b", [0])

    # -- prices and orders -----------------------------------------------------------------
    def at(self, ts: int) -> None:
        if ts > self.clock.now_ms():
            self.clock.set(ts)

    def price(self, px: float) -> None:
        """Tell the venue, the cache and the portfolio the current price (before any order)."""
        now = self.clock.now_ms()
        if px == self.px:  # the same price, later: the feed is still alive (the stale-data rule)
            self.cache.set_mark(self.sym, self.dpx, now)
            return
        self.px = px
        self.dpx = dp = to_decimal(px)
        self.venue.update_price(self.sym, dp, now)
        self.pf.set_mark(self.sym, dp)
        self.cache.set_mark(self.sym, dp, now)
        if self.venue.has_events():  # resting orders the price reached, a liquidation
            self.om.apply_events_now()
            self.after_orders()

    def submit(self, side: Side, size: Decimal, price: Decimal | None, tag: str, *, reduce_only: bool = False) -> str:
        om = self.om
        order = om.build(self.sym, side, size, order_type=ORDER_TYPE.MARKET if price is None else ORDER_TYPE.LIMIT,
                         price=price, reduce_only=reduce_only, strategy=self.slot_name)
        try:
            om.submit_now(order)
        except RiskDenied as exc:
            self.denied += 1
            self.refused("denied by risk", exc)
            return ""
        except CashupError as exc:  # the venue refused it, as Gate would: the strategy carries on
            self.refused("rejected", exc)
            return ""
        finally:
            self.after_orders()
        if tag:
            self.tags[order.client_id] = tag
        return order.client_id

    def refused(self, what: str, exc: CashupError) -> None:
        self.rejected += 1
        self.logs.append((self.clock.now_ms(), f"{what}: {str(exc).splitlines()[0]}"))

    def order(self, qty: float, price: float | None, tag: str) -> str:
        """A strategy's buy/sell: market orders wait for the next open, limits go now."""
        if price is None:
            self.pending.append((qty, tag))
            return ""
        size = self.inst.round_size(to_decimal(abs(qty) / self.qm))
        if size == ZERO:
            raise ValidationError(f"order of {qty} {self.sym} is below the size step")
        if self.seg_next or self.px is None:  # from on_bar: the venue sees this close first
            self.price(float(self.bars.close[self.i]))
        return self.submit(SIDE.BUY if qty > 0 else SIDE.SELL, size, self.inst.round_price(to_decimal(price)), tag)

    def market(self, size: Decimal, px: float, *, close: bool = False, tag: str = "") -> None:
        """A market order at `px` (the venue's one-level book is put there first)."""
        self.price(px)
        if close:
            pos = self.pf.positions.get(self.sym)
            if pos is None or pos.size == ZERO:
                return
            self.submit(SIDE.SELL if pos.size > ZERO else SIDE.BUY, abs(pos.size), None, tag, reduce_only=True)
        elif size != ZERO:
            self.submit(SIDE.BUY if size > ZERO else SIDE.SELL, abs(size), None, tag)

    def _within_leverage(self, size: Decimal, p: float) -> Decimal:
        """Float sizing can land ulps above the gate's leverage limit (all-in with no fee is exactly at it):
        the gate compares Decimals, so the size is capped in Decimal at the limit the gate applies."""
        self.price(p)
        room = self.pf.equity() * self.risk.limits.max_leverage
        cap = self.inst.round_size(room / (self.dpx * self.inst.quanto_multiplier))
        if self.inst.notional(cap, self.dpx) > room:  # the division rounded up across a size step
            cap -= self.inst.size_step
        return size if abs(size) <= cap else (cap if size > ZERO else -cap)

    def units_for(self, p: float) -> float:
        eq = float(self.venue.available_balance())
        lev, f, sz = self.cfg.leverage, self.fee, self.cfg.sizer
        cap = max_units(eq, p, lev, f)
        if sz.kind == "all-in":
            return cap
        if sz.kind == "percent":
            return cap * sz.value / 100.0
        if sz.kind == "notional":
            return min(sz.value * lev / p, cap)
        raise ValidationError("the atr sizer is not available on the event engine yet", hint="use --engine fast")

    # -- fills -> position, episodes, strategy ---------------------------------------------
    def after_orders(self) -> None:
        """Apply the fills the order manager journalled (re-entrant safe: on_fill may send orders)."""
        if self._busy:
            return
        self._busy = True
        try:
            fills = self.tap.fills
            while fills:
                self._fill(*fills.popleft())
            opens = self.cache.open_orders(self.sym) if self.cache._open else []
            self.resting = bool(opens)
            if opens:
                buys = [float(o.price) for o in opens if o.side is SIDE.BUY and o.price is not None]
                sells = [float(o.price) for o in opens if o.side is SIDE.SELL and o.price is not None]
                self.best_buy = max(buys) if buys else -np.inf
                self.best_sell = min(sells) if sells else np.inf
        finally:
            self._busy = False
        trim_trade_ids(self.pf, self.journal, self.journal.window)

    def _state(self) -> tuple[Decimal, Decimal, Decimal, Decimal | None]:
        """Cash, size, entry and liquidation price right after a fill (read as the fill is journalled)."""
        pos = self.pf.positions[self.sym]
        liq = (pos.liquidation_price(self.inst.maintenance_rate)
               if pos.size < ZERO or (pos.size > ZERO and self.long_liquidates) else None)
        return self.pf.cash, pos.size, pos.entry_price, liq

    def _fill(self, f: Fill, state: tuple[Decimal, Decimal, Decimal, Decimal | None]) -> None:
        cash_d, psize, entry, liq = state
        buy = f.side is SIDE.BUY
        qm = self.qm
        # A Decimal -> float goes through text: each one read here is converted once, and not at all where
        # the float is known already (every conversion gives the float the plain `float()` would).
        qty = float(f.size)
        size = (1 if buy else -1) * qty * qm
        # a market fill is at the venue's price, the very Decimal `price()` made from the float self.px
        price = self.px if f.price is self.dpx and self.px is not None else float(f.price)
        fee = float(f.fee) if f.fee else 0.0
        self.side = side = 1 if psize > ZERO else -1 if psize < ZERO else 0
        if not side:
            units = 0.0
        elif abs(psize) == f.size:  # opened from flat by this fill (or flipped to its size)
            units = (qty if side > 0 else -qty) * qm
        else:
            units = float(psize) * qm
        self.units = units
        # the venue's rule (isolated margin = entry notional / leverage, scaled on reduces): the bar is
        # fed to the venue, which liquidates by its own state, when its range comes within 1e-9 of this
        self.liq = float(liq) * (1 + 1e-9 * side) if liq else None
        cash = float(cash_d)
        cid = f.client_id
        self._episode(size, price, fee, cash, liquidation=not cid)
        self._record_row(cash, units, (price if entry is f.price else float(entry)) if side else 0.0)
        if cid and self.slot is not None:  # the slot's own position, as the runner keeps it live
            self.slot.position += f.size if buy else -f.size
        if cid and self.wants_fills:
            sf = SimFill(cid, f.side.value, abs(size), price, fee, f.ts_ms, self.tags.get(cid, ""))
            self.guard(self.s.on_fill, self.ctx, sf)

    def _record(self) -> None:
        """Portfolio state from the close of the current bar on (or the next, in the close phase)."""
        pos = self.pf.positions.get(self.sym)
        units = float(pos.size) * self.qm if pos is not None else 0.0
        entry = float(pos.entry_price) if pos is not None and pos.size else 0.0
        self._record_row(float(self.pf.cash), units, entry)

    def _record_row(self, cash: float, units: float, entry: float) -> None:
        i = self.i + 1 if self.seg_next else self.i
        if self.seg_i[-1] == i:
            self.seg_cash[-1], self.seg_units[-1], self.seg_entry[-1], self.seg_side[-1] = cash, units, entry, self.side
        else:
            self.seg_i.append(i)
            self.seg_cash.append(cash)
            self.seg_units.append(units)
            self.seg_entry.append(entry)
            self.seg_side.append(self.side)

    def _episode(self, size: float, price: float, fee: float, cash: float, *, liquidation: bool) -> None:
        pos_after = self.units
        pos_before = pos_after - size
        if self.ep is None and abs(pos_before) < 1e-15 and size != 0:
            self.ep = {"i": self.i, "side": 1 if size > 0 else -1, "qin": 0.0, "vin": 0.0, "qout": 0.0, "vout": 0.0,
                       "fees": 0.0, "start": cash + fee, "fund0": self.fund_total}
        ep = self.ep
        if ep is None:
            return
        ep["fees"] += fee
        if abs(pos_after) > abs(pos_before):
            ep["qin"] += abs(size)
            ep["vin"] += abs(size) * price
        else:
            ep["qout"] += abs(size)
            ep["vout"] += abs(size) * price
        if self.side == 0:
            self._close_episode("liquid" if liquidation else self.reason, self.i, cash)

    def _close_episode(self, reason: str, i: int, total: float, exit_px: float | None = None) -> None:
        ep = self.ep
        assert ep is not None
        xp = exit_px if exit_px is not None else (ep["vout"] / ep["qout"] if ep["qout"] else 0.0)
        self.trades.append(ep["i"], i, ep["side"], ep["vin"] / ep["qin"] if ep["qin"] else 0.0, xp, ep["qin"],
                           total - ep["start"], ep["fees"], -(self.fund_total - ep["fund0"]), reason, total)
        self.ep = None

    def guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (StrategyError, ValidationError):
            raise
        except Exception as exc:
            raise StrategyError(
                f"strategy {self.s.label()} raised {type(exc).__name__}: {exc} at {where(exc, self.s)}",
                hint="fix the strategy file; the run was not stored",
            ) from exc

    # -- the bar loop ------------------------------------------------------------------------
    def run(self) -> Result:
        b = self.bars
        n = len(b)
        # memoryviews of the columns: indexing gives the same Python floats/ints as tolist(), without
        # building (and freeing) a million objects per column up front (most bars are never read)
        t = col(b.time_ms, "q")
        o, h, lo, c, v = (col(x, "d") for x in (b.open, b.high, b.low, b.close, b.volume))
        tf = int(np.median(np.diff(b.time_ms))) if n > 1 else 60_000
        fund = col(funding_rates(b.time_ms, self.cfg.funding), "d")  # the fast engine's mapping
        hooks = self.hooks
        sig: Sequence[float] = []
        raw = np.zeros(0)
        if not hooks:  # the strategy's signals, once; the loop reads the one of the previous close
            raw = np.sign(run_signals(self.s, b))
            if not self.cfg.allow_short:
                raw[raw < 0] = 0.0
            sig = col(raw, "d")
            self.targeting = True
        stops = bool(self.stop or self.take)
        tf3 = max(tf // 3, 1)
        sym, tfs = self.sym, label(b.timeframe)
        runner = self.runner
        slot = runner.add(self.s, sym, tfs, name=self.slot_name, budget=StrategyBudget(),
                          allow_short=self.cfg.allow_short, start=True)  # on_start, through the runner's guard
        self.slot = slot
        self._halted(slot)
        on_bar, running = runner.on_bar, SlotState.RUNNING
        self.at(t[0] + tf - 1)
        self.seg_next = True
        if hooks:
            on_bar(Bar(sym, tfs, t[0], o[0], h[0], lo[0], c[0], v[0]))
            if slot.state is not running:
                self._halted(slot)
        self.seg_next = False
        # Quiet bars are skipped: with no hooks, no stops, nothing resting or pending, no liquidation price
        # and the signal agreeing with the position, a bar can only do something when the signal of the
        # previous close turns (act_at[side]) or funding settles on the position (fund_at).
        skip = self.skip_quiet and not hooks and not stops
        act_at: dict[int, list[int]] = {}  # side -> bars whose previous close asks for another side
        if skip:
            prev = raw[:-1]
            known = ~np.isnan(prev)
            fund_at = np.flatnonzero(np.asarray(fund) != 0).tolist()
        i = 0
        while True:
            i += 1
            if skip and self.desired == self.side and not (self.resting or self.pending or self.blocked) and (
                    self.side == 0 or self.liq is None):
                side = self.side
                nxt = act_at.get(side)
                if nxt is None:  # a list: bisect on it is several times cheaper than numpy's searchsorted on one value
                    nxt = act_at[side] = (np.flatnonzero(known & (prev != side)) + 1).tolist()
                k = bisect_left(nxt, i)
                j = nxt[k] if k < len(nxt) else n
                if side and fund_at:
                    k = bisect_left(fund_at, i)
                    if k < len(fund_at):
                        j = min(j, fund_at[k])
                i = j
            if i >= n:
                break
            self.i = i
            if not hooks:
                s = sig[i - 1]
                if s == s:
                    self.desired = int(s)
                    if s:
                        self.blocked = False
            # open: what the previous close asked for
            if self.skipped != self.desired:  # the target changed: a new segment
                self.skipped = 0
            want = 0 if self.blocked or self.skipped else self.desired
            if self.resting or self.pending or (self.targeting and want != self.side):
                self.at(t[i])
                self._open(i, o[i], want)
            # intrabar: stops, liquidation, resting orders
            if self.side:
                liq = self.liq
                if (stops and self.ep is not None) or (
                        liq is not None and (lo[i] <= liq if self.side > 0 else h[i] >= liq)):
                    self.at(t[i] + 1)
                    self._intrabar(i, o[i], h[i], lo[i], c[i], tf3)
            if self.resting and (lo[i] <= self.best_buy or h[i] >= self.best_sell):
                self.at(t[i] + 1)
                self._path(i, o[i], h[i], lo[i], c[i], tf3)
            # close: funding, then the strategy sees the bar
            if fund[i] and self.side:
                self.at(t[i] + tf - 1)
                self._funding(i, fund[i], c[i])
            if hooks:
                self.at(t[i] + tf - 1)
                self.seg_next = True
                on_bar(Bar(sym, tfs, t[i], o[i], h[i], lo[i], c[i], v[i]))  # the runner's dispatch and guard
                if slot.state is not running:
                    self._halted(slot)
                self.seg_next = False
        runner.stop(slot.name)  # on_stop, guarded; the slot's state is journalled like a live one
        self._halted(slot)
        equity, position = self._curves(b)
        if self.ep is not None:  # still open: marked to the last close, no exit fee
            self._close_episode("end", n - 1, float(equity[-1]), exit_px=c[-1])
        tr = self.trades.table(TRADE_DTYPE)
        notes = [m for _, m in self.logs[:20]]
        if self.denied:
            notes.append(f"{self.denied} order(s) denied by the risk gate (see the notes above)")
        return Result(strategy=self.s.label(), params=dict(self.s.params), config=self.cfg, time_ms=b.time_ms,
                      close=b.close, equity=equity, position=position, trades=tr, engine="event", timeframe_ms=tf,
                      symbol=b.symbol, timeframe=b.timeframe, rejected=self.rejected, notes=notes)

    def _halted(self, slot: Slot) -> None:
        """The runner halted the strategy (a hook raised): the run fails with the runner's file:line."""
        if slot.error:
            raise StrategyError(f"strategy {self.s.label()}: {slot.error}",
                                hint="fix the strategy file; the run was not stored")

    def _curves(self, b: Bars) -> tuple[np.ndarray, np.ndarray]:
        """Equity at every close and the side held, from the state recorded at each change."""
        n = len(b)
        k = np.searchsorted(np.frombuffer(self.seg_i, dtype=np.int64), np.arange(n), side="right") - 1
        cash = np.frombuffer(self.seg_cash)[k]
        units = np.frombuffer(self.seg_units)[k]
        entry = np.frombuffer(self.seg_entry)[k]
        equity = cash + units * (b.close - entry)
        position = np.frombuffer(self.seg_side, dtype=np.int8)[k]
        return equity, position

    def _open(self, i: int, o: float, want: int) -> None:
        if self.resting:  # gaps fill resting orders at the open
            self.reason = "order"
            self.price(o)
        self.reason = "signal"
        if self.targeting and want != self.side:
            if self.side != 0:
                self.market(ZERO, o * (1 - self.slip * self.side), close=True)
            if want != 0:
                p = o * (1 + self.slip * want)
                size = self._within_leverage(self.inst.round_size(to_decimal(want * self.units_for(p) / self.qm)), p)
                if size != ZERO:
                    self.market(size, p)
                else:  # not even one contract (size step) affordable: sit this segment out
                    self.skipped = want
        pending, self.pending = self.pending, []
        for qty, tag in pending:
            size = self.inst.round_size(to_decimal(qty / self.qm))
            if size != ZERO:
                self.market(size, o * (1 + self.slip * (1 if qty > 0 else -1)), tag=tag)

    def _intrabar(self, i: int, o: float, h: float, lo: float, c: float, tf3: int) -> None:
        """Stops/takes (pessimistic: the stop first), then liquidation along the bar's path."""
        side, ep = self.side, self.ep
        if (self.stop or self.take) and ep is not None:
            p = ep["vin"] / ep["qin"]
            first = ep["i"] == i
            if side > 0:
                sp = p * (1 - self.stop) if self.stop else None
                tp = p * (1 + self.take) if self.take else None
                hit_s, hit_t = sp is not None and lo <= sp, tp is not None and h >= tp
            else:
                sp = p * (1 + self.stop) if self.stop else None
                tp = p * (1 - self.take) if self.take else None
                hit_s, hit_t = sp is not None and h >= sp, tp is not None and lo <= tp
            if hit_s and sp is not None:
                px = sp if first else (min(o, sp) if side > 0 else max(o, sp))
                self.reason = "stop"
                self.market(ZERO, px * (1 - self.slip * side), close=True)
                self.blocked = True
            elif hit_t and tp is not None:
                px = tp if first else (max(o, tp) if side > 0 else min(o, tp))
                self.reason = "take"
                self.market(ZERO, px, close=True)
                self.blocked = True
            self.reason = "signal"
        liq = self.liq
        if self.side and liq is not None and (lo <= liq if self.side > 0 else h >= liq):
            self._path(i, o, h, lo, c, tf3)

    def _path(self, i: int, o: float, h: float, lo: float, c: float, tf3: int) -> None:
        """The bar's path through the venue: resting orders fill, liquidation triggers."""
        self.reason = "order"
        t0 = int(self.bars.time_ms[i])
        self.price(o)
        for k, px in enumerate((lo, h) if c >= o else (h, lo), start=1):
            self.at(t0 + k * tf3)
            self.price(px)
        self.price(c)
        self.reason = "signal"

    def _funding(self, i: int, rate: float, close: float) -> None:
        """One funding settlement at this close: the venue's wallet and the portfolio's cash."""
        now = self.clock.now_ms()
        amount = self.venue.apply_funding(self.sym, to_decimal(rate), now, mark=to_decimal(close))
        self.pf.apply_funding(self.sym, to_decimal(rate), to_decimal(close), now)
        self.om.apply_events_now()
        self.fund_total += float(amount)
        self._record()


def run_event(strategy: Strategy, bars: Bars, cfg: RunConfig, sim: Callable[..., Any] | None = None, *,
              hooks: bool | None = None, limits: RiskLimits | None = None) -> Result:
    """Replay `bars` through `strategy` and the engine path over the simulated venue made by `sim`.

    `sim(instruments, clock, **venue_kw)` returns the Execution port over a fresh in-process venue
    (`VenueExecution.with_venue`); it comes from the caller because the engine layer never imports
    adapters. `hooks=None`: vectorised strategies run on their signals, event-only ones on their
    hooks; `hooks=True` forces the strategy's own `on_bar`. `limits`: the risk gate's limits
    (default `backtest_limits(cfg)`)."""
    cfg.check()
    if sim is None:
        raise ValidationError("the event engine needs the simulated venue",
                              hint="run it through `cashup backtest run --engine event`")
    if len(bars) < 2:
        raise DataError(f"only {len(bars)} bar(s): a backtest needs at least 2")
    use_hooks = (not strategy.vectorised) if hooks is None else bool(hooks or not strategy.vectorised)
    engine = EventEngine(strategy, bars, cfg, sim, use_hooks, limits or backtest_limits(cfg))
    # The run keeps every order, fill and journal line alive (tens of thousands of objects, few cycles):
    # the cyclic collector would rescan them all again and again (~12% of the run). Paused, then restored.
    was = gc.isenabled()
    gc.disable()
    try:
        return engine.run()
    finally:
        if was:
            gc.enable()
