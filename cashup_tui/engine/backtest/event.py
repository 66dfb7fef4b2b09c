"""The event engine: bars replayed one at a time through the strategy's hooks and the shared venue.

Each bar: at its open, orders the strategy asked for at the previous close execute (targets become
market orders sized like the fast engine; market `buy`/`sell` fill at the open, with slippage);
then the bar's path runs through the venue (open -> low -> high -> close when the bar closes up,
open -> high -> low -> close when it closes down) so resting limit orders fill where the bar
reaches them (the venue's touch-fill model) and stops/take-profits are checked pessimistically
(stop first); at the close the mark moves to the close, funding settles, equity is recorded, and
the strategy's `on_bar` runs (its limit orders rest from that close).

It uses the same `Venue` the simulator and paper trading use (Decimal money, Gate rules). The
venue class is passed in by the caller (the CLI), because engine code never imports adapters.
The risk engine and order manager are not in this path yet: orders go straight to the venue.

Same answer as the fast engine (tests hold it to that on real candles) for all-in / percent /
notional sizing with leverage <= 1; above 1x the venue's margin rule caps all-in sizes, and
liquidation follows the venue's maintenance-margin rule instead of the fast engine's
bankruptcy price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from cashup_tui.domain.errors import ExchangeError, StrategyError, ValidationError
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar
from cashup_tui.engine.backtest.model import TRADE_DTYPE, Result, RunConfig
from cashup_tui.engine.strategy import Bars, Strategy, where

__all__ = ["run_event"]

D = Decimal


def _d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


@dataclass(frozen=True, slots=True)
class SimFill:
    """What `on_fill` receives."""

    order_id: str
    side: str  # "buy" | "sell"
    qty: float  # base units (coins)
    price: float
    fee: float
    ts_ms: int
    tag: str = ""


class _Ctx:
    """The StrategyContext of the event engine (see cashup_tui.engine.strategy.StrategyContext)."""

    def __init__(self, eng: _Engine) -> None:
        self._e = eng
        self.symbol = eng.sym

    @property
    def position(self) -> float:
        return float(self._e.pos) * self._e.qm

    @property
    def equity(self) -> float:
        return float(self._e.venue.equity())

    @property
    def allow_short(self) -> bool:
        return self._e.cfg.allow_short

    def target(self, exposure: float) -> None:
        v = float(np.sign(exposure))
        if v < 0 and not self._e.cfg.allow_short:
            v = 0.0
        self._e.desired = int(v)
        self._e.targeting = True
        if v != 0:
            self._e.blocked = False

    def buy(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._e.order(abs(qty), price, tag)

    def sell(self, qty: float, price: float | None = None, tag: str = "") -> str:
        return self._e.order(-abs(qty), price, tag)

    def cancel(self, order_id: str) -> None:
        self._e.venue.cancel(int(order_id), ts_ms=self._e.now)

    def cancel_all(self) -> None:
        self._e.venue.cancel_all(self._e.sym, ts_ms=self._e.now)

    def open_orders(self) -> list[Any]:
        return [o for o in self._e.venue.iter_open_orders() if o.contract == self._e.sym]

    def log(self, message: str) -> None:
        self._e.logs.append((self._e.now, message))


class _Engine:
    def __init__(self, strategy: Strategy, bars: Bars, cfg: RunConfig, venue_factory: Callable[..., Any]) -> None:
        self.s, self.bars, self.cfg = strategy, bars, cfg
        self.sym = bars.symbol or "BTC_USDT"
        self.inst: Instrument = cfg.instrument or Instrument(
            symbol=self.sym, quanto_multiplier=D(1), price_tick=D("1e-8"), size_step=D("1e-12"),
            min_size=D("1e-12"), max_size=D(10**12), leverage_max=D(125))
        self.qm = float(self.inst.quanto_multiplier)
        lev = D(repr(cfg.leverage)) if cfg.leverage >= 1 else D(1)
        self.venue = venue_factory({self.sym: self.inst}, balance=_d(cfg.cash), fee_bps=_d(cfg.fee_bps),
                                   default_leverage=lev, record_events=True)
        self.fee, self.slip = cfg.fee, cfg.slip
        self.desired = 0
        self.targeting = False  # True once the strategy uses target(): only then does the engine steer the position
        self.blocked = False
        self.pending: list[tuple[float, str]] = []  # market orders for the next open (signed qty, tag)
        self.now = 0
        self.i = 0
        self.logs: list[tuple[int, str]] = []
        self.trades: list[tuple] = []
        self.ep: dict[str, Any] | None = None  # the open position episode
        self.reason = "signal"
        self.ctx = _Ctx(self)
        self.stop, self.take = strategy.stops()
        self.tags: dict[int, str] = {}
        self.rejected = 0
        self.pos = D(0)  # contracts, kept from our fills: venue.position() builds a snapshot (slow per bar)

    # -- orders --------------------------------------------------------------------------
    def order(self, qty: float, price: float | None, tag: str) -> str:
        if price is None:
            self.pending.append((qty, tag))
            return f"pending-{len(self.pending)}"
        size = self.inst.round_size(_d(qty / self.qm))
        if size == 0:
            raise ValidationError(f"order of {qty} {self.sym} is below the size step")
        try:
            o = self.venue.place(self.sym, size, self.inst.round_price(_d(price)), tif="gtc", text=_text(tag),
                                 ts_ms=self.now)
        except ExchangeError as exc:  # the venue refused it, as Gate would: the strategy carries on
            self._reject(exc)
            return ""
        self.tags[o.id] = tag
        self._drain()
        return str(o.id)

    def _market(self, size: Decimal, px: float, *, close: bool = False, tag: str = "") -> None:
        self.venue.update_price(self.sym, _d(px), self.now)
        self._drain()
        try:
            if close:
                if self.pos != 0:
                    self.venue.place(self.sym, 0, 0, tif="ioc", close=True, text=_text(tag), ts_ms=self.now)
            elif size != 0:
                self.venue.place(self.sym, size, 0, tif="ioc", text=_text(tag), ts_ms=self.now)
        except ExchangeError as exc:
            self._reject(exc)
        self._drain()

    def _reject(self, exc: ExchangeError) -> None:
        self.rejected += 1
        self.logs.append((self.now, f"rejected: {str(exc).splitlines()[0]}"))

    def _units(self, p: float) -> float:
        eq = float(self.venue.account().available)
        lev, f, sz = self.cfg.leverage, self.fee, self.cfg.sizer
        cap = min(lev * eq / (p * (1 + f)), eq / (p * (1 / max(lev, 1e-12) + f)) if lev > 1 else lev * eq / (p * (1 + f)))
        if sz.kind == "all-in":
            return cap
        if sz.kind == "percent":
            return cap * sz.value / 100.0
        if sz.kind == "notional":
            return min(sz.value * lev / p, cap)
        raise ValidationError("the atr sizer is not available on the event engine yet", hint="use --engine fast")

    # -- fills -> strategy + position episodes --------------------------------------------
    def _drain(self) -> None:
        for ev in self.venue.drain_events():
            if ev.kind != "usertrade":
                continue
            t = ev.data
            self.pos += t.size
            size, price, fee = float(t.size) * self.qm, float(t.price), float(t.fee)
            self._episode(size, price, fee, t)
            if "liquidation" in (t.text or ""):
                continue
            fill = SimFill(str(t.order_id), "buy" if size > 0 else "sell", abs(size), price, fee, self.now,
                           self.tags.get(t.order_id, ""))
            self._guard(self.s.on_fill, self.ctx, fill)

    def _episode(self, size: float, price: float, fee: float, t: Any) -> None:
        pos_after = float(self.pos) * self.qm
        pos_before = pos_after - size
        acct = self.venue.account()
        if self.ep is None and pos_before == 0 and size != 0:
            self.ep = {"i": self.i, "side": 1 if size > 0 else -1, "qin": 0.0, "vin": 0.0, "qout": 0.0, "vout": 0.0,
                       "fees": 0.0, "start": float(acct.total) + fee, "fund0": float(acct.history_fund)}
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
        if pos_after == 0:
            reason = "liquid" if "liquidation" in (t.text or "") else self.reason
            self._close_episode(reason, self.i, float(acct.total), float(acct.history_fund))

    def _close_episode(self, reason: str, i: int, total: float, fund: float, exit_px: float | None = None) -> None:
        ep = self.ep
        assert ep is not None
        xp = exit_px if exit_px is not None else (ep["vout"] / ep["qout"] if ep["qout"] else 0.0)
        self.trades.append((ep["i"], i, ep["side"], ep["vin"] / ep["qin"] if ep["qin"] else 0.0, xp, ep["qin"],
                            total - ep["start"], ep["fees"], -(fund - ep["fund0"]), reason, total))
        self.ep = None

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (StrategyError, ValidationError):
            raise
        except Exception as exc:
            raise StrategyError(
                f"strategy {self.s.label()} raised {type(exc).__name__}: {exc} at {where(exc, self.s)}",
                hint="fix the strategy file; the run was not stored",
            ) from exc

    # -- the bar loop ----------------------------------------------------------------------
    def run(self) -> Result:
        b = self.bars
        n = len(b)
        t, o, h, lo, c, v = (x.tolist() for x in (b.time_ms, b.open, b.high, b.low, b.close, b.volume))
        tf = int(np.median(np.diff(b.time_ms))) if n > 1 else 60_000
        fund_at = self._funding_per_bar(b)
        equity = np.empty(n)
        position = np.zeros(n, dtype=np.int8)
        entry_px = 0.0
        self._guard(self.s.on_start, self.ctx)
        for i in range(n):
            self.i = i
            self.now = t[i]
            if i > 0:
                resting = self.venue.open_orders_count(self.sym) > 0
                cur = self._side()
                want = 0 if self.blocked else self.desired
                if resting:
                    self.reason = "order"
                    self.venue.update_price(self.sym, _d(o[i]), self.now)  # gaps fill resting orders at the open
                    self._drain()
                    cur = self._side()
                self.reason = "signal"
                if self.targeting and want != cur:
                    if cur != 0:
                        self._market(D(0), o[i] * (1 - self.slip * cur), close=True)
                    if want != 0:
                        p = o[i] * (1 + self.slip * want)
                        units = self._units(p)
                        size = self.inst.round_size(_d(want * units / self.qm))
                        if size != 0:
                            self._market(size, p)
                            entry_px = p
                for qty, tag in self.pending:
                    px = o[i] * (1 + self.slip * (1 if qty > 0 else -1))
                    size = self.inst.round_size(_d(qty / self.qm))
                    if size != 0:
                        self._market(size, px, tag=tag)
                self.pending = []
                if self.pos != 0 or resting or self.venue.open_orders_count(self.sym):
                    self._path(i, o[i], h[i], lo[i], c[i], entry_px)
            self.now = t[i] + tf - 1
            if self.pos != 0 or self.venue.open_orders_count(self.sym):  # flat and no orders: nothing to mark
                self.venue.update_price(self.sym, _d(c[i]), self.now)
                self._drain()
                if fund_at[i] and self.pos != 0:
                    self.venue.apply_funding(self.sym, _d(fund_at[i]), self.now, mark=_d(c[i]))
                equity[i] = float(self.venue.equity())
            else:
                equity[i] = float(self.venue.total)
            position[i] = self._side()
            bar = Bar(self.sym, b.timeframe, t[i], o[i], h[i], lo[i], c[i], v[i])
            self._guard(self.s.on_bar, self.ctx, bar)
        self._guard(self.s.on_stop, self.ctx)
        if self.ep is not None:  # still open: marked to the last close, no exit fee
            acct = self.venue.account()
            self._close_episode("end", n - 1, float(acct.equity), float(acct.history_fund), exit_px=c[-1])
        tr = np.zeros(len(self.trades), dtype=TRADE_DTYPE)
        for k, row in enumerate(self.trades):
            tr[k] = row
        return Result(strategy=self.s.label(), params=dict(self.s.params), config=self.cfg, time_ms=b.time_ms,
                      close=b.close, equity=equity, position=position, trades=tr, engine="event", timeframe_ms=tf,
                      symbol=b.symbol, timeframe=b.timeframe, rejected=self.rejected,
                      notes=[m for _, m in self.logs[:20]])

    def _side(self) -> int:
        s = self.pos
        return 1 if s > 0 else -1 if s < 0 else 0

    def _path(self, i: int, o: float, h: float, lo: float, c: float, entry: float) -> None:
        """Intrabar: stops/takes (pessimistic), then the price path through resting orders."""
        side = self._side()
        if side and (self.stop or self.take) and self.ep is not None:
            p = self.ep["vin"] / self.ep["qin"] if self.ep["qin"] else entry
            first = self.ep["i"] == i
            if side > 0:
                sp = p * (1 - self.stop) if self.stop else None
                tp = p * (1 + self.take) if self.take else None
                hit_s, hit_t = sp is not None and lo <= sp, tp is not None and h >= tp
            else:
                sp = p * (1 + self.stop) if self.stop else None
                tp = p * (1 - self.take) if self.take else None
                hit_s, hit_t = sp is not None and h >= sp, tp is not None and lo <= tp
            if hit_s:
                px = sp if first else (min(o, sp) if side > 0 else max(o, sp))
                self.reason = "stop"
                self._market(D(0), px * (1 - self.slip * side), close=True)
                self.blocked = True
            elif hit_t:
                px = tp if first else (max(o, tp) if side > 0 else min(o, tp))
                self.reason = "take"
                self._market(D(0), px, close=True)
                self.blocked = True
            self.reason = "signal"
        if self.venue.open_orders_count(self.sym):
            self.reason = "order"
            for px in ((lo, h) if c >= o else (h, lo)):
                self.venue.update_price(self.sym, _d(px), self.now)
                self._drain()
            self.reason = "signal"

    def _funding_per_bar(self, b: Bars) -> list[float]:
        """Summed funding rate charged at each bar's close (the same mapping as the fast engine)."""
        n = len(b)
        f = self.cfg.funding
        rate = np.zeros(n)
        if f is not None and n:
            idx = np.searchsorted(b.time_ms, f.time_ms, side="left") - 1
            tf = int(np.median(np.diff(b.time_ms))) if n > 1 else 0
            ok = (idx >= 0) & (f.time_ms <= b.time_ms[-1] + tf)
            np.add.at(rate, idx[ok], f.rate[ok])
        return rate.tolist()


def _text(tag: str) -> str:
    """Gate order text: `t-` + up to 28 safe characters."""
    safe = "".join(ch for ch in tag if ch.isalnum() or ch in "-_.")[:28]
    return f"t-{safe}" if safe else ""


def run_event(strategy: Strategy, bars: Bars, cfg: RunConfig, venue_factory: Callable[..., Any] | None = None) -> Result:
    """Replay `bars` through `strategy`'s hooks and the venue built by `venue_factory`."""
    cfg.check()
    if venue_factory is None:
        raise ValidationError("the event engine needs the simulated venue", hint="run it through `cashup backtest run --engine event`")
    if len(bars) < 2:
        from cashup_tui.domain.errors import DataError

        raise DataError(f"only {len(bars)} bar(s): a backtest needs at least 2")
    return _Engine(strategy, bars, cfg, venue_factory).run()
