"""Pre-trade risk gate, trading states and the graded kill switch.

Why: every submit and amend passes here first, in a fixed order of checks, and
a denial (`RiskDenied(rule, message, **numbers)`) never reaches the venue. Nothing is
rounded silently: over-precise prices or sizes are refused with the nearest valid values.

Trading states (persisted through the journal's key-value table, so a restart keeps
them): ACTIVE; REDUCING (only orders that shrink a position); HALTED (nothing but
cancels). The kill switch is graded, each level doing all the one below does and more
(engine/kill.py carries out the venue actions):
  1 stop entries   -> REDUCING, resting entry orders are cancelled; exits stay
  2 reduce only    -> REDUCING, also every resting order not flagged reduce-only
  3 flatten        -> REDUCING, cancel all and close every position
  4 halt           -> HALTED, as 3, then nothing new is sent; this module
decides and records. Rules (daily loss, drawdown, stale feed, error rate) only escalate;
going back to ACTIVE is an explicit `resume`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from cashup_tui.domain.enums import ORDER_TYPE, TRADING_STATE, OrderType, Side, TradingState
from cashup_tui.domain.errors import RiskDenied
from cashup_tui.domain.events import RiskTripped, TradingStateChanged
from cashup_tui.domain.instruments import Instrument, in_range, to_decimal
from cashup_tui.domain.margin import leverage_refusal
from cashup_tui.domain.orders import Order
from cashup_tui.domain.ports import Clock, EventSink, Journal
from cashup_tui.engine.cache import Cache
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.price_guard import PriceGuard

log = logging.getLogger("cashup.engine.risk")

ZERO = Decimal(0)
HUNDRED = Decimal(100)
STATE_KEY = "risk.state"
KILL_LEVELS = {
    0: "none",
    1: "stop entries",
    2: "reduce only",
    3: "cancel all and flatten",
    4: "flatten and halt",
}
TRIGGER_TYPES = (ORDER_TYPE.STOP_MARKET, ORDER_TYPE.STOP_LIMIT, ORDER_TYPE.TAKE_PROFIT, ORDER_TYPE.TRAILING_STOP)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Account-wide limits (from `[risk]` settings). Notionals in USDT."""

    max_order_notional: Decimal = Decimal(50_000)
    max_position_notional: Decimal = Decimal(100_000)
    max_gross_exposure: Decimal = Decimal(250_000)
    max_leverage: Decimal = Decimal(10)
    price_band_pct: Decimal = Decimal(5)
    max_open_orders: int = 50
    max_orders_per_sec: float = 10.0
    daily_loss_limit: Decimal = Decimal(2_000)
    max_drawdown_pct: Decimal = Decimal(20)
    stale_feed_ms: int = 15_000
    duplicate_window_ms: int = 1_000
    max_errors_per_min: int = 20

    @classmethod
    def from_settings(cls, risk: Any) -> RiskLimits:
        """Build from `settings.RiskSettings` (floats in TOML -> exact Decimals here)."""
        return cls(
            max_order_notional=to_decimal(risk.max_order_notional),
            max_position_notional=to_decimal(risk.max_position_notional),
            max_gross_exposure=to_decimal(risk.max_gross_exposure),
            max_leverage=to_decimal(risk.max_leverage),
            price_band_pct=to_decimal(risk.price_band_pct),
            max_open_orders=int(risk.max_open_orders),
            max_orders_per_sec=float(risk.max_orders_per_sec),
            daily_loss_limit=to_decimal(risk.daily_loss_limit),
            max_drawdown_pct=to_decimal(risk.max_drawdown_pct),
            stale_feed_ms=int(float(risk.stale_feed_s) * 1000),
        )


@dataclass(frozen=True, slots=True)
class StrategyBudget:
    """A strategy's own slice of the limits (None = only the account limits apply)."""

    max_order_notional: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_sec: float | None = None


class TokenBucket:
    """Order-rate limiter: `rate` tokens per second, up to `burst` saved."""

    __slots__ = ("burst", "rate", "tokens", "ts_ms")

    def __init__(self, rate: float, burst: float | None = None, now_ms: int = 0) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.tokens = self.burst
        self.ts_ms = now_ms

    def _refill(self, now_ms: int) -> None:
        if now_ms > self.ts_ms:
            if self.tokens < self.burst:  # (== min(burst, tokens + earned), without the builtin call per order)
                t = self.tokens + (now_ms - self.ts_ms) / 1000.0 * self.rate
                self.tokens = t if t < self.burst else self.burst
            self.ts_ms = now_ms

    def available(self, now_ms: int) -> float:
        self._refill(now_ms)
        return self.tokens

    def take(self, now_ms: int) -> bool:
        self._refill(now_ms)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class RiskStatus:
    state: TradingState = TRADING_STATE.ACTIVE
    kill_level: int = 0
    reason: str = ""
    since_ms: int = 0
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "kill_level": self.kill_level, "reason": self.reason,
                "since_ms": self.since_ms, "source": self.source}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RiskStatus:
        return cls(TradingState(d.get("state", "active")), int(d.get("kill_level", 0)), str(d.get("reason", "")),
                   int(d.get("since_ms", 0)), str(d.get("source", "")))


class _Recent(NamedTuple):
    key: tuple[str, str, Side, OrderType, Decimal, Decimal | None, bool]
    ts_ms: int


def _working(orders: Collection[Order], order: Order, *, entries_only: bool = False) -> Decimal:
    """Remaining size of the other working orders on `order`'s symbol and side (`entries_only`: not
    reduce-only), from every open order in any order: sizes are exact Decimals far inside the context's
    precision, so the sum does not depend on the order it is taken in (no sort, no list per check)."""
    total = ZERO
    if orders:
        symbol, side, cid = order.symbol, order.side, order.client_id
        for o in orders:
            if o.side is side and o.symbol == symbol and o.client_id != cid and not (entries_only and o.reduce_only):
                total += o.remaining
    return total


@dataclass(slots=True)
class RiskEngine:
    """The gate. Reads positions from the portfolio, marks and open orders from the cache."""

    limits: RiskLimits
    instruments: Mapping[str, Instrument]
    portfolio: Portfolio
    cache: Cache
    clock: Clock
    journal: Journal
    bus: EventSink | None = None
    budgets: dict[str, StrategyBudget] = field(default_factory=dict)
    status: RiskStatus = field(default_factory=RiskStatus)
    reconciling: bool = False  # set by the order manager until start-up/reconnect reconciliation is done
    on_kill: Callable[[int, str], Any] | None = None  # the order manager's executor of level actions
    price_guard: PriceGuard | None = None  # mark vs book mid / index (engine/price_guard.py); None = off
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _recent: deque[_Recent] = field(default_factory=lambda: deque(maxlen=256))
    _errors: deque[int] = field(default_factory=lambda: deque(maxlen=1024))
    stale_symbols: set[str] = field(default_factory=set)
    denials: int = 0
    _dry: bool = False
    _saved_pf_state: dict[str, Any] | None = None

    # -- persistence ------------------------------------------------------------------
    def load(self) -> RiskStatus:
        """Restore the trading state saved by a previous run (HALTED survives a restart)."""
        saved = self.journal.kv_get(STATE_KEY)
        if saved:
            self.status = RiskStatus.from_json(saved)
        pf_state = self.journal.kv_get("portfolio.state")
        if pf_state:
            self.portfolio.restore_state(pf_state)
        return self.status

    def save_portfolio_state(self) -> None:
        """Persist day start and peak equity, only when they changed: this runs every second on the
        event loop, and a synchronous=FULL commit (an fsync) each time stalled the UI."""
        state = self.portfolio.state()
        if state != self._saved_pf_state:
            self.journal.kv_set("portfolio.state", state)
            self._saved_pf_state = state

    # -- state changes ----------------------------------------------------------------
    @property
    def state(self) -> TradingState:
        return self.status.state

    def set_kill_level(self, level: int, reason: str, *, source: str = "api", escalate_only: bool = False) -> bool:
        """Move to kill level 0..4 (0 = ACTIVE). Persisted and published. Returns True if it changed."""
        if level not in KILL_LEVELS:
            raise RiskDenied("kill_level", f"kill level must be 0..4, got {level}", level=level)
        if escalate_only and level <= self.status.kill_level:
            return False
        if level == self.status.kill_level and reason == self.status.reason:
            return False
        old = self.status.state
        new = TRADING_STATE.ACTIVE if level == 0 else TRADING_STATE.HALTED if level == 4 else TRADING_STATE.REDUCING
        now = self.clock.now_ms()
        self.status = RiskStatus(new, level, reason, now, source)
        self.journal.kv_set(STATE_KEY, self.status.to_json())
        self.journal.record_risk_event(now, "state", f"kill_level_{level}", reason,
                                       {"old": old.value, "new": new.value, "source": source})
        self.journal.audit(now, source, "risk.kill" if level else "risk.resume", f"level={level} reason={reason}")
        log.warning("trading state %s -> %s (kill level %d: %s) by %s: %s", old.value, new.value, level,
                    KILL_LEVELS[level], source, reason)
        if self.bus is not None:
            if old is not new:
                self.bus.publish(TradingStateChanged(now, old, new, reason))
            if level:
                self.bus.publish(RiskTripped(now, f"kill_level_{level}", reason, new))
        return True

    def resume(self, reason: str = "resumed", *, source: str = "api") -> bool:
        self.stale_symbols.clear()
        return self.set_kill_level(0, reason, source=source)

    def _trip(self, level: int, rule: str, message: str) -> None:
        if self.set_kill_level(level, f"{rule}: {message}", source="rule", escalate_only=True) and self.on_kill:
            self.on_kill(level, f"{rule}: {message}")

    # -- rule triggers (called by the runtime on timers and events) ---------------------
    def evaluate(self) -> list[str]:
        """Check loss limit and drawdown against current equity; escalate if breached."""
        now = self.clock.now_ms()
        self.portfolio.roll(now)
        self.save_portfolio_state()
        tripped: list[str] = []
        day = self.portfolio.day_pnl()
        if self.limits.daily_loss_limit > 0 and day <= -self.limits.daily_loss_limit:
            self._trip(2, "daily_loss", f"day PnL {day:.2f} <= -{self.limits.daily_loss_limit}")
            tripped.append("daily_loss")
        dd = self.portfolio.drawdown_pct()
        if self.limits.max_drawdown_pct > 0 and dd >= self.limits.max_drawdown_pct:
            self._trip(2, "max_drawdown", f"drawdown {dd:.2f}% >= {self.limits.max_drawdown_pct}%")
            tripped.append("max_drawdown")
        return tripped

    def feed_stale(self, symbol: str, age_ms: int, *, strategy_depends: bool = True) -> None:
        """A stale feed that a live strategy depends on moves trading to REDUCING."""
        self.stale_symbols.add(symbol)
        if strategy_depends:
            self._trip(1, "stale_feed", f"{symbol} silent for {age_ms} ms")

    def feed_fresh(self, symbol: str) -> None:
        self.stale_symbols.discard(symbol)

    def record_error(self, source: str = "venue") -> None:
        """Count venue/adapter errors; too many in a minute stops entries."""
        now = self.clock.now_ms()
        self._errors.append(now)
        while self._errors and self._errors[0] < now - 60_000:
            self._errors.popleft()
        if self.limits.max_errors_per_min and len(self._errors) >= self.limits.max_errors_per_min:
            self._trip(1, "error_rate", f"{len(self._errors)} errors in 60 s (last from {source})")

    # -- the gate ----------------------------------------------------------------------
    def _deny(self, rule: str, message: str, order: Order | None = None, **numbers: Any) -> RiskDenied:
        if self._dry:  # a preview: say what would happen, record nothing
            return RiskDenied(rule, message, **numbers)
        self.denials += 1
        now = self.clock.now_ms()
        nums = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in numbers.items()}
        if order is not None:
            nums.setdefault("client_id", order.client_id)
            nums.setdefault("symbol", order.symbol)
        try:
            self.journal.record_risk_event(now, "denied", rule, message, nums)
        except Exception:  # the journal must not turn a denial into a crash
            log.exception("could not journal a risk denial")
        return RiskDenied(rule, message, **numbers)

    def _reduces(self, order: Order, *, count_working: bool = True) -> bool:
        """True if the order can only shrink the current position. With `count_working`, other working
        orders on the same side use up the position first: two closing orders can never flip it."""
        pos = self.portfolio.positions.get(order.symbol)
        size = pos.size if pos is not None else ZERO
        if size == ZERO:
            return False
        if (size > ZERO) == (order.side.sign > 0):
            return False
        room = abs(size)
        if count_working:
            room -= _working(self.cache.open_unsorted(), order)
        return order.size <= room

    @staticmethod
    def _sane(name: str, value: Any) -> Decimal:
        """Finite, positive, non-zero Decimal (NaN, inf, 0, -0, negatives and floats refused)."""
        if type(value) is not Decimal and (isinstance(value, bool) or not isinstance(value, Decimal | int)):
            if isinstance(value, float) and math.isfinite(value):
                value = Decimal(repr(value))
            else:
                raise RiskDenied("input_sanity", f"{name} {value!r} is not a finite decimal number", field=name,
                                 value=str(value))
        d = value if type(value) is Decimal else Decimal(value)  # (a Decimal is immutable: no copy needed)
        if not in_range(d):  # NaN, inf, or so large (1e1000000) that arithmetic on it overflows
            raise RiskDenied("input_sanity", f"{name} {d} is not finite or out of range", field=name, value=str(d))
        if d.is_signed() or d == ZERO:
            raise RiskDenied("input_sanity", f"{name} {d} must be greater than zero", field=name, value=str(d))
        return d

    def check_submit(self, order: Order, *, amend_of: Order | None = None) -> None:
        """Run every rule for a new order (or the amended order); raise RiskDenied on the first failure.

        Every order of a backtest passes here too, so the hot path reads each attribute once and skips
        the arithmetic of rules that are off (a limit of 0); the rules and their order are the same."""
        now = self.clock.now_ms()
        limits, pf, cache = self.limits, self.portfolio, self.cache
        open_all = cache.open_unsorted()  # summed and counted, never sorted (nothing is put while the gate runs)
        symbol, side = order.symbol, order.side
        reducing = order.reduce_only or self._reduces(order)
        # 1. trading state
        state = self.status.state
        if state is TRADING_STATE.HALTED:
            raise self._deny("trading_state", f"trading is HALTED ({self.status.reason}); only cancels are allowed",
                             order, state="halted", kill_level=self.status.kill_level)
        if state is TRADING_STATE.REDUCING and not reducing:
            raise self._deny("trading_state",
                             f"trading is REDUCING ({self.status.reason}); only orders that reduce a position",
                             order, state="reducing", kill_level=self.status.kill_level)
        # 2. stale data / reconciliation in progress
        if self.reconciling:
            raise self._deny("reconciling", "reconciliation with the venue is in progress; try again shortly", order)
        age = cache.age_ms(symbol, now)
        if age is None:
            raise self._deny("stale_data", f"no market data for {symbol} yet", order, age_ms=None)
        if age > limits.stale_feed_ms or symbol in self.stale_symbols:
            raise self._deny("stale_data", f"market data for {symbol} is {age} ms old",
                             order, age_ms=age, max_age_ms=limits.stale_feed_ms)
        book = cache.book(symbol)
        if book is not None and not book.in_sync:
            raise self._deny("stale_data", f"order book for {symbol} is resyncing", order)
        guard = self.price_guard  # 2b. price sources agree (else the symbol is paused: reducing orders only)
        if guard is not None and (why := guard.check(cache, symbol)) and not reducing:
            raise self._deny("price_sources", f"{why}: {symbol} is paused, only reducing orders", order)
        # 3. input sanity
        order_type = order.order_type
        try:
            size = self._sane("size", order.size)
            price = self._sane("price", order.price) if order.price is not None else None
            trigger = self._sane("trigger_price", order.trigger_price) if order.trigger_price is not None else None
        except RiskDenied as exc:
            raise self._deny(exc.rule, str(exc).removeprefix(f"risk: {exc.rule}: "), order, **exc.numbers) from None
        if price is None and order_type in (ORDER_TYPE.LIMIT, ORDER_TYPE.STOP_LIMIT):
            raise self._deny("input_sanity", f"a {order_type.value} order needs a price", order)
        if trigger is None and order_type in TRIGGER_TYPES and order_type is not ORDER_TYPE.TRAILING_STOP:
            raise self._deny("input_sanity", f"a {order_type.value} order needs a trigger price", order)
        # 4. instrument rules: tick / step (no silent rounding), min/max, status
        inst = self.instruments.get(symbol)
        if inst is None:
            raise self._deny("unknown_symbol", f"{symbol} is not a known contract", order)
        if inst.in_delisting and not reducing:
            raise self._deny("instrument_status", f"{symbol} is being delisted; only reducing orders", order)
        if price is not None or trigger is not None:
            for name, value in (("price", price), ("trigger_price", trigger)):
                if value is not None and not inst.is_price_on_tick(value):
                    raise self._deny("price_tick", f"{name} {value} is not on the tick {inst.price_tick}", order,
                                     value=value, tick=inst.price_tick, nearest_down=inst.round_price(value, "down"),
                                     nearest_up=inst.round_price(value, "up"))
        if not inst.is_size_on_step(size):
            raise self._deny("size_step", f"size {size} is not a whole multiple of {inst.size_step} contracts", order,
                             size=size, step=inst.size_step, nearest=inst.round_size(size))
        if size < inst.min_size or size > inst.max_size:
            raise self._deny("contract_size", f"size {size} outside [{inst.min_size}, {inst.max_size}] contracts",
                             order, size=size, min_size=inst.min_size, max_size=inst.max_size)
        mark = cache.mark(symbol) or pf.mark_of(symbol)
        trailing = order_type is ORDER_TYPE.TRAILING_STOP  # its trigger_price is a distance, not a price
        ref = price if price is not None else trigger if trigger is not None and not trailing else (
            mark if guard is None else guard.reference(cache, symbol, mark))  # no single lying source
        if ref is None:
            raise self._deny("stale_data", f"no mark price for {symbol}", order)
        notional = inst.notional(size, ref)
        strategy = order.strategy
        budget = self.budgets.get(strategy) if strategy else None
        if not reducing:
            # 5. max order notional (account, then the strategy's budget)
            if notional > limits.max_order_notional:
                raise self._deny("max_order_notional", f"order notional {notional:.2f} > {limits.max_order_notional}",
                                 order, notional=notional, limit=limits.max_order_notional)
            if budget and budget.max_order_notional is not None and notional > budget.max_order_notional:
                raise self._deny("budget_order_notional",
                                 f"{strategy}: order notional {notional:.2f} > budget {budget.max_order_notional}",
                                 order, notional=notional, limit=budget.max_order_notional)
            # 6. position after the fill, including working orders on the same side
            pos = pf.positions.get(symbol)
            cur = pos.size if pos is not None else ZERO
            pending = _working(open_all, order, entries_only=True) if open_all else ZERO
            after = cur + side.sign * (size + pending)
            pos_notional = inst.notional(after, ref)
            if pos_notional > limits.max_position_notional:
                raise self._deny("max_position_notional",
                                 f"{symbol} position would be {pos_notional:.2f} > {limits.max_position_notional}",
                                 order, position_after=after, notional=pos_notional,
                                 limit=limits.max_position_notional)
            if budget and budget.max_position_notional is not None and pos_notional > budget.max_position_notional:
                raise self._deny("budget_position_notional",
                                 f"{strategy}: position would be {pos_notional:.2f} > budget {budget.max_position_notional}",
                                 order, notional=pos_notional, limit=budget.max_position_notional)
            # gross exposure after
            gross = pf.gross_exposure(excluding=symbol) + pos_notional
            if gross > limits.max_gross_exposure:
                raise self._deny("max_gross_exposure", f"gross exposure would be {gross:.2f} > {limits.max_gross_exposure}",
                                 order, gross=gross, limit=limits.max_gross_exposure)
            # leverage: gross exposure / equity
            equity = pf.equity()
            lev = gross / equity if equity > ZERO else Decimal("Infinity")
            if lev > limits.max_leverage:
                raise self._deny("max_leverage", f"account leverage would be {lev:.2f}x > {limits.max_leverage}x",
                                 order, leverage=lev, equity=equity, gross=gross, limit=limits.max_leverage)
        # 7. price band against mark (limit prices and trigger prices)
        if mark is not None and (price is not None or (trigger is not None and not trailing)) and mark > ZERO:
            band = limits.price_band_pct
            for name, value in (("price", price), ("trigger_price", None if trailing else trigger)):
                if value is None:
                    continue
                dev = abs(value - mark) / mark * HUNDRED
                if dev > band:
                    lo, hi = mark * (1 - band / HUNDRED), mark * (1 + band / HUNDRED)
                    raise self._deny("price_band", f"{name} {value} is {dev:.2f}% from mark {mark} (band {band}%)",
                                     order, value=value, mark=mark, deviation_pct=dev, band_pct=band,
                                     allowed_low=inst.round_price(lo, "up"), allowed_high=inst.round_price(hi, "down"))
        # 8. open orders (not for an amend: it replaces a working order)
        if amend_of is None:
            if len(open_all) >= limits.max_open_orders:
                raise self._deny("max_open_orders", f"{len(open_all)} open orders (limit {limits.max_open_orders})",
                                 order, open_orders=len(open_all), limit=limits.max_open_orders)
            open_sym = sum(1 for o in open_all if o.symbol == symbol) if open_all else 0
            if open_sym >= inst.orders_limit:
                raise self._deny("max_open_orders", f"{open_sym} open orders on {symbol} (venue limit {inst.orders_limit})",
                                 order, open_orders=open_sym, limit=inst.orders_limit)
            if budget and budget.max_open_orders is not None:
                mine = sum(1 for o in open_all if o.strategy == strategy)
                if mine >= budget.max_open_orders:
                    raise self._deny("budget_open_orders", f"{strategy}: {mine} open orders (budget {budget.max_open_orders})",
                                     order, open_orders=mine, limit=budget.max_open_orders)
        # 9. order rate (token bucket per strategy; manual orders share one bucket)
        bucket = self._bucket(strategy or "manual", budget, now)
        if bucket.available(now) < 1.0:
            raise self._deny("order_rate", f"more than {bucket.rate:g} orders/s for {strategy or 'manual'}",
                             order, rate_per_sec=bucket.rate)
        if not reducing:
            # 10. daily loss and 11. drawdown (entries only: reducing orders stay allowed; a limit of 0 is off)
            if limits.daily_loss_limit > ZERO:
                day = pf.day_pnl()
                if day <= -limits.daily_loss_limit:
                    raise self._deny("daily_loss", f"day PnL {day:.2f} reached the loss limit -{limits.daily_loss_limit}",
                                     order, day_pnl=day, limit=limits.daily_loss_limit)
            if limits.max_drawdown_pct > ZERO:
                dd = pf.drawdown_pct()
                if dd >= limits.max_drawdown_pct:
                    raise self._deny("max_drawdown", f"drawdown {dd:.2f}% reached {limits.max_drawdown_pct}%",
                                     order, drawdown_pct=dd, limit=limits.max_drawdown_pct)
        # 12. duplicate intent (same strategy, symbol, side, size, price within the window); closing a
        # position and opening the next one with the same size (a flip) are two intents, not one
        window = limits.duplicate_window_ms
        if amend_of is None and window > 0:
            key = (strategy, symbol, side, order_type, size, price, reducing)  # Decimals compare by value
            recent = self._recent
            while recent and recent[0].ts_ms < now - window:
                recent.popleft()
            for r in recent:
                if r.key == key:
                    raise self._deny("duplicate_intent",
                                     f"same {side.value} {size} {symbol} sent {now - r.ts_ms} ms ago",
                                     order, window_ms=window, age_ms=now - r.ts_ms)
            recent.append(_Recent(key, now))
        bucket.take(now)

    def preview(self, order: Order, *then: Callable[[], object]) -> RiskDenied | None:
        """Run the whole gate as `check_submit` would, then the checks `then` (a bracket's exits), without
        recording anything or using up the rate bucket / duplicate window: what the ticket shows before sending."""
        saved_recent = list(self._recent)
        saved_tokens = {k: (b.tokens, b.ts_ms) for k, b in self._buckets.items()}
        self._dry = True
        try:
            self.check_submit(order)
            for check in then:
                check()
        except RiskDenied as exc:
            return exc
        finally:
            self._dry = False
            self._recent.clear()
            self._recent.extend(saved_recent)
            for k, b in list(self._buckets.items()):
                if k in saved_tokens:
                    b.tokens, b.ts_ms = saved_tokens[k]
                else:
                    del self._buckets[k]
        return None

    def check_amend(self, order: Order, *, price: Decimal | None, size: Decimal | None) -> None:
        """An amend is checked as the order it would become (cancels need no check)."""
        from msgspec.structs import replace

        if price is None and size is None:
            raise self._deny("input_sanity", "an amend needs a new price or size", order)
        if size is not None:
            try:
                s = self._sane("size", size)
            except RiskDenied as exc:
                raise self._deny(exc.rule, str(exc).removeprefix(f"risk: {exc.rule}: "), order, **exc.numbers) from None
            if s <= order.filled:
                raise self._deny("input_sanity", f"new size {s} is not above the filled {order.filled}", order,
                                 size=s, filled=order.filled)
        try:
            new = replace(order, price=price if price is not None else order.price,
                          size=size if size is not None else order.size)
        except (InvalidOperation, TypeError) as exc:  # pragma: no cover - defensive
            raise self._deny("input_sanity", str(exc), order) from None
        self.check_submit(new, amend_of=order)

    def check_price(self, symbol: str, name: str, value: Decimal) -> None:
        """Tick and price band for a price that will be sent later (bracket legs), checked up front."""
        inst = self.instruments.get(symbol)
        if inst is None:
            raise self._deny("unknown_symbol", f"{symbol} is not a known contract")
        v = self._sane(name, value)
        if not inst.is_price_on_tick(v):
            raise self._deny("price_tick", f"{name} {v} is not on the tick {inst.price_tick}", value=v,
                             tick=inst.price_tick, nearest_down=inst.round_price(v, "down"),
                             nearest_up=inst.round_price(v, "up"))
        mark = self.cache.mark(symbol)
        if mark is not None and mark > 0:
            dev = abs(v - mark) / mark * HUNDRED
            if dev > self.limits.price_band_pct:
                raise self._deny("price_band", f"{name} {v} is {dev:.2f}% from mark {mark} "
                                 f"(band {self.limits.price_band_pct}%)", value=v, mark=mark, deviation_pct=dev)

    def check_leverage(self, symbol: str, leverage: Decimal) -> None:
        """Leverage 0 or above the config cap / venue max is refused before it is sent."""
        inst = self.instruments.get(symbol)
        if inst is None:
            raise self._deny("unknown_symbol", f"{symbol} is not a known contract")
        if not isinstance(leverage, Decimal) or not leverage.is_finite() or leverage <= 0:
            raise self._deny("input_sanity", f"leverage {leverage} must be a finite number > 0", leverage=str(leverage))
        cap = min(self.limits.max_leverage, inst.leverage_max)
        if leverage > cap or leverage < inst.leverage_min:
            message, hint = leverage_refusal(symbol, leverage, self.limits.max_leverage, inst.leverage_min, inst.leverage_max)
            exc = self._deny("max_leverage", message, leverage=leverage, limit=cap, venue_max=inst.leverage_max)
            exc.hint = hint
            raise exc

    def _bucket(self, key: str, budget: StrategyBudget | None, now: int) -> TokenBucket:
        b = self._buckets.get(key)
        if b is None:
            rate = self.limits.max_orders_per_sec
            if budget and budget.max_orders_per_sec is not None:
                rate = min(rate, budget.max_orders_per_sec)
            b = self._buckets[key] = TokenBucket(rate, now_ms=now)
        return b

    def snapshot(self) -> dict[str, Any]:
        """What `cashup risk status` and the risk pane show."""
        pf = self.portfolio
        return {
            **self.status.to_json(),
            "kill_level_name": KILL_LEVELS[self.status.kill_level],
            "equity": pf.equity(),
            "cash": pf.cash,
            "unrealized_pnl": pf.unrealized(),
            "day_pnl": pf.day_pnl(),
            "drawdown_pct": pf.drawdown_pct(),
            "gross_exposure": pf.gross_exposure(),
            "margin_used": pf.margin_used(),
            "open_orders": len(self.cache.open_unsorted()),
            "denials": self.denials,
            "stale_symbols": sorted(self.stale_symbols),
            "price_paused": dict(self.price_guard.paused) if self.price_guard is not None else {},
            "limits": {k: (str(v) if isinstance(v, Decimal) else v)
                       for k, v in ((f.name, getattr(self.limits, f.name)) for f in fields(self.limits))},
        }
