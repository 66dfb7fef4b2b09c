"""Order entry and matching against the external book: place, amend, cancel, maker and taker fills,
the liquidation order, and the per-call flush (reduce-only hygiene, order margin, position push).

See venue.py for the fill model. Every public entry point of `Venue` resolves the contract and the time
first and hands the `ContractState` and `now` in here.
"""

from __future__ import annotations

from decimal import Decimal

from cashup_tui.domain.enums import Liquidity, Side
from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position
from cashup_tui.venue.accounts import Wallet
from cashup_tui.venue.base import TIFS, ZERO, ContractState, VenueError, check_text, to_dec
from cashup_tui.venue.events import Recorder
from cashup_tui.venue.margin import check_margin, liq_price, recalc_order_margin, reducible
from cashup_tui.venue.models import BalanceChange, Liquidation, VenueEvent, VenueOrder, VenueTrade, dstr
from cashup_tui.venue.registry import OrderRegistry

_BUY, _SELL, _MAKER, _TAKER = Side.BUY, Side.SELL, Liquidity.MAKER, Liquidity.TAKER  # see members_of


class Matching:
    """The user's resting orders per contract (in `ContractState.buys/sells`) and every execution."""

    __slots__ = ("contracts", "dirty", "rec", "reg", "seq", "user_id", "wallet")

    def __init__(
        self, contracts: dict[str, ContractState], reg: OrderRegistry, wallet: Wallet, rec: Recorder, user_id: int
    ) -> None:
        self.contracts = contracts
        self.reg = reg
        self.wallet = wallet
        self.rec = rec
        self.user_id = user_id
        self.seq = 0
        self.dirty: set[str] = set()  # contracts whose orders or position changed in this call

    # ------------------------------------------------------------------ walking the external book
    def walk(
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
            if avail <= ZERO:
                continue
            q = avail if avail < remaining else remaining
            out.append((price, q))
            if consume:
                used[price] = used.get(price, ZERO) + q
            remaining -= q
            if not remaining:
                break
        return out

    def fillable(self, c: ContractState, o: VenueOrder) -> Decimal:
        left = o.left_abs
        if o.is_reduce_only:
            red = reducible(c, o.is_buy)
            return red if red < left else left
        return left

    # ------------------------------------------------------------------ maker fills
    def match_resting(self, c: ContractState, now: int) -> None:
        """Resting orders that the new book reaches fill at their own price as makers."""
        if c.buys and c.asks:
            best_ask = c.asks[0][0]
            for o in list(c.buys):
                if o.price < best_ask:
                    break
                q = self.fillable(c, o)
                got = sum((lv[1] for lv in self.walk(c, True, o.price, q, True)), ZERO) if q > 0 else ZERO
                if got:
                    self.fill(c, o, o.price, got, _MAKER, now)
                self.settle_resting(c, o, now, bool(got))
        if c.sells and c.bids:
            best_bid = c.bids[0][0]
            for o in list(c.sells):
                if o.price > best_bid:
                    break
                q = self.fillable(c, o)
                got = sum((lv[1] for lv in self.walk(c, False, o.price, q, True)), ZERO) if q > 0 else ZERO
                if got:
                    self.fill(c, o, o.price, got, _MAKER, now)
                self.settle_resting(c, o, now, bool(got))

    def trade_through(self, c: ContractState, price: Decimal, qty: Decimal, now: int) -> None:
        """A public trade of `qty` at `price`: resting orders it trades through fill (up to `qty` per side)."""
        touched = False
        for book in (c.buys, c.sells):
            avail = qty
            for o in list(book):
                if avail <= 0:
                    break
                if not (price < o.price if o.is_buy else price > o.price):
                    break  # sorted best first: no later order is traded through either
                q = min(self.fillable(c, o), avail)
                if q > 0:
                    self.fill(c, o, o.price, q, _MAKER, now)
                    avail -= q
                    touched = True
                self.settle_resting(c, o, now, q > 0)
        if touched:
            self.flush(now)

    def settle_resting(self, c: ContractState, o: VenueOrder, now: int, filled_now: bool) -> None:
        """After a resting order may have filled: finish it if done, or if reduce-only with nothing to reduce."""
        if not o.is_open:
            return
        if o.left_abs == 0:
            self.finish(c, o, "filled", now)
        elif o.is_reduce_only and reducible(c, o.is_buy) == 0:
            self.finish(c, o, "reduce_only", now)
        elif filled_now:
            self.emit_order(o, now)

    # ------------------------------------------------------------------ one execution
    def fill(
        self, c: ContractState, o: VenueOrder, price: Decimal, qty: Decimal, role: Liquidity, now: int, *, fee_rate: Decimal | None = None
    ) -> VenueTrade:
        """Book one execution: position, margin, wallet, order, trade record, events."""
        qm = c.qm
        notional = qty * qm * price
        rate = fee_rate if fee_rate is not None else (c.mkfr if role is _MAKER else c.tkfr)
        fee = notional * rate
        pos = c.pos
        old = pos.size
        buy = o.size > ZERO  # == o.is_buy, without the property (per fill)
        reg = self.reg
        reg.next_trade += 1
        tid = reg.next_trade
        # positional: this runs for every fill (ids are plain str at run time; NewType calls cost a frame)
        fill = Fill(str(tid), o.text, o.contract, _BUY if buy else _SELL, qty, price, fee, now, str(o.id), role)  # type: ignore[arg-type]
        realized = pos.apply_fill(fill)
        new = pos.size
        lev = c.leverage
        closing = ZERO
        if old == ZERO or (old > ZERO) == buy:  # open or increase
            c.margin += notional / lev
            if old == ZERO:
                c.open_ms = now
        else:
            closing = min(qty, abs(old))
            if new == ZERO:
                c.margin = ZERO
                self.close_lifecycle(c, lev)
            elif (new > ZERO) == (old > ZERO):
                c.margin = c.margin * abs(new) / abs(old)
            else:  # flip: the closed part ends a lifecycle, the rest opens a new one at this price
                c.margin = abs(new) * qm * price / lev
                self.close_lifecycle(c, lev)
                c.pos = Position(o.contract, qm, size=new, entry_price=price, leverage=lev, updated_ms=now)
                c.open_ms = now
        w = self.wallet
        w.total += realized - fee
        w.hist_pnl += realized
        w.hist_fee += fee
        if o.seq:  # it was resting: Gate marks later pushes of an open order `_update`
            o.finish_as = "_update"
        o.filled += qty
        o.fill_value += price * qty
        o.fee += fee
        o.update_ms = now
        o.update_id += 1
        trade = VenueTrade(tid, o.id, o.contract, qty if buy else -qty, price, "maker" if role is _MAKER else "taker",
                           fee, o.text, now, closing if buy else -closing, realized, fill)  # positional: per fill
        reg.trades.append(trade)
        c.update_ms = now
        c.update_id += 1
        c.touched = True
        c.liq = liq_price(c)
        self.dirty.add(o.contract)
        rec = self.rec
        if rec.record:
            ev = rec.events
            ev.append(VenueEvent("usertrade", now, trade))
            if realized and rec.rec_balance:
                ev.append(
                    VenueEvent("balance", now, BalanceChange(self.user_id, w.total + fee, realized, "pnl", f"{o.contract}:{o.id}", now))
                )
            if fee and rec.rec_balance:
                ev.append(VenueEvent("balance", now, BalanceChange(self.user_id, w.total, -fee, "fee", f"{o.contract}:{o.id}", now)))
        return trade

    def close_lifecycle(self, c: ContractState, lev: Decimal) -> None:
        """The position went flat (or flipped): book its net PnL in history and start a fresh Position."""
        net = c.pos.net_pnl
        c.last_close_pnl = net
        c.history_pnl += net
        c.pos = Position(c.inst.symbol, c.qm, leverage=lev, updated_ms=c.pos.updated_ms)

    # ------------------------------------------------------------------ order entry
    def place(
        self,
        c: ContractState,
        now: int,
        contract: str,
        size: Decimal | int | str,
        price: Decimal | int | str,
        tif: str,
        reduce_only: bool,
        close: bool,
        text: str,
        iceberg: Decimal | int | str,
    ) -> VenueOrder:
        """Gate `POST /futures/usdt/orders` on a resolved contract at `now`; the order after its immediate matching."""
        size = to_dec(size, "size")
        price = price if price is ZERO else to_dec(price, "price")
        inst = c.inst
        tif = (tif or "gtc").lower()
        if tif not in TIFS:
            raise VenueError("INVALID_PARAM_VALUE", f"tif {tif!r} must be one of gtc, ioc, poc, fok")
        if close:
            if size != ZERO:
                raise VenueError("INVALID_PARAM_VALUE", "size must be 0 when close is true")
            if c.pos.size == ZERO:
                raise VenueError("POSITION_EMPTY", f"no {contract} position to close")
            size = -c.pos.size
            reduce_only = True
        elif size == ZERO:
            raise VenueError("INVALID_PARAM_VALUE", "size must be non-zero (+ buy, - sell), or 0 with close=true")
        qty = abs(size)
        if not inst.is_size_on_step(qty):
            raise VenueError("INVALID_PARAM_VALUE", f"size {dstr(size)} is not a multiple of {dstr(inst.size_step)}")
        if qty < inst.min_size and not close:
            raise VenueError("SIZE_TOO_SMALL", f"size {dstr(qty)} below the minimum {dstr(inst.min_size)}")
        if qty > inst.max_size:
            raise VenueError("SIZE_TOO_LARGE", f"size {dstr(qty)} above the maximum {dstr(inst.max_size)}")
        if price < ZERO:
            raise VenueError("INVALID_PARAM_VALUE", f"price {dstr(price)} must be >= 0 (0 = market)")
        if price == ZERO:
            if tif not in ("ioc", "fok"):
                raise VenueError("INVALID_PARAM_VALUE", "market orders (price 0) need tif ioc or fok")
        else:
            self.check_price(c, price)
        text = check_text(text)
        if inst.in_delisting and not reduce_only:
            raise VenueError("CONTRACT_IN_DELISTING", f"{contract} is delisting: only reduce-only orders")
        ice = iceberg if iceberg is ZERO else to_dec(iceberg, "iceberg")
        buy = size > ZERO
        red = reducible(c, buy)
        if reduce_only and red == ZERO:
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
            takeable = min(qty, red) if reduce_only else qty
            fills = self.walk(c, buy, limit, takeable, False)
        filled_qty = ZERO
        for _, q in fills:
            filled_qty += q
        if tif == "fok" and filled_qty < qty:
            raise VenueError("ORDER_FOK", f"fill-or-kill: only {dstr(filled_qty)} of {dstr(qty)} available")
        if not reduce_only:
            check_margin(c, fills, filled_qty, qty, price, tif, red, self.wallet)
        reg = self.reg
        reg.next_order += 1
        # positional, in VenueOrder's field order (every order of a backtest comes here)
        o = VenueOrder(reg.next_order, self.user_id, contract, size, price, tif, text, now,  # id .. create_ms
                       reduce_only, close, False, ice, ZERO, ZERO, "open", "_new", 0,  # is_reduce_only .. finish_ms
                       now, 1, ZERO, c.mkfr, c.tkfr, c.leverage)  # update_ms, update_id, fee, mkfr, tkfr, leverage
        reg.register(o)
        used = c.used_asks if buy else c.used_bids
        for p, q in fills:
            used[p] = used.get(p, ZERO) + q  # consume what we take until the next book
            self.fill(c, o, p, q, _TAKER, now)
        self.after_entry(c, o, now)
        self.flush(now)
        return o

    def after_entry(self, c: ContractState, o: VenueOrder, now: int) -> None:
        """Finish or rest an order after its immediate fills."""
        if o.left_abs == ZERO:
            self.finish(c, o, "filled", now)
        elif o.tif in ("ioc", "fok") or o.price == ZERO:
            self.finish(c, o, "ioc", now)
        elif o.is_reduce_only and reducible(c, o.is_buy) == ZERO:
            self.finish(c, o, "reduce_only", now)
        else:
            self.rest(c, o)
            self.emit_order(o, now)

    def check_price(self, c: ContractState, price: Decimal) -> None:
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

    def rest(self, c: ContractState, o: VenueOrder) -> None:
        book = c.buys if o.is_buy else c.sells
        self.seq += 1
        o.seq = self.seq
        book.append(o)
        if o.is_buy:
            book.sort(key=lambda x: (-x.price, x.seq))
        else:
            book.sort(key=lambda x: (x.price, x.seq))
        self.dirty.add(o.contract)
        c.touched = True

    def finish(self, c: ContractState, o: VenueOrder, finish_as: str, now: int) -> None:
        book = c.buys if o.is_buy else c.sells
        if o in book:
            book.remove(o)
            self.dirty.add(o.contract)
        o.status = "finished"
        o.finish_as = finish_as
        o.finish_ms = now
        o.update_ms = now
        o.update_id += 1
        self.reg.finished_one(o)
        self.emit_order(o, now)

    def emit_order(self, o: VenueOrder, now: int) -> None:
        if self.rec.record:  # an open order keeps changing: its event gets a copy; a finished one never changes again
            self.rec.events.append(VenueEvent("order", now, o.snapshot() if o.status == "open" else o))

    def flush(self, now: int) -> None:
        """Per touched contract: reduce-only hygiene, order margin, one position push."""
        if not self.dirty:
            return
        dirty = sorted(self.dirty) if len(self.dirty) > 1 else list(self.dirty)
        self.dirty.clear()
        rec = self.rec
        for name in dirty:
            c = self.contracts[name]
            if c.buys or c.sells:
                for book in (c.buys, c.sells):
                    for o in list(book):
                        if o.is_reduce_only and reducible(c, o.is_buy) == 0:
                            self.finish(c, o, "reduce_only", now)
                self.dirty.discard(name)
                recalc_order_margin(c)
            else:
                c.order_margin = ZERO
            if rec.rec_position:
                rec.events.append(VenueEvent("position", now, self.wallet.position(c)))

    # ------------------------------------------------------------------ cancel / amend
    def cancel_where(self, contract: str | None, side: str | None, finish_as: str, now: int) -> list[VenueOrder]:
        """Finish the open orders of `contract` (None: all) on `side` ("bid", "ask", None: both), by id."""
        out: list[VenueOrder] = []
        for name, c in self.contracts.items():
            if contract is not None and name != contract:
                continue
            books = []
            if side in (None, "bid"):
                books.append(c.buys)
            if side in (None, "ask"):
                books.append(c.sells)
            for book in books:
                for o in sorted(book, key=lambda x: x.id):
                    self.finish(c, o, finish_as, now)
                    out.append(o)
        return out

    def amend(
        self, o: VenueOrder, price: Decimal | int | str | None, size: Decimal | int | str | None, amend_text: str, now: int
    ) -> VenueOrder:
        """New price and/or new total size of an open order (see `Venue.amend`)."""
        c = self.contracts[o.contract]
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
            self.check_price(c, new_price)
        if abs(new_size) <= o.filled:
            o.amend_text = amend_text or o.amend_text
            self.finish(c, o, "cancelled", now)
            self.flush(now)
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
            if extra > 0 and extra > self.wallet.available():
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
            q = self.fillable(c, o)
            for p, got in self.walk(c, buy, new_price, q, True):
                self.fill(c, o, p, got, _TAKER, now)
        if o.left_abs == 0:
            self.finish(c, o, "filled", now)
        elif o.is_reduce_only and reducible(c, buy) == 0:
            self.finish(c, o, "reduce_only", now)
        else:
            if lose_priority:
                book.remove(o)
                self.rest(c, o)  # re-queued behind orders already resting at that price
            self.dirty.add(o.contract)
            self.emit_order(o, now)
        self.flush(now)
        return o

    # ------------------------------------------------------------------ liquidation
    def liquidate(self, c: ContractState, now: int) -> None:
        """Cancel the contract's open orders (`liquidated`) and close the position at the liquidation price
        with a fee-free order (text "liquidation"); losses beyond that price are the insurance fund's."""
        pos = c.pos
        size = pos.size
        liq = c.liq
        if not size or liq is None:
            return
        self.cancel_where(c.inst.symbol, None, "liquidated", now)
        entry, margin, lev = pos.entry_price, c.margin, c.leverage
        mark = c.mark if c.mark is not None else liq
        reg = self.reg
        reg.next_order += 1
        o = VenueOrder(
            id=reg.next_order,
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
        reg.orders[o.id] = o
        self.fill(c, o, liq, abs(size), _TAKER, now, fee_rate=ZERO)
        self.finish(c, o, "liquidated", now)
        if self.rec.record:
            self.rec.events.append(
                VenueEvent("liquidate", now, Liquidation(self.user_id, c.inst.symbol, size, entry, liq, mark, margin, lev, o.id, now))
            )
