"""Portfolio slots: one portfolio strategy (`engine/panel.py`) trading several symbols live, in paper,
demo, testnet and live, through the same risk gate and order manager as one-symbol slots.

Why: the class a backtest runs is the class that trades. The slot builds one closed bar per symbol
(a `BarBuilder` each, same timeframe) and keeps every symbol's closed bars since its first warm-up bar.
When every symbol has closed the same bar, it stacks them into a `Panel` (a symbol that printed no
price in a bucket gets a flat bar at its last close, so the grids stay equal; after a longer gap, when
the slot was stopped or the feed down, its bars start again and it decides once it has `warmup()` bars
again: no decision on made-up prices), calls `run_weights`
and `check_weights` exactly as the backtest engines do, and, when the last element of the rebalance
mask is set, trades its slice of the account to the last row: the backtest's "decided at bar t's
close, executed at the next open" with a market order sent right after the close.

Its slice: capital = its size (`order_notional`, USDT) + its own net PnL; symbol i's target is
w_i x capital / (mark_i x quanto multiplier) contracts, rounded toward zero to the size step (below
the minimum size: left as is). Orders that only reduce a position are reduce-only and go first. No
new rebalance is sent while an earlier one is still working. Positions, PnL and funding are kept per
symbol from the slot's own fills (a restart replays them from the journal, as one-symbol slots do).

The rebalance schedule counts from the slot's first bar, like a backtest over the same bars (a
restart counts again from its new warm-up). A strategy that raises, returns NaN or weights over the
leverage limit halts this slot only (its error names file:line, or the symbol and bar), nothing traded.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.domain.errors import CashupError, StrategyError, ValidationError
from cashup_tui.domain.market import Bar, Ticker
from cashup_tui.domain.orders import Fill, Order
from cashup_tui.domain.positions import Position
from cashup_tui.domain.timeframes import timeframe_ms
from cashup_tui.engine.panel import Panel, PortfolioStrategy, panel_from_bars, run_weights
from cashup_tui.engine.risk import StrategyBudget
from cashup_tui.engine.runner import BarBuilder, Slot, SlotState
from cashup_tui.engine.strategy import Bars, Strategy, StrategyFill

if TYPE_CHECKING:
    from cashup_tui.engine.runner import StrategyRunner

log = logging.getLogger("cashup.engine.portfolio_slot")
ZERO = Decimal(0)
FILL_MAX = 3  # missing buckets filled with flat bars; a longer gap (stopped, feed down) starts the bars again
MAX_BARS = 20_000  # closed bars kept per symbol (at least 4x what the strategy needs)
LISTENING = (SlotState.RUNNING, SlotState.PAUSED)  # a paused slot keeps its bars, so it can decide on resume
FetchBars = Callable[[str, str, int, int], Awaitable[list[Bar]]]


def history_bars(strategy: PortfolioStrategy, timeframe: str) -> int:
    """Bars a decision needs: the strategy's warm-up plus two buckets of its longest informative timeframe
    (a higher bar is visible only once complete and closed)."""
    base = timeframe_ms(timeframe)
    ratio = max((timeframe_ms(tf) // base for tf in strategy.informative), default=0)
    return int(strategy.warmup()) + 2 * int(ratio) + 2


class Series:
    """One symbol's closed bars on a contiguous grid (a missing bucket becomes a flat bar at the last close)."""

    def __init__(self, tf_ms: int) -> None:
        self.tf_ms = tf_ms
        self.time = array("q")
        self.cols = {c: array("d") for c in ("open", "high", "low", "close", "volume")}

    def __len__(self) -> int:
        return len(self.time)

    @property
    def last_ms(self) -> int:
        return self.time[-1] if self.time else -1

    def _put(self, t: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        self.time.append(t)
        for col, x in zip(self.cols.values(), (o, h, lo, c, v), strict=True):
            col.append(x)

    def append(self, bar: Bar) -> bool:
        if bar.open_ms <= self.last_ms:
            return False  # a bar already held (warm-up overlap) or a late one
        if self.time:
            gap = (bar.open_ms - self.last_ms) // self.tf_ms - 1
            if gap > FILL_MAX:  # not a quiet bucket but time the slot did not listen: start again
                self.trim(0)
            else:
                last = self.cols["close"][-1]
                for _ in range(int(gap)):
                    self._put(self.last_ms + self.tf_ms, last, last, last, last, 0.0)
        self._put(bar.open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)
        return True

    def load(self, history: list[Bar]) -> None:
        """Older bars put before the ones held (a live bar may have closed while the history was fetched)."""
        held = [Bar("", "", t, *row) for t, *row in zip(self.time, *self.cols.values(), strict=True)]
        self.trim(0)
        for b in history:
            if not held or b.open_ms < held[0].open_ms:
                self.append(b)
        for b in held:
            self.append(b)

    def trim(self, keep: int) -> None:
        cut = max(0, len(self.time) - keep)
        if cut:
            del self.time[:cut]
            for col in self.cols.values():
                del col[:cut]

    def bars(self, start_ms: int, end_ms: int, symbol: str, timeframe: str) -> Bars:
        t = np.frombuffer(self.time, dtype=np.int64)
        i, j = int(np.searchsorted(t, start_ms, "left")), int(np.searchsorted(t, end_ms, "right"))
        cols = [np.frombuffer(self.cols[c], dtype=np.float64)[i:j] for c in ("open", "high", "low", "close", "volume")]
        return Bars.from_arrays(t[i:j], *cols, symbol=symbol, timeframe=timeframe)


@dataclass
class PortfolioSlot(Slot):
    """A running portfolio strategy: its symbols, their bars, and its own book per symbol."""

    portfolio: ClassVar[bool] = True
    symbols: tuple[str, ...] = ()
    leverage: float = 1.0  # the weights' gross limit (sum |w| per row), as the backtest's --leverage
    builders: dict[str, BarBuilder] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    books: dict[str, Position] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)  # the last decided row of weights
    target_contracts: dict[str, Decimal] = field(default_factory=dict)  # what the last rebalance aimed at
    decided_ms: int = -1  # open time of the last bar every symbol had closed
    rebalances: int = 0
    skipped: int = 0  # rebalance bars passed over because orders of the one before were still working
    max_bars: int = MAX_BARS

    @property
    def traded_symbols(self) -> tuple[str, ...]:
        return self.symbols

    def record(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "leverage": self.leverage,
                "funding_by_symbol": {s: str(b.funding) for s, b in self.books.items()}}

    # -- bars -----------------------------------------------------------------------------------
    def on_ticker(self, runner: StrategyRunner, t: Ticker) -> None:
        b = self.builders.get(t.symbol)
        if b is None or self.state not in LISTENING:
            return
        closed = b.update(t.last, t.ts_ms)
        if closed is not None:
            self.on_bar(runner, closed)

    def on_bar(self, runner: StrategyRunner, bar: Bar) -> None:
        """A closed bar of one symbol; once every symbol has closed it, the slot decides."""
        s = self.series.get(bar.symbol)
        if s is None or self.state not in LISTENING or not s.append(bar):
            return
        if len(s) > 2 * self.max_bars:
            s.trim(self.max_bars)
        horizon = min(x.last_ms for x in self.series.values())
        if horizon <= self.decided_ms:
            return
        self.decided_ms = horizon
        self.bars_seen += 1
        if self.state is SlotState.RUNNING and runner.om.ready and self.warm():
            self.decide(runner)

    def warm(self) -> bool:
        """Enough common bars for a decision (the strategy's `warmup()`; at least 2)."""
        start = max(x.time[0] for x in self.series.values())
        n = min(len(x) - int(np.searchsorted(np.frombuffer(x.time, dtype=np.int64), start)) for x in self.series.values())
        return n >= max(2, int(self.strategy.warmup()))

    def panel(self) -> Panel:
        """The symbols' common closed bars, from the latest first bar to the last bar all have closed."""
        start = max(x.time[0] for x in self.series.values())
        return panel_from_bars([self.series[s].bars(start, self.decided_ms, s, self.timeframe) for s in self.symbols])

    def warm_up(self, bars: dict[str, list[Bar]]) -> int:
        """Recent closed bars per symbol, loaded before the first live bar (no decision is taken on them)."""
        for sym in self.symbols:
            self.series[sym].load(bars.get(sym, []))
        if all(len(x) for x in self.series.values()):
            self.decided_ms = max(self.decided_ms, min(x.last_ms for x in self.series.values()))
            return len(self.panel())
        return 0

    # -- the decision -----------------------------------------------------------------------------
    def weights(self) -> tuple[Panel, np.ndarray, np.ndarray]:
        """The strategy's weights and rebalance mask on the current panel, checked as a backtest checks them."""
        from cashup_tui.engine.backtest.model import RunConfig
        from cashup_tui.engine.backtest.panel_model import check_weights

        strategy = self.strategy
        assert isinstance(strategy, PortfolioStrategy)
        panel = self.panel()
        w, mask = run_weights(strategy, strategy.prepare(panel))
        check_weights(w, panel, RunConfig(leverage=self.leverage, allow_short=self.allow_short), strategy.label())
        return panel, w, mask

    def guarded_weights(self, runner: StrategyRunner) -> tuple[Panel, np.ndarray, np.ndarray] | None:
        """`weights()`, or None with the slot halted: a raising strategy names its own file:line, a refused
        row the symbol and the bar. The targets shown are the last row's."""
        try:
            panel, w, mask = self.weights()
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc, StrategyError) and exc.__cause__ is not None else None
            runner.halt(self, "weights", cause or exc, None if cause else getattr(self.strategy, "source_path", "?"))
            return None
        self.targets = {s: float(x) for s, x in zip(self.symbols, w[-1], strict=True)}
        return panel, w, mask

    def decide(self, runner: StrategyRunner) -> None:
        got = self.guarded_weights(runner)
        if got is None:
            return
        panel, w, mask = got
        if not bool(mask[-1]):
            return
        if self.pending:
            self.skipped += 1
            log.warning("[%s] rebalance at bar %d skipped: earlier orders still working", self.name, len(panel) - 1)
            return
        self.rebalances += 1
        self.rebalance(runner, w[-1])

    def rebalance(self, runner: StrategyRunner, row: Sequence[float]) -> list[Order]:
        """Orders that bring each symbol to its weight of the slot's capital (reducing ones first)."""
        om = runner.om
        capital = max(ZERO, self.order_notional + self.pnl(runner)["net_pnl"])
        orders: list[Order] = []
        for sym, wt in zip(self.symbols, row, strict=True):
            inst = runner.instruments[sym]
            mark = om.cache.mark(sym)
            if mark is None or mark <= 0:
                log.warning("[%s] no price for %s: its rebalance waits", self.name, sym)
                continue
            want = inst.round_size(Decimal(repr(float(wt))) * capital / (mark * inst.quanto_multiplier))
            self.target_contracts[sym] = want
            held = self.books[sym].size
            delta = want - held
            if delta == 0 or abs(delta) < inst.min_size:
                continue
            reduce_only = held != 0 and (delta > 0) != (held > 0) and abs(delta) <= abs(held)
            try:
                orders.append(om.build(sym, Side.BUY if delta > 0 else Side.SELL, abs(delta),
                                       order_type=OrderType.MARKET, reduce_only=reduce_only, strategy=self.name))
            except CashupError as exc:
                log.warning("[%s] %s order not built: %s", self.name, sym, exc)
        orders.sort(key=lambda o: not o.reduce_only)
        for o in orders:
            self.pending.add(o.client_id)
            self.orders_sent += 1
        if orders:
            runner._spawn(self._submit_all(runner, orders))
        return orders

    async def _submit_all(self, runner: StrategyRunner, orders: list[Order]) -> None:
        for o in orders:  # one after the other: a reduction frees margin before the next opens
            await runner._submit(self, o)

    # -- fills, funding, PnL ----------------------------------------------------------------------
    def on_fill(self, runner: StrategyRunner, fill: Fill) -> None:
        book = self.books.get(fill.symbol)
        if book is None:
            return
        book.apply_fill(fill)
        self.fills += 1
        if self.state is SlotState.RUNNING:
            qm = runner.instruments[fill.symbol].quanto_multiplier
            sf = StrategyFill(fill.client_id, fill.side.value, float(fill.size * qm), float(fill.price),
                              float(fill.fee), fill.ts_ms, self.name)
            runner._guard(self, "on_fill", lambda: self.strategy.on_fill(runner._ctx[self.name], sf))

    def book_of(self, symbol: str) -> Position | None:
        return self.books.get(symbol)

    def pnl(self, runner: StrategyRunner) -> dict[str, Decimal]:
        out = dict.fromkeys(("realised_pnl", "unrealised_pnl", "fees", "funding", "net_pnl"), ZERO)
        for leg in self.legs(runner, capital=False):
            for k in out:
                out[k] += leg[k]
        return {"entry_price": ZERO, **out}

    def legs(self, runner: StrategyRunner, *, capital: bool = True) -> list[dict[str, Any]]:
        """Per symbol: target weight and contracts, held contracts and their weight of the capital, PnL."""
        rows: list[dict[str, Any]] = []
        for sym in self.symbols:
            book = self.books[sym]
            mark = runner.om.cache.mark(sym)
            unreal = book.unrealized_pnl(mark) if mark is not None else ZERO
            rows.append({"symbol": sym, "target_weight": self.targets.get(sym, 0.0),
                         "target": self.target_contracts.get(sym, ZERO), "position": book.size,
                         "entry_price": book.entry_price, "mark": mark, "realised_pnl": book.realized_pnl,
                         "unrealised_pnl": unreal, "fees": book.fees, "funding": book.funding,
                         "net_pnl": book.realized_pnl + unreal - book.fees + book.funding})
        if capital:
            cap = self.order_notional + sum((r["net_pnl"] for r in rows), ZERO)
            for r in rows:
                inst = runner.instruments[r["symbol"]]
                notional = r["position"] * inst.quanto_multiplier * (r["mark"] or ZERO)
                r["weight"] = float(notional / cap) if cap > 0 else 0.0
        return rows


def add_portfolio(runner: StrategyRunner, strategy: Strategy, symbols: Sequence[str], timeframe: str = "1m",
                  *, name: str | None = None, order_notional: Decimal = Decimal(1000),
                  budget: StrategyBudget | None = None, allow_short: bool = True, leverage: float = 1.0,
                  start: bool = False, keep: bool = False) -> PortfolioSlot:
    """A portfolio slot on `symbols` (see the module); the rest as `StrategyRunner.add`."""
    if not isinstance(strategy, PortfolioStrategy):
        raise ValidationError(f"{strategy.label()} trades one symbol, not a portfolio",
                              hint="start it on one symbol (--symbol); one slot per symbol")
    syms = tuple(symbols)
    if not syms or len(set(syms)) != len(syms):
        raise ValidationError(f"a portfolio strategy needs distinct symbols, got {','.join(syms) or '(none)'}",
                              hint="e.g. --symbols BTC_USDT,ETH_USDT,SOL_USDT")
    unknown = [s for s in syms if s not in runner.instruments]
    if unknown:
        raise CashupError(f"unknown symbol(s) {', '.join(unknown)}",
                          hint=f"known: {', '.join(sorted(runner.instruments)[:20])}")
    if not (0 < leverage <= 125):
        raise ValidationError(f"leverage {leverage} must be in (0, 125]")
    tf_ms = timeframe_ms(timeframe)
    name = name or f"{strategy.label()}-{syms[0]}+{len(syms) - 1}"
    # at least what one decision needs, so a long-lookback strategy is never cut short
    keep_bars = max(MAX_BARS, 4 * history_bars(strategy, timeframe))
    slot = PortfolioSlot(name, strategy, ",".join(syms), timeframe, order_notional,
                         budget or StrategyBudget(max_position_notional=order_notional * 2 * Decimal(str(leverage))),
                         allow_short, keep=keep, symbols=syms, leverage=float(leverage), max_bars=keep_bars,
                         builders={s: BarBuilder(s, timeframe) for s in syms}, series={s: Series(tf_ms) for s in syms})
    saved = runner.claim(slot, start)
    funding = saved.get("funding_by_symbol") or {}
    for sym in syms:
        book, n = runner._book_from_fills(name, sym, saved)
        if not runner.fresh_venue:
            book.funding += Decimal(str(funding.get(sym) or 0))
        slot.books[sym] = book
        slot.fills += n
    return runner.register(slot)  # type: ignore[return-value]


async def warm_up(runner: StrategyRunner, slot: PortfolioSlot, fetch: FetchBars, count: int, now_ms: int) -> int:
    """Load `count` (at least what a decision needs) recent closed bars of each symbol through `fetch`,
    then compute the weights once on them (nothing traded): a strategy that cannot run on these symbols
    (a parameter that needs more of them, a bad row) halts now, not at the first live bar an hour later."""
    assert isinstance(slot.strategy, PortfolioStrategy)
    n = max(count, history_bars(slot.strategy, slot.timeframe))
    bars = {s: await fetch(s, slot.timeframe, n, now_ms) for s in slot.symbols}
    loaded = slot.warm_up(bars)
    if loaded and slot.state is SlotState.RUNNING and slot.warm():
        slot.guarded_weights(runner)
    return loaded
