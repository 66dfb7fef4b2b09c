"""The one simulated Gate USDT-perpetual venue: matching, fees, isolated margin, liquidation, funding.

Shared by the loopback simulator server, paper trading and the event-driven backtest, so it is pure and
deterministic: no wall clock (time comes in as `ts_ms` arguments, or from an injected `clock`), no I/O,
no asyncio, no randomness. Same inputs -> same orders, trades and ids.

Fill model (what the backtest docs cite)
- The market book is external: `update_book(symbol, bids, asks, ts_ms)` replaces it (levels best first,
  `(price, size)` in contracts). The user's resting orders are NOT inserted into that book and never
  match each other (no self-trade).
- Taker: an order that is marketable on arrival walks the opposite side level by level and fills at
  each level's price, up to its limit price (market orders: no limit). Liquidity it takes is consumed
  until the next `update_book` (a second order does not take the same size twice).
- Maker (queue model "touch fills"): a resting limit order fills when the external book reaches its
  price: a buy at P fills when the best ask <= P, against the asks priced <= P (their sizes cap the fill,
  and are consumed), always at P and as maker. A public trade reported through `update_trade` at a price
  strictly through P (below P for a buy, above for a sell) also fills it, up to the trade size. Several
  resting orders on one side fill in price, then time priority (an amend that changes the price or grows
  the size sends the order to the back). Queue position ahead of us at the same
  price is not modelled, which makes maker fills slightly optimistic; it is deterministic.
- tif: gtc rests; ioc fills what it can and finishes `ioc`; fok fills entirely or raises ORDER_FOK
  (against the visible book, nothing happens); poc (post-only) raises ORDER_POC_IMMEDIATE if it would take.
  Market = price 0 with tif ioc or fok.
- reduce_only may only shrink the position: REDUCE_ONLY_FAIL when it would open or increase; a size above
  the position is trimmed at fill time; a gtc remainder with nothing left to reduce finishes
  `reduce_only` (also when later fills flatten the position under a resting reduce-only order), an ioc
  remainder `ioc`. `close=True, size=0` closes the position.

Fee model: fee = |size| * quanto_multiplier * fill price * rate, in USDT, charged to the wallet on each
fill; the rate is the instrument's maker/taker rate (a negative maker rate is a rebate) unless overridden
(`maker_fee_rate`/`taker_fee_rate`, or `fee_bps` for both sides, as backtests use). Liquidation fills
pay no fee.

Margin model (isolated, one-way): position margin = entry notional / leverage, added when a fill opens or
increases, released pro rata when it reduces. Open orders reserve order margin = the opening part of
their remaining notional at their price / leverage (reduce-only orders reserve nothing). A new order needs
the opening part of its immediate fills * (1/leverage + taker rate) + its resting opening part / leverage
<= available (+1e-9 USDT for Decimal rounding, so "all-in" sizing fits), else INSUFFICIENT_AVAILABLE. available = total - position margin - order margin; total is
the wallet (starting balance + deposits + realised PnL - fees + funding); equity = total + unrealised PnL
on the mark. Liquidation (Gate's isolated rule): when margin + uPnL(mark) <= maintenance_rate * mark
notional, i.e. when the mark crosses `Position.liquidation_price(maintenance_rate, margin)`, open orders
of that contract are cancelled (`liquidated`) and the position is closed at the liquidation price by an
order with text "liquidation", finish_as "liquidated" (losses beyond that price are the insurance fund's).
Funding (`apply_funding`): amount = -size * multiplier * mark * rate to the wallet: longs pay shorts when
the rate is positive.

Not modelled: iceberg (accepted and echoed, the whole size is visible to our own matching), self-trade
prevention (our orders never meet each other), risk limits, dual mode. Cross margin (leverage 0) is
simulated per position: see margin.py.

Events (`drain_events()`, in order): "order" (futures.orders: a snapshot after each change), "usertrade",
"position" (one per touched contract per call), "balance" (pnl, fee, fund, dnw changes), "autoorder"
(trigger orders), "liquidate".

Prices: the mark comes from `update_mark` (or `update_book(..., mark=)`); before any mark is known the book
mid is used, for valuation and for the liquidation check. Trigger orders
(`price_orders`) with price_type 0 use the last trade price (`update_trade`/`update_last`; the mark until
one is reported), 1 and 2 the mark. Each trigger fires at most once.

Code layout: `Venue` (this file) owns time, the contract lookup and the market-data entry points, and
composes the parts: `matching.Matching` (entry, amend, cancel, fills, liquidation order), `margin` (margin
math, leverage and margin changes), `accounts.Wallet` (cash, account and position reads, deposits,
funding), `triggers.Triggers` and `triggers.Countdown` (price_orders, countdown_cancel_all),
`registry.OrderRegistry` (ids, lookups, history), `events.Recorder`; `base` (constants, VenueError,
per-contract state) and `models` (the objects and their Gate JSON shapes).

Main API (keyword arguments after the first ones; sizes signed, Decimal or int/str):
    Venue(instruments, *, balance, clock=None, user_id=1, maker_fee_rate=None, taker_fee_rate=None,
          fee_bps=None, default_leverage=10, record_events=True, max_history=10_000)
    (record_events=False skips building event snapshots: backtests that read state directly run faster;
    a collection of kinds, e.g. ("order", "usertrade"), records only those: position and balance snapshots
    are the costly ones and an in-process reader that derives its own positions never reads them)
    update_book(symbol, bids, asks, ts_ms, *, mark=None); update_mark(symbol, mark, ts_ms)
    update_price(symbol, price, ts_ms) (a one-level book at `price` plus the mark: for bar-driven backtests)
    update_trade(symbol, price, size, ts_ms); update_last(symbol, price, ts_ms)
    place(contract, size, price=0, *, tif="gtc", reduce_only=False, close=False, text="", ts_ms=None)
    cancel(id_or_text); cancel_all(contract=None, side=None); amend(id_or_text, price=None, size=None)
    get_order(id_or_text); list_orders(contract=None, status="open", limit=100, offset=0)
    my_trades(contract=None, order_id=None, limit=100, offset=0)
    positions(holding=False); position(contract); set_leverage(contract, leverage); update_margin(...)
    account(); deposit(amount); apply_funding(contract, rate, ts_ms=None, mark=None)
    place_trigger(...); cancel_trigger(id); cancel_triggers(contract=None); list_triggers(...); get_trigger(id)
    countdown_cancel_all(timeout_s, now_ms=None, contract=""); drain_events() -> list[VenueEvent]
Objects returned by place/cancel/amend/get_order are the venue's live orders: call `.snapshot()` to keep
a frozen copy. Every object has `.to_gate()` giving Gate's JSON shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.positions import Position
from cashup_tui.venue.accounts import Wallet
from cashup_tui.venue.base import (
    UNLIMITED,
    ZERO,
    ContractState,
    VenueError,
    to_dec,
)
from cashup_tui.venue.events import Recorder
from cashup_tui.venue.margin import Margin, liq_price
from cashup_tui.venue.matching import Matching
from cashup_tui.venue.models import (
    VenueAccount,
    VenueEvent,
    VenueOrder,
    VenuePosition,
    VenueTrade,
    VenueTrigger,
)
from cashup_tui.venue.registry import OrderRegistry
from cashup_tui.venue.triggers import Countdown, Triggers


class Venue:
    """Deterministic Gate-like venue for one user. See the module docstring for the model."""

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        *,
        balance: Decimal | int | str = ZERO,
        clock: Callable[[], int] | None = None,
        user_id: int = 1,
        maker_fee_rate: Decimal | None = None,
        taker_fee_rate: Decimal | None = None,
        fee_bps: Decimal | int | str | None = None,
        default_leverage: Decimal | int = 10,
        record_events: bool | Iterable[str] = True,
        max_history: int = 10_000,
    ) -> None:
        start = to_dec(balance, "balance")
        if start < 0:
            raise VenueError("INVALID_PARAM_VALUE", f"starting balance {start} must be >= 0")
        if fee_bps is not None:
            rate = to_dec(fee_bps, "fee_bps") / Decimal(10_000)
            maker_fee_rate = rate if maker_fee_rate is None else maker_fee_rate
            taker_fee_rate = rate if taker_fee_rate is None else taker_fee_rate
        self.user_id = user_id
        self._clock = clock
        self._now = 0
        self._rec = Recorder(record_events)
        self._c: dict[str, ContractState] = {}
        for name, inst in instruments.items():
            lev = min(max(Decimal(default_leverage), inst.leverage_min), inst.leverage_max)
            self._c[name] = ContractState(
                inst=inst,
                qm=inst.quanto_multiplier,
                mkfr=inst.maker_fee_rate if maker_fee_rate is None else to_dec(maker_fee_rate, "maker_fee_rate"),
                tkfr=inst.taker_fee_rate if taker_fee_rate is None else to_dec(taker_fee_rate, "taker_fee_rate"),
                leverage=lev,
                pos=Position(name, inst.quanto_multiplier, leverage=lev),
            )
        self._wallet = Wallet(self._c, self._rec, user_id, start)
        self._reg = OrderRegistry(max_history)
        self._m = Matching(self._c, self._reg, self._wallet, self._rec, user_id)
        self._margin = Margin(self._m, self._wallet)
        self._trig = Triggers(self._c, self._m, self._rec, user_id, max_history)
        self._countdown = Countdown(self._m)

    # ------------------------------------------------------------------ time
    @property
    def now_ms(self) -> int:
        return self._clock() if self._clock is not None else self._now

    def _stamp(self, ts_ms: int | None) -> int:
        """The time of this call; advances venue time and fires an expired dead-man switch."""
        if ts_ms is None:
            ts_ms = self._clock() if self._clock is not None else self._now
        if ts_ms > self._now:
            self._now = ts_ms
        cd = self._countdown
        if cd.next_ms is not None and ts_ms >= cd.next_ms:
            cd.fire(ts_ms)
        return ts_ms

    def advance(self, ts_ms: int) -> None:
        """Let time pass with no market data (fires expired countdowns and trigger expiries)."""
        now = self._stamp(ts_ms)
        for c in self._c.values():
            if c.triggers:
                self._trig.check(c, now)

    # ------------------------------------------------------------------ lookups
    def _contract(self, contract: str) -> ContractState:
        c = self._c.get(contract)
        if c is None:
            raise VenueError(
                "CONTRACT_NOT_FOUND",
                f"contract {contract!r} not found",
                hint=f"known contracts: {', '.join(sorted(self._c)) or 'none'}",
            )
        return c

    @property
    def contracts(self) -> list[str]:
        return list(self._c)

    def instrument(self, contract: str) -> Instrument:
        return self._contract(contract).inst

    def mark_price(self, contract: str) -> Decimal | None:
        return self._contract(contract).ref_price()

    @property
    def _countdowns(self) -> dict[str, int]:
        """Armed dead-man deadlines by contract ("" = all): what tests look at."""
        return self._countdown.deadlines

    @property
    def _kinds(self) -> frozenset[str] | None:
        return self._rec.kinds

    @property
    def _record(self) -> bool:
        return self._rec.record

    # ------------------------------------------------------------------ market data
    def update_book(
        self,
        symbol: str,
        bids: Sequence[tuple[Decimal, Decimal]],
        asks: Sequence[tuple[Decimal, Decimal]],
        ts_ms: int | None = None,
        *,
        mark: Decimal | None = None,
    ) -> None:
        """Replace the external book (best first); resting orders that are now marketable fill as makers."""
        c = self._c.get(symbol) or self._contract(symbol)
        now = self._stamp(ts_ms)
        c.bids = bids
        c.asks = asks
        if c.used_bids:
            c.used_bids = {}
        if c.used_asks:
            c.used_asks = {}
        if c.buys or c.sells:
            m = self._m
            m.match_resting(c, now)
            m.flush(now)
        if mark is not None:
            self.update_mark(symbol, mark, now)
        elif c.mark is None and c.liq is not None:  # no mark feed at all: the mid stands in for it
            mid = c.ref_price()
            if mid is not None and ((c.pos.size > 0 and mid <= c.liq) or (c.pos.size < 0 and mid >= c.liq)):
                self._m.liquidate(c, now)
                self._m.flush(now)

    def update_mark(self, symbol: str, mark: Decimal, ts_ms: int | None = None) -> None:
        """New mark price: liquidation check, then mark/last-price triggers."""
        c = self._c.get(symbol) or self._contract(symbol)
        now = self._stamp(ts_ms)
        c.mark = mark
        if not c.last_explicit:
            c.last = mark
        if c.cross and c.pos.size:  # the shared available balance may have moved since the last fill
            c.liq = liq_price(c)
        liq = c.liq
        if liq is not None:
            size = c.pos.size
            if (size > 0 and mark <= liq) or (size < 0 and mark >= liq):
                self._m.liquidate(c, now)
                self._m.flush(now)
        if c.triggers:
            self._trig.check(c, now)

    def update_price(self, symbol: str, price: Decimal, ts_ms: int | None = None, *, size: Decimal = UNLIMITED) -> None:
        """Bar-driven markets (backtests): one price for everything. The book becomes a single level of
        `size` on both sides at `price`, and the mark is `price`: market orders fill at `price`, resting
        limits at or through it fill at their own price, triggers and liquidation see `price`."""
        level = ((price, size),)
        self.update_book(symbol, level, level, ts_ms, mark=price)

    def update_last(self, symbol: str, price: Decimal, ts_ms: int | None = None) -> None:
        """Last traded price (for price_type 0 triggers) without a trade size."""
        c = self._contract(symbol)
        now = self._stamp(ts_ms)
        c.last = price
        c.last_explicit = True
        if c.triggers:
            self._trig.check(c, now)

    def update_trade(self, symbol: str, price: Decimal, size: Decimal, ts_ms: int | None = None) -> None:
        """A public trade: sets the last price; resting orders it trades through fill (up to |size|)."""
        c = self._contract(symbol)
        now = self._stamp(ts_ms)
        c.last = price
        c.last_explicit = True
        qty = abs(size)
        if qty and (c.buys or c.sells):
            self._m.trade_through(c, price, qty, now)
        if c.triggers:
            self._trig.check(c, now)

    # ------------------------------------------------------------------ orders
    def place(
        self,
        contract: str,
        size: Decimal | int | str,
        price: Decimal | int | str = ZERO,
        *,
        tif: str = "gtc",
        reduce_only: bool = False,
        close: bool = False,
        text: str = "",
        iceberg: Decimal | int | str = ZERO,
        ts_ms: int | None = None,
    ) -> VenueOrder:
        """Gate `POST /futures/usdt/orders`. Returns the order after its immediate matching."""
        c = self._c.get(contract) or self._contract(contract)
        now = self._stamp(ts_ms)
        return self._m.place(c, now, contract, size, price, tif, reduce_only, close, text, iceberg)

    def cancel(self, id_or_text: int | str, *, ts_ms: int | None = None) -> VenueOrder:
        """Gate `DELETE /futures/usdt/orders/{id}`: ORDER_NOT_FOUND if unknown or already finished."""
        now = self._stamp(ts_ms)
        o = self._reg.lookup(id_or_text, self.now_ms)
        if not o.is_open:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} is already finished ({o.finish_as})")
        m = self._m
        m.finish(self._c[o.contract], o, "cancelled", now)
        m.flush(now)
        return o

    def cancel_all(self, contract: str | None = None, *, side: str | None = None, ts_ms: int | None = None) -> list[VenueOrder]:
        """Gate `DELETE /futures/usdt/orders?contract=&side=ask|bid`: cancels and returns the open orders."""
        now = self._stamp(ts_ms)
        if contract:
            self._contract(contract)
        if side not in (None, "", "ask", "bid"):
            raise VenueError("INVALID_PARAM_VALUE", f"side {side!r} must be 'ask' or 'bid'")
        out = self._m.cancel_where(contract or None, side or None, "cancelled", now)
        self._m.flush(now)
        return out

    def amend(
        self,
        id_or_text: int | str,
        *,
        price: Decimal | int | str | None = None,
        size: Decimal | int | str | None = None,
        amend_text: str = "",
        ts_ms: int | None = None,
    ) -> VenueOrder:
        """Gate `PUT /futures/usdt/orders/{id}`: new price and/or new total size (filled part included).

        A size at or below the filled part cancels the order (Gate's rule); a changed price or a bigger size
        loses time priority; a new price that crosses the book trades immediately (post-only: rejected).
        """
        now = self._stamp(ts_ms)
        o = self._reg.lookup(id_or_text, self.now_ms)
        if not o.is_open:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} is already finished ({o.finish_as})")
        return self._m.amend(o, price, size, amend_text, now)

    # ------------------------------------------------------------------ reads
    def get_order(self, id_or_text: int | str) -> VenueOrder:
        """By id (always, within the history window) or by `t-` text (open, or finished < 60 s ago)."""
        return self._reg.lookup(id_or_text, self.now_ms)

    def list_orders(
        self, contract: str | None = None, status: str = "open", *, limit: int = 100, offset: int = 0
    ) -> list[VenueOrder]:
        """Newest first, like Gate's `GET /futures/usdt/orders`."""
        if contract:
            self._contract(contract)
        if status == "open":
            rows = [o for c in self._c.values() for o in (*c.buys, *c.sells) if not contract or o.contract == contract]
            rows.sort(key=lambda o: o.id, reverse=True)
        elif status == "finished":
            rows = self._reg.finished_orders(contract)
        else:
            raise VenueError("INVALID_PARAM_VALUE", f"status {status!r} must be 'open' or 'finished'")
        if limit < 1 or offset < 0:
            raise VenueError("INVALID_PARAM_VALUE", "limit must be >= 1 and offset >= 0")
        return rows[offset : offset + limit]

    def my_trades(
        self, contract: str | None = None, *, order_id: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[VenueTrade]:
        """The user's executions, newest first (Gate `GET /futures/usdt/my_trades`)."""
        if contract:
            self._contract(contract)
        return self._reg.my_trades(contract, order_id, limit, offset)

    def position(self, contract: str) -> VenuePosition:
        """Gate `GET /futures/usdt/positions/{contract}` (a zero position if never traded)."""
        return self._wallet.position(self._contract(contract))

    def positions(self, *, holding: bool = False) -> list[VenuePosition]:
        """Positions of every contract traded or configured so far (`holding=True`: non-zero only)."""
        return self._wallet.positions(holding)

    def unrealised_pnl(self) -> Decimal:
        return self._wallet.unrealised_pnl()

    def available_balance(self) -> Decimal:
        """`account().available` (the same sums in the same order) without building the account."""
        return self._wallet.available_balance()

    def account(self) -> VenueAccount:
        """Gate `GET /futures/usdt/accounts`."""
        return self._wallet.account()

    def account_book(self, *, limit: int = 100, offset: int = 0, type: str | None = None,
                     contract: str | None = None, from_s: int | None = None, to_s: int | None = None) -> list[dict[str, Any]]:
        """Gate `GET /futures/usdt/account_book`: the wallet's deposits and funding settlements, newest first."""
        if limit < 1 or offset < 0:
            raise VenueError("INVALID_PARAM_VALUE", "limit must be >= 1 and offset >= 0")
        rows = [(i, c) for i, c in self._wallet.book
                if (type is None or c.type == type) and (contract is None or (c.type == "fund" and c.text == contract))
                and (from_s is None or c.time_ms >= from_s * 1000) and (to_s is None or c.time_ms <= to_s * 1000)]
        return [c.to_book(i) for i, c in reversed(rows)][offset : offset + limit]

    @property
    def total(self) -> Decimal:
        """Wallet balance (cash): cheaper than account() on hot paths."""
        return self._wallet.total

    def equity(self) -> Decimal:
        w = self._wallet
        return w.total + w.unrealised_pnl()

    def open_orders_count(self, contract: str | None = None) -> int:
        if contract:
            c = self._contract(contract)
            return len(c.buys) + len(c.sells)
        return sum(len(c.buys) + len(c.sells) for c in self._c.values())

    def iter_open_orders(self) -> Iterable[VenueOrder]:
        for c in self._c.values():
            yield from c.buys
            yield from c.sells

    # ------------------------------------------------------------------ leverage, margin, cash, funding
    def set_leverage(self, contract: str, leverage: Decimal | int | str, *, ts_ms: int | None = None,
                     cross_leverage_limit: Decimal | int | str | None = None) -> VenuePosition:
        """Gate `POST /positions/{contract}/leverage`: leverage >= 1 is isolated; 0 is cross margin at
        `cross_leverage_limit` (kept when not given)."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        limit = None if cross_leverage_limit is None else to_dec(cross_leverage_limit, "cross_leverage_limit")
        self._margin.set_leverage(contract, c, to_dec(leverage, "leverage"), now, limit)
        return self._wallet.position(c)

    def update_margin(self, contract: str, change: Decimal | int | str, *, ts_ms: int | None = None) -> VenuePosition:
        """Gate `POST /positions/{contract}/margin`: add (> 0) or remove (< 0) isolated margin."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        self._margin.update_margin(contract, c, to_dec(change, "change"), now)
        mark = c.mark
        if mark is not None and c.liq is not None:
            self.update_mark(contract, mark, now)
        return self._wallet.position(c)

    def deposit(self, amount: Decimal | int | str, *, ts_ms: int | None = None) -> Decimal:
        """Move USDT in (> 0) or out (< 0) of the futures wallet (Gate `dnw`); returns the new total."""
        now = self._stamp(ts_ms)
        return self._wallet.deposit(to_dec(amount, "amount"), now)

    def apply_funding(
        self, contract: str, rate: Decimal | int | str, ts_ms: int | None = None, *, mark: Decimal | None = None
    ) -> Decimal:
        """Settle one funding period on the mark notional; returns the cash amount (> 0 received)."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        r = to_dec(rate, "rate")
        if mark is not None:
            c.mark = mark
        if c.pos.size == 0:
            return ZERO
        amount = self._wallet.fund(contract, c, r, now)
        self._m.dirty.add(contract)
        self._m.flush(now)
        return amount

    # ------------------------------------------------------------------ trigger orders, dead-man switch
    def place_trigger(
        self,
        contract: str,
        size: Decimal | int | str,
        price: Decimal | int | str,
        trigger_price: Decimal | int | str,
        *,
        rule: int,
        price_type: int = 0,
        tif: str = "gtc",
        reduce_only: bool = False,
        close: bool = False,
        text: str = "",
        expiration_s: int = 0,
        ts_ms: int | None = None,
    ) -> VenueTrigger:
        """Gate `POST /futures/usdt/price_orders`: places the order once, when the trigger rule is met."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        sz = to_dec(size, "size")
        px = to_dec(price, "price")
        tp = to_dec(trigger_price, "trigger price")
        return self._trig.place(c, now, contract, sz, px, tp, rule, price_type, tif, reduce_only, close, text, expiration_s)

    def cancel_trigger(self, trigger_id: int | str, *, ts_ms: int | None = None) -> VenueTrigger:
        """Gate `DELETE /futures/usdt/price_orders/{id}`."""
        now = self._stamp(ts_ms)
        return self._trig.cancel(trigger_id, now)

    def cancel_triggers(self, contract: str | None = None, *, ts_ms: int | None = None) -> list[VenueTrigger]:
        """Gate `DELETE /futures/usdt/price_orders?contract=`."""
        now = self._stamp(ts_ms)
        if contract:
            self._contract(contract)
        return self._trig.cancel_many(contract, now)

    def get_trigger(self, trigger_id: int | str) -> VenueTrigger:
        return self._trig.get(trigger_id)

    def list_triggers(
        self, contract: str | None = None, status: str = "open", *, limit: int = 100, offset: int = 0
    ) -> list[VenueTrigger]:
        """Gate `GET /futures/usdt/price_orders?status=open|finished`, newest first."""
        return self._trig.rows(contract, status, limit, offset)

    def countdown_cancel_all(self, timeout_s: int, now_ms: int | None = None, *, contract: str = "") -> int:
        """Gate `POST /futures/usdt/countdown_cancel_all`: cancel open orders (of `contract`, or all) unless
        called again within `timeout_s`. 0 disarms. Returns the trigger time in ms (0 when disarmed)."""
        now = self._stamp(now_ms)
        if contract:
            self._contract(contract)
        return self._countdown.arm(timeout_s, now, contract)

    # ------------------------------------------------------------------ events
    def has_events(self) -> bool:
        """Whether anything happened since the last `drain_events()` (a cheap check before draining)."""
        return bool(self._rec.events)

    def drain_events(self) -> list[VenueEvent]:
        """Private-channel pushes since the last call, in the order they happened."""
        return self._rec.drain()
