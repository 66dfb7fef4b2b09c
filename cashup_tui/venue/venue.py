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
prevention (our orders never meet each other), risk limits, cross margin (leverage 0), dual mode.

Events (`drain_events()`, in order): "order" (futures.orders: a snapshot after each change), "usertrade",
"position" (one per touched contract per call), "balance" (pnl, fee, fund, dnw changes), "autoorder"
(trigger orders), "liquidate".

Prices: the mark comes from `update_mark` (or `update_book(..., mark=)`); before any mark is known the book
mid is used, for valuation and for the liquidation check. Trigger orders
(`price_orders`) with price_type 0 use the last trade price (`update_trade`/`update_last`; the mark until
one is reported), 1 and 2 the mark. Each trigger fires at most once.

Code layout: venue.py (this file: book, matching, margin, funding, liquidation, reads), venue_base.py
(constants, VenueError, per-contract state), venue_triggers.py (price_orders and countdown_cancel_all, a
mixin of Venue), venue_models.py (the objects and their Gate JSON shapes).

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

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from cashup_tui.domain.enums import Liquidity, Side
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position
from cashup_tui.venue.base import (
    MARGIN_EPS,
    ORDER_ID_BASE,
    TEXT_LOOKUP_MS,
    TIFS,
    TRADE_ID_BASE,
    TRIGGER_ID_BASE,
    UNLIMITED,
    ZERO,
    ContractState,
    VenueError,
    check_text,
    to_dec,
)
from cashup_tui.venue.models import (
    CHANNEL_OF,
    BalanceChange,
    Liquidation,
    VenueAccount,
    VenueEvent,
    VenueOrder,
    VenuePosition,
    VenueTrade,
    VenueTrigger,
    dstr,
)
from cashup_tui.venue.triggers import TriggerOrders

_BUY, _SELL, _MAKER, _TAKER = Side.BUY, Side.SELL, Liquidity.MAKER, Liquidity.TAKER  # see members_of

__all__ = [
    "ORDER_ID_BASE",
    "TEXT_LOOKUP_MS",
    "TRADE_ID_BASE",
    "TRIGGER_ID_BASE",
    "UNLIMITED",
    "Venue",
    "VenueAccount",
    "VenueError",
    "VenueEvent",
    "VenueOrder",
    "VenuePosition",
    "VenueTrade",
    "VenueTrigger",
]

class Venue(TriggerOrders):
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
        if record_events is True or record_events is False:
            kinds = frozenset(CHANNEL_OF) if record_events else frozenset()
        else:
            kinds = frozenset(record_events)
            if not kinds <= CHANNEL_OF.keys():
                raise VenueError("INVALID_PARAM_VALUE", f"record_events: unknown kind(s) {sorted(kinds - CHANNEL_OF.keys())}",
                                 hint=f"kinds: {', '.join(sorted(CHANNEL_OF))}")
        self._record = bool(kinds)  # any kind: the cheap ones are built, drain_events() keeps the asked ones
        self._kinds: frozenset[str] | None = None if kinds == CHANNEL_OF.keys() else kinds
        self._rec_balance = "balance" in kinds
        self._rec_position = "position" in kinds
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
        self._total = start
        self._dnw = start
        self._hist_pnl = ZERO
        self._hist_fee = ZERO
        self._hist_fund = ZERO
        self._orders: dict[int, VenueOrder] = {}
        self._by_text: dict[str, int] = {}
        self._finished: deque[VenueOrder] = deque(maxlen=max_history)
        self._trades: deque[VenueTrade] = deque(maxlen=max_history)
        self._triggers: dict[int, VenueTrigger] = {}
        self._triggers_done: deque[VenueTrigger] = deque(maxlen=max_history)
        self._max_history = max_history
        self._next_order = ORDER_ID_BASE
        self._next_trade = TRADE_ID_BASE
        self._next_trigger = TRIGGER_ID_BASE
        self._seq = 0
        self._events: list[VenueEvent] = []
        self._dirty: set[str] = set()
        self._countdowns: dict[str, int] = {}  # contract ("" = all) -> deadline ms
        self._countdown_min: int | None = None

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
        if self._countdown_min is not None and ts_ms >= self._countdown_min:
            self._fire_countdowns(ts_ms)
        return ts_ms

    def advance(self, ts_ms: int) -> None:
        """Let time pass with no market data (fires expired countdowns and trigger expiries)."""
        now = self._stamp(ts_ms)
        for c in self._c.values():
            if c.triggers:
                self._check_triggers(c, now)

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

    def _lookup(self, id_or_text: int | str) -> VenueOrder:
        order: VenueOrder | None = None
        if isinstance(id_or_text, int) and not isinstance(id_or_text, bool):
            order = self._orders.get(id_or_text)
        elif isinstance(id_or_text, str) and id_or_text.isdigit():
            order = self._orders.get(int(id_or_text))
        elif isinstance(id_or_text, str) and id_or_text.startswith("t-"):
            oid = self._by_text.get(id_or_text)
            order = self._orders.get(oid) if oid is not None else None
            if order is not None and not order.is_open and self.now_ms - order.finish_ms > TEXT_LOOKUP_MS:
                order = None  # Gate forgets the text 60 s after the order finished
        if order is None:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} not found")
        return order

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
            self._match_resting(c, now)
            self._flush(now)
        if mark is not None:
            self.update_mark(symbol, mark, now)
        elif c.mark is None and c.liq is not None:  # no mark feed at all: the mid stands in for it
            mid = c.ref_price()
            if mid is not None and ((c.pos.size > 0 and mid <= c.liq) or (c.pos.size < 0 and mid >= c.liq)):
                self._liquidate(c, now)
                self._flush(now)

    def update_mark(self, symbol: str, mark: Decimal, ts_ms: int | None = None) -> None:
        """New mark price: liquidation check, then mark/last-price triggers."""
        c = self._c.get(symbol) or self._contract(symbol)
        now = self._stamp(ts_ms)
        c.mark = mark
        if not c.last_explicit:
            c.last = mark
        liq = c.liq
        if liq is not None:
            size = c.pos.size
            if (size > 0 and mark <= liq) or (size < 0 and mark >= liq):
                self._liquidate(c, now)
                self._flush(now)
        if c.triggers:
            self._check_triggers(c, now)

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
            self._check_triggers(c, now)

    def update_trade(self, symbol: str, price: Decimal, size: Decimal, ts_ms: int | None = None) -> None:
        """A public trade: sets the last price; resting orders it trades through fill (up to |size|)."""
        c = self._contract(symbol)
        now = self._stamp(ts_ms)
        c.last = price
        c.last_explicit = True
        qty = abs(size)
        if qty and (c.buys or c.sells):
            touched = False
            for book in (c.buys, c.sells):
                avail = qty
                for o in list(book):
                    if avail <= 0:
                        break
                    if not (price < o.price if o.is_buy else price > o.price):
                        break  # sorted best first: no later order is traded through either
                    q = min(self._fillable(c, o), avail)
                    if q > 0:
                        self._fill(c, o, o.price, q, _MAKER, now)
                        avail -= q
                        touched = True
                    self._settle_resting(c, o, now, q > 0)
            if touched:
                self._flush(now)
        if c.triggers:
            self._check_triggers(c, now)

    # ------------------------------------------------------------------ matching core
    def _walk(
        self, c: ContractState, buy: bool, limit: Decimal | None, qty: Decimal, consume: bool
    ) -> list[tuple[Decimal, Decimal]]:
        """Walk the opposite side best first up to `limit`; returns (price, qty) per level taken."""
        levels = c.asks if buy else c.bids
        used = c.used_asks if buy else c.used_bids
        out: list[tuple[Decimal, Decimal]] = []
        remaining = qty
        for price, size in levels:
            if limit is not None and (price > limit if buy else price < limit):
                break
            avail = size - used[price] if price in used else size
            if avail <= 0:
                continue
            q = avail if avail < remaining else remaining
            out.append((price, q))
            if consume:
                used[price] = used.get(price, ZERO) + q
            remaining -= q
            if not remaining:
                break
        return out

    def _reducible(self, c: ContractState, buy: bool) -> Decimal:
        """How much an order of this side can reduce the current position (0 if it would increase)."""
        size = c.pos.size
        if buy:
            return -size if size < 0 else ZERO
        return size if size > 0 else ZERO

    def _fillable(self, c: ContractState, o: VenueOrder) -> Decimal:
        left = o.left_abs
        if o.is_reduce_only:
            red = self._reducible(c, o.is_buy)
            return red if red < left else left
        return left

    def _match_resting(self, c: ContractState, now: int) -> None:
        """Resting orders that the new book reaches fill at their own price as makers."""
        if c.buys and c.asks:
            best_ask = c.asks[0][0]
            for o in list(c.buys):
                if o.price < best_ask:
                    break
                q = self._fillable(c, o)
                got = sum((lv[1] for lv in self._walk(c, True, o.price, q, True)), ZERO) if q > 0 else ZERO
                if got:
                    self._fill(c, o, o.price, got, _MAKER, now)
                self._settle_resting(c, o, now, bool(got))
        if c.sells and c.bids:
            best_bid = c.bids[0][0]
            for o in list(c.sells):
                if o.price > best_bid:
                    break
                q = self._fillable(c, o)
                got = sum((lv[1] for lv in self._walk(c, False, o.price, q, True)), ZERO) if q > 0 else ZERO
                if got:
                    self._fill(c, o, o.price, got, _MAKER, now)
                self._settle_resting(c, o, now, bool(got))

    def _settle_resting(self, c: ContractState, o: VenueOrder, now: int, filled_now: bool) -> None:
        """After a resting order may have filled: finish it if done, or if reduce-only with nothing to reduce."""
        if not o.is_open:
            return
        if o.left_abs == 0:
            self._finish(c, o, "filled", now)
        elif o.is_reduce_only and self._reducible(c, o.is_buy) == 0:
            self._finish(c, o, "reduce_only", now)
        elif filled_now:
            self._emit_order(o, now)

    def _fill(
        self, c: ContractState, o: VenueOrder, price: Decimal, qty: Decimal, role: Liquidity, now: int, *, fee_rate: Decimal | None = None
    ) -> VenueTrade:
        """Book one execution: position, margin, wallet, order, trade record, events."""
        qm = c.qm
        notional = qty * qm * price
        rate = fee_rate if fee_rate is not None else (c.mkfr if role is _MAKER else c.tkfr)
        fee = notional * rate
        pos = c.pos
        old = pos.size
        buy = o.is_buy
        self._next_trade += 1
        tid = self._next_trade
        # positional: this runs for every fill (ids are plain str at run time; NewType calls cost a frame)
        fill = Fill(str(tid), o.text, o.contract, _BUY if buy else _SELL, qty, price, fee, now, str(o.id), role)  # type: ignore[arg-type]
        realized = pos.apply_fill(fill)
        new = pos.size
        lev = c.leverage
        closing = ZERO
        if old == 0 or (old > 0) == buy:  # open or increase
            c.margin += notional / lev
            if old == 0:
                c.open_ms = now
        else:
            closing = min(qty, abs(old))
            if new == 0:
                c.margin = ZERO
                self._close_lifecycle(c, lev)
            elif (new > 0) == (old > 0):
                c.margin = c.margin * abs(new) / abs(old)
            else:  # flip: the closed part ends a lifecycle, the rest opens a new one at this price
                c.margin = abs(new) * qm * price / lev
                self._close_lifecycle(c, lev)
                c.pos = Position(o.contract, qm, size=new, entry_price=price, leverage=lev, updated_ms=now)
                c.open_ms = now
        self._total += realized - fee
        self._hist_pnl += realized
        self._hist_fee += fee
        if o.seq:  # it was resting: Gate marks later pushes of an open order `_update`
            o.finish_as = "_update"
        o.filled += qty
        o.fill_value += price * qty
        o.fee += fee
        o.update_ms = now
        o.update_id += 1
        trade = VenueTrade(tid, o.id, o.contract, qty if buy else -qty, price, "maker" if role is _MAKER else "taker",
                           fee, o.text, now, closing if buy else -closing, realized, fill)  # positional: per fill
        self._trades.append(trade)
        c.update_ms = now
        c.update_id += 1
        c.touched = True
        c.liq = self._liq_price(c)
        self._dirty.add(o.contract)
        if self._record:
            ev = self._events
            ev.append(VenueEvent("usertrade", now, trade))
            if realized and self._rec_balance:
                ev.append(
                    VenueEvent("balance", now, BalanceChange(self.user_id, self._total + fee, realized, "pnl", f"{o.contract}:{o.id}", now))
                )
            if fee and self._rec_balance:
                ev.append(VenueEvent("balance", now, BalanceChange(self.user_id, self._total, -fee, "fee", f"{o.contract}:{o.id}", now)))
        return trade

    def _close_lifecycle(self, c: ContractState, lev: Decimal) -> None:
        """The position went flat (or flipped): book its net PnL in history and start a fresh Position."""
        net = c.pos.net_pnl
        c.last_close_pnl = net
        c.history_pnl += net
        c.pos = Position(c.inst.symbol, c.qm, leverage=lev, updated_ms=c.pos.updated_ms)

    def _liq_price(self, c: ContractState) -> Decimal | None:
        pos = c.pos
        if pos.size == 0:
            return None
        liq = pos.liquidation_price(c.inst.maintenance_rate, c.margin)
        if liq is None or (pos.size > 0 and liq <= 0):
            return None
        return liq

    # ------------------------------------------------------------------ order entry
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
        size = to_dec(size, "size")
        price = price if price is ZERO else to_dec(price, "price")
        inst = c.inst
        tif = (tif or "gtc").lower()
        if tif not in TIFS:
            raise VenueError("INVALID_PARAM_VALUE", f"tif {tif!r} must be one of gtc, ioc, poc, fok")
        if close:
            if size != 0:
                raise VenueError("INVALID_PARAM_VALUE", "size must be 0 when close is true")
            if c.pos.size == 0:
                raise VenueError("POSITION_EMPTY", f"no {contract} position to close")
            size = -c.pos.size
            reduce_only = True
        elif size == 0:
            raise VenueError("INVALID_PARAM_VALUE", "size must be non-zero (+ buy, - sell), or 0 with close=true")
        qty = abs(size)
        if not inst.is_size_on_step(qty):
            raise VenueError("INVALID_PARAM_VALUE", f"size {dstr(size)} is not a multiple of {dstr(inst.size_step)}")
        if qty < inst.min_size and not close:
            raise VenueError("SIZE_TOO_SMALL", f"size {dstr(qty)} below the minimum {dstr(inst.min_size)}")
        if qty > inst.max_size:
            raise VenueError("SIZE_TOO_LARGE", f"size {dstr(qty)} above the maximum {dstr(inst.max_size)}")
        if price < 0:
            raise VenueError("INVALID_PARAM_VALUE", f"price {dstr(price)} must be >= 0 (0 = market)")
        if price == 0:
            if tif not in ("ioc", "fok"):
                raise VenueError("INVALID_PARAM_VALUE", "market orders (price 0) need tif ioc or fok")
        else:
            self._check_price(c, price)
        text = self._check_text(text)
        if inst.in_delisting and not reduce_only:
            raise VenueError("CONTRACT_IN_DELISTING", f"{contract} is delisting: only reduce-only orders")
        ice = iceberg if iceberg is ZERO else to_dec(iceberg, "iceberg")
        buy = size > 0
        reducible = self._reducible(c, buy)
        if reduce_only and reducible == 0:
            raise VenueError(
                "REDUCE_ONLY_FAIL", f"reduce-only {'buy' if buy else 'sell'} would increase the {contract} position"
            )
        if tif in ("gtc", "poc") and len(c.buys) + len(c.sells) >= inst.orders_limit:
            raise VenueError("TOO_MANY_ORDERS", f"{contract} already has {inst.orders_limit} open orders")
        limit = price if price else None
        if tif == "poc":
            opp = c.asks if buy else c.bids
            if opp and (opp[0][0] <= price if buy else opp[0][0] >= price):
                raise VenueError("ORDER_POC_IMMEDIATE", f"post-only order at {dstr(price)} would take liquidity")
            fills: list[tuple[Decimal, Decimal]] = []
        else:
            takeable = min(qty, reducible) if reduce_only else qty
            fills = self._walk(c, buy, limit, takeable, False)
        filled_qty = ZERO
        for _, q in fills:
            filled_qty += q
        if tif == "fok" and filled_qty < qty:
            raise VenueError("ORDER_FOK", f"fill-or-kill: only {dstr(filled_qty)} of {dstr(qty)} available")
        if not reduce_only:
            self._check_margin(c, fills, filled_qty, qty, price, tif, reducible)
        self._next_order += 1
        # positional, in VenueOrder's field order (every order of a backtest comes here)
        o = VenueOrder(self._next_order, self.user_id, contract, size, price, tif, text, now,  # id .. create_ms
                       reduce_only, close, False, ice, ZERO, ZERO, "open", "_new", 0,  # is_reduce_only .. finish_ms
                       now, 1, ZERO, c.mkfr, c.tkfr, c.leverage)  # update_ms, update_id, fee, mkfr, tkfr, leverage
        self._register(o)
        used = c.used_asks if buy else c.used_bids
        for p, q in fills:
            used[p] = used.get(p, ZERO) + q  # consume what we take until the next book
            self._fill(c, o, p, q, _TAKER, now)
        self._after_entry(c, o, now)
        self._flush(now)
        return o

    def _after_entry(self, c: ContractState, o: VenueOrder, now: int) -> None:
        """Finish or rest an order after its immediate fills."""
        if o.left_abs == 0:
            self._finish(c, o, "filled", now)
        elif o.tif in ("ioc", "fok") or o.price == 0:
            self._finish(c, o, "ioc", now)
        elif o.is_reduce_only and self._reducible(c, o.is_buy) == 0:
            self._finish(c, o, "reduce_only", now)
        else:
            self._rest(c, o)
            self._emit_order(o, now)

    def _check_price(self, c: ContractState, price: Decimal) -> None:
        inst = c.inst
        if not inst.is_price_on_tick(price):
            raise VenueError(
                "INVALID_PARAM_VALUE",
                f"price {dstr(price)} is not a multiple of the tick {dstr(inst.price_tick)}",
                hint=f"nearest: {dstr(inst.round_price(price, 'down'))} / {dstr(inst.round_price(price, 'up'))}",
            )
        ref = c.mark
        if ref is not None and abs(price - ref) > ref * inst.price_deviate:
            raise VenueError(
                "PRICE_TOO_DEVIATED",
                f"price {dstr(price)} deviates more than {dstr(inst.price_deviate * 100)}% from mark {dstr(ref)}",
            )

    _check_text = staticmethod(check_text)

    def _available(self) -> Decimal:
        used = ZERO
        for c in self._c.values():
            if c.touched:
                used += c.margin + c.order_margin
        return self._total - used

    def _check_margin(
        self,
        c: ContractState,
        fills: list[tuple[Decimal, Decimal]],
        filled_qty: Decimal,
        qty: Decimal,
        price: Decimal,
        tif: str,
        reducible: Decimal,
    ) -> None:
        """INSUFFICIENT_AVAILABLE unless the opening part of this order fits in the available balance."""
        lev = c.leverage
        rem_reduce = reducible
        open_notional = ZERO
        for p, q in fills:
            r = q if q < rem_reduce else rem_reduce
            rem_reduce -= r
            if q > r:
                open_notional += (q - r) * p
        open_notional *= c.qm
        need = open_notional / lev + (open_notional * c.tkfr if c.tkfr > 0 else ZERO)
        if tif in ("gtc", "poc"):
            rest_open = qty - filled_qty - rem_reduce
            if rest_open > 0:
                need += rest_open * price * c.qm / lev
        if need > 0:
            avail = self._available()
            if need - avail > MARGIN_EPS:
                raise VenueError(
                    "INSUFFICIENT_AVAILABLE",
                    f"order needs {dstr(need)} USDT margin, available {dstr(avail)}",
                    hint="reduce the size, raise the leverage or add funds",
                )

    def _register(self, o: VenueOrder) -> None:
        self._orders[o.id] = o
        if o.text != "api":
            self._by_text[o.text] = o.id

    def _rest(self, c: ContractState, o: VenueOrder) -> None:
        book = c.buys if o.is_buy else c.sells
        self._seq += 1
        o.seq = self._seq
        book.append(o)
        if o.is_buy:
            book.sort(key=lambda x: (-x.price, x.seq))
        else:
            book.sort(key=lambda x: (x.price, x.seq))
        self._dirty.add(o.contract)
        c.touched = True

    def _finish(self, c: ContractState, o: VenueOrder, finish_as: str, now: int) -> None:
        book = c.buys if o.is_buy else c.sells
        if o in book:
            book.remove(o)
            self._dirty.add(o.contract)
        o.status = "finished"
        o.finish_as = finish_as
        o.finish_ms = now
        o.update_ms = now
        o.update_id += 1
        self._finished.append(o)
        if len(self._orders) > 4 * self._max_history:
            self._prune()
        self._emit_order(o, now)

    def _prune(self) -> None:
        """Forget finished orders beyond the history window (keeps long backtests bounded)."""
        keep = {o.id for o in self._finished}
        for oid in [k for k, o in self._orders.items() if not o.is_open and k not in keep]:
            o = self._orders.pop(oid)
            if self._by_text.get(o.text) == oid:
                del self._by_text[o.text]

    def _emit_order(self, o: VenueOrder, now: int) -> None:
        if self._record:  # an open order keeps changing: its event gets a copy; a finished one never changes again
            self._events.append(VenueEvent("order", now, o.snapshot() if o.status == "open" else o))

    def _flush(self, now: int) -> None:
        """Per touched contract: reduce-only hygiene, order margin, one position push."""
        if not self._dirty:
            return
        dirty = sorted(self._dirty) if len(self._dirty) > 1 else list(self._dirty)
        self._dirty.clear()
        for name in dirty:
            c = self._c[name]
            if c.buys or c.sells:
                for book in (c.buys, c.sells):
                    for o in list(book):
                        if o.is_reduce_only and self._reducible(c, o.is_buy) == 0:
                            self._finish(c, o, "reduce_only", now)
                self._dirty.discard(name)
                self._recalc_order_margin(c)
            else:
                c.order_margin = ZERO
            if self._rec_position:
                self._events.append(VenueEvent("position", now, self._position(c)))

    def _recalc_order_margin(self, c: ContractState) -> None:
        size = c.pos.size
        total = ZERO
        for book, reducible in ((c.buys, -size if size < 0 else ZERO), (c.sells, size if size > 0 else ZERO)):
            q = v = ZERO
            for o in book:
                if not o.is_reduce_only:
                    left = o.left_abs
                    q += left
                    v += left * o.price
            if q > reducible:
                total += v * (q - reducible) / q
        c.order_margin = total * c.qm / c.leverage

    # ------------------------------------------------------------------ cancel / amend
    def cancel(self, id_or_text: int | str, *, ts_ms: int | None = None) -> VenueOrder:
        """Gate `DELETE /futures/usdt/orders/{id}`: ORDER_NOT_FOUND if unknown or already finished."""
        now = self._stamp(ts_ms)
        o = self._lookup(id_or_text)
        if not o.is_open:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} is already finished ({o.finish_as})")
        c = self._c[o.contract]
        self._finish(c, o, "cancelled", now)
        self._flush(now)
        return o

    def cancel_all(self, contract: str | None = None, *, side: str | None = None, ts_ms: int | None = None) -> list[VenueOrder]:
        """Gate `DELETE /futures/usdt/orders?contract=&side=ask|bid`: cancels and returns the open orders."""
        now = self._stamp(ts_ms)
        if contract:
            self._contract(contract)
        if side not in (None, "", "ask", "bid"):
            raise VenueError("INVALID_PARAM_VALUE", f"side {side!r} must be 'ask' or 'bid'")
        out = self._cancel_where(contract or None, side or None, "cancelled", now)
        self._flush(now)
        return out

    def _cancel_where(self, contract: str | None, side: str | None, finish_as: str, now: int) -> list[VenueOrder]:
        out: list[VenueOrder] = []
        for name, c in self._c.items():
            if contract is not None and name != contract:
                continue
            books = []
            if side in (None, "bid"):
                books.append(c.buys)
            if side in (None, "ask"):
                books.append(c.sells)
            for book in books:
                for o in sorted(book, key=lambda x: x.id):
                    self._finish(c, o, finish_as, now)
                    out.append(o)
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
        o = self._lookup(id_or_text)
        if not o.is_open:
            raise VenueError("ORDER_NOT_FOUND", f"order {id_or_text} is already finished ({o.finish_as})")
        c = self._c[o.contract]
        if price is None and size is None:
            raise VenueError("INVALID_PARAM_VALUE", "amend needs a new price or a new size")
        new_price = o.price if price is None else to_dec(price, "price")
        new_size = o.size if size is None else to_dec(size, "size")
        if size is not None:
            if o.is_close:
                raise VenueError("INVALID_PARAM_VALUE", "the size of a close order cannot be amended")
            if new_size == 0 or (new_size > 0) != o.is_buy:
                raise VenueError("INVALID_PARAM_VALUE", "amended size must keep the order's side (sign)")
            if not c.inst.is_size_on_step(new_size):
                raise VenueError("INVALID_PARAM_VALUE", f"size {dstr(new_size)} is not a multiple of {dstr(c.inst.size_step)}")
            if abs(new_size) > c.inst.max_size:
                raise VenueError("SIZE_TOO_LARGE", f"size {dstr(abs(new_size))} above the maximum {dstr(c.inst.max_size)}")
        if price is not None:
            if new_price <= 0:
                raise VenueError("INVALID_PARAM_VALUE", "an open order's price must stay > 0")
            self._check_price(c, new_price)
        if abs(new_size) <= o.filled:
            o.amend_text = amend_text or o.amend_text
            self._finish(c, o, "cancelled", now)
            self._flush(now)
            return o
        buy = o.is_buy
        opp = c.asks if buy else c.bids
        crosses = bool(opp) and (opp[0][0] <= new_price if buy else opp[0][0] >= new_price)
        if crosses and o.tif == "poc":
            raise VenueError("ORDER_POC_IMMEDIATE", f"post-only order at {dstr(new_price)} would take liquidity")
        if not o.is_reduce_only:
            old_value = o.left_abs * o.price
            new_value = (abs(new_size) - o.filled) * new_price
            extra = (new_value - old_value) * c.qm / c.leverage
            if extra > 0 and extra > self._available():
                raise VenueError("INSUFFICIENT_AVAILABLE", f"amend needs {dstr(extra)} USDT more margin")
        book = c.buys if buy else c.sells
        lose_priority = new_price != o.price or abs(new_size) > abs(o.size)
        o.price = new_price
        o.size = new_size
        o.update_ms = now
        o.update_id += 1
        o.finish_as = "_update"
        if amend_text:
            o.amend_text = amend_text
        if crosses:
            q = self._fillable(c, o)
            for p, got in self._walk(c, buy, new_price, q, True):
                self._fill(c, o, p, got, _TAKER, now)
        if o.left_abs == 0:
            self._finish(c, o, "filled", now)
        elif o.is_reduce_only and self._reducible(c, buy) == 0:
            self._finish(c, o, "reduce_only", now)
        else:
            if lose_priority:
                book.remove(o)
                self._rest(c, o)  # re-queued behind orders already resting at that price
            self._dirty.add(o.contract)
            self._emit_order(o, now)
        self._flush(now)
        return o

    # ------------------------------------------------------------------ reads
    def get_order(self, id_or_text: int | str) -> VenueOrder:
        """By id (always, within the history window) or by `t-` text (open, or finished < 60 s ago)."""
        return self._lookup(id_or_text)

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
            rows = [o for o in reversed(self._finished) if not contract or o.contract == contract]
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
        rows = [
            t
            for t in reversed(self._trades)
            if (not contract or t.contract == contract) and (order_id is None or t.order_id == order_id)
        ]
        return rows[offset : offset + limit]

    def _position(self, c: ContractState) -> VenuePosition:
        pos = c.pos
        mark = c.ref_price()
        if mark is None:
            mark = pos.entry_price
        value = abs(pos.size) * c.qm * mark
        return VenuePosition(
            user=self.user_id,
            contract=c.inst.symbol,
            size=pos.size,
            entry_price=pos.entry_price,
            mark_price=mark,
            leverage=c.leverage,
            leverage_max=c.inst.leverage_max,
            margin=c.margin,
            maintenance_rate=c.inst.maintenance_rate,
            value=value,
            unrealised_pnl=pos.unrealized_pnl(mark),
            realised_pnl=pos.net_pnl,
            pnl_pnl=pos.realized_pnl,
            pnl_fee=-pos.fees,
            pnl_fund=pos.funding,
            history_pnl=c.history_pnl + pos.net_pnl,
            last_close_pnl=c.last_close_pnl,
            liq_price=c.liq if c.liq is not None else ZERO,
            taker_fee_rate=c.tkfr,
            pending_orders=len(c.buys) + len(c.sells),
            open_ms=c.open_ms if pos.size else 0,
            update_ms=c.update_ms,
            update_id=c.update_id,
        )

    def position(self, contract: str) -> VenuePosition:
        """Gate `GET /futures/usdt/positions/{contract}` (a zero position if never traded)."""
        return self._position(self._contract(contract))

    def positions(self, *, holding: bool = False) -> list[VenuePosition]:
        """Positions of every contract traded or configured so far (`holding=True`: non-zero only)."""
        out = []
        for c in self._c.values():
            keep = c.pos.size != 0 if holding else (c.touched or c.pos.size != 0)
            if keep:
                out.append(self._position(c))
        return out

    def unrealised_pnl(self) -> Decimal:
        total = ZERO
        for c in self._c.values():
            if c.pos.size:
                mark = c.ref_price()
                if mark is not None:
                    total += c.pos.unrealized_pnl(mark)
        return total

    def available_balance(self) -> Decimal:
        """`account().available` (the same sums in the same order) without building the account."""
        pm = om = ZERO
        for c in self._c.values():
            if c.touched:
                pm += c.margin
                om += c.order_margin
        return self._total - pm - om

    def account(self) -> VenueAccount:
        """Gate `GET /futures/usdt/accounts`."""
        pm = om = mm = ZERO
        for c in self._c.values():
            if c.touched:
                pm += c.margin
                om += c.order_margin
                if c.pos.size:
                    mark = c.ref_price() or c.pos.entry_price
                    mm += abs(c.pos.size) * c.qm * mark * c.inst.maintenance_rate
        return VenueAccount(
            user=self.user_id,
            total=self._total,
            available=self._total - pm - om,
            position_margin=pm,
            order_margin=om,
            unrealised_pnl=self.unrealised_pnl(),
            maintenance_margin=mm,
            history_dnw=self._dnw,
            history_pnl=self._hist_pnl,
            history_fee=self._hist_fee,
            history_fund=self._hist_fund,
        )

    @property
    def total(self) -> Decimal:
        """Wallet balance (cash): cheaper than account() on hot paths."""
        return self._total

    def equity(self) -> Decimal:
        return self._total + self.unrealised_pnl()

    # ------------------------------------------------------------------ leverage, margin, cash, funding
    def set_leverage(self, contract: str, leverage: Decimal | int | str, *, ts_ms: int | None = None) -> VenuePosition:
        """Gate `POST /positions/{contract}/leverage` (isolated only: 0 = cross is not simulated)."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        lev = to_dec(leverage, "leverage")
        if lev == 0:
            raise VenueError(
                "INVALID_PARAM_VALUE", "cross margin (leverage 0) is not simulated", hint="use a leverage >= 1"
            )
        if lev < c.inst.leverage_min:
            raise VenueError("LEVERAGE_TOO_LOW", f"leverage {dstr(lev)} below {dstr(c.inst.leverage_min)}")
        if lev > c.inst.leverage_max:
            raise VenueError("LEVERAGE_TOO_HIGH", f"leverage {dstr(lev)} above {dstr(c.inst.leverage_max)}")
        pos = c.pos
        new_margin = abs(pos.size) * c.qm * pos.entry_price / lev if pos.size else ZERO
        if pos.size:
            extra = new_margin - c.margin
            if extra > 0 and extra > self._available():
                raise VenueError("INSUFFICIENT_AVAILABLE", f"leverage {dstr(lev)} needs {dstr(extra)} USDT more margin")
            liq = pos.liquidation_price(c.inst.maintenance_rate, new_margin)
            mark = c.ref_price()
            if liq is not None and mark is not None and ((pos.size > 0 and mark <= liq) or (pos.size < 0 and mark >= liq)):
                raise VenueError("LIQUIDATE_IMMEDIATELY", f"leverage {dstr(lev)} would liquidate the position now")
        c.leverage = lev
        pos.leverage = lev
        c.margin = new_margin
        c.liq = self._liq_price(c)
        c.touched = True
        c.update_ms = now
        c.update_id += 1
        self._dirty.add(contract)
        self._flush(now)
        return self._position(c)

    def update_margin(self, contract: str, change: Decimal | int | str, *, ts_ms: int | None = None) -> VenuePosition:
        """Gate `POST /positions/{contract}/margin`: add (> 0) or remove (< 0) isolated margin."""
        c = self._contract(contract)
        now = self._stamp(ts_ms)
        delta = to_dec(change, "change")
        if c.pos.size == 0:
            raise VenueError("POSITION_EMPTY", f"no {contract} position to change the margin of")
        if delta > 0 and delta > self._available():
            raise VenueError("INSUFFICIENT_AVAILABLE", f"adding {dstr(delta)} USDT margin exceeds the available balance")
        if delta < 0:
            floor = abs(c.pos.size) * c.qm * c.pos.entry_price / c.leverage
            if c.margin + delta < floor:
                raise VenueError("REMOVE_TOO_MUCH", f"margin cannot go below the initial margin {dstr(floor)}")
        c.margin += delta
        c.liq = self._liq_price(c)
        c.update_ms = now
        c.update_id += 1
        self._dirty.add(contract)
        self._flush(now)
        mark = c.mark
        if mark is not None and c.liq is not None:
            self.update_mark(contract, mark, now)
        return self._position(c)

    def deposit(self, amount: Decimal | int | str, *, ts_ms: int | None = None) -> Decimal:
        """Move USDT in (> 0) or out (< 0) of the futures wallet (Gate `dnw`); returns the new total."""
        now = self._stamp(ts_ms)
        amt = to_dec(amount, "amount")
        if amt < 0 and -amt > self._available():
            raise VenueError("INSUFFICIENT_AVAILABLE", f"cannot withdraw {dstr(-amt)}: available {dstr(self._available())}")
        self._total += amt
        self._dnw += amt
        if self._record:
            self._events.append(VenueEvent("balance", now, BalanceChange(self.user_id, self._total, amt, "dnw", "deposit", now)))
        return self._total

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
        px = c.ref_price()
        if px is None:
            raise VenueError("INVALID_PARAM_VALUE", f"no mark price for {contract} yet: call update_mark first")
        amount = c.pos.apply_funding(r, px, now)
        self._total += amount
        self._hist_fund += amount
        c.update_ms = now
        c.update_id += 1
        self._dirty.add(contract)
        if self._record and amount:
            self._events.append(VenueEvent("balance", now, BalanceChange(self.user_id, self._total, amount, "fund", contract, now)))
        self._flush(now)
        return amount

    # ------------------------------------------------------------------ liquidation
    def _liquidate(self, c: ContractState, now: int) -> None:
        pos = c.pos
        size = pos.size
        liq = c.liq
        if not size or liq is None:
            return
        self._cancel_where(c.inst.symbol, None, "liquidated", now)
        entry, margin, lev = pos.entry_price, c.margin, c.leverage
        mark = c.mark if c.mark is not None else liq
        self._next_order += 1
        o = VenueOrder(
            id=self._next_order,
            user=self.user_id,
            contract=c.inst.symbol,
            size=-size,
            price=liq,
            tif="ioc",
            text="liquidation",
            create_ms=now,
            is_reduce_only=True,
            is_close=True,
            is_liq=True,
            update_ms=now,
            leverage=lev,
        )
        self._orders[o.id] = o
        self._fill(c, o, liq, abs(size), _TAKER, now, fee_rate=ZERO)
        self._finish(c, o, "liquidated", now)
        if self._record:
            self._events.append(
                VenueEvent("liquidate", now, Liquidation(self.user_id, c.inst.symbol, size, entry, liq, mark, margin, lev, o.id, now))
            )

    # ------------------------------------------------------------------ events
    def has_events(self) -> bool:
        """Whether anything happened since the last `drain_events()` (a cheap check before draining)."""
        return bool(self._events)

    def drain_events(self) -> list[VenueEvent]:
        """Private-channel pushes since the last call, in the order they happened."""
        out = self._events
        self._events = []
        if self._kinds is not None and out:
            kinds = self._kinds
            out = [e for e in out if e.kind in kinds]
        return out

    def open_orders_count(self, contract: str | None = None) -> int:
        if contract:
            c = self._contract(contract)
            return len(c.buys) + len(c.sells)
        return sum(len(c.buys) + len(c.sells) for c in self._c.values())

    def iter_open_orders(self) -> Iterable[VenueOrder]:
        for c in self._c.values():
            yield from c.buys
            yield from c.sells
