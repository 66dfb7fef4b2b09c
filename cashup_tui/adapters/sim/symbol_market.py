"""One symbol of the seeded synthetic market: mid-price regimes, a 100-level book, trades that walk
the book, candles built from those trades, tickers with 24h stats, funding; and its Gate JSON views.

See market.py for why it is shaped this way and what determines its output.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from cashup_tui.adapters.sim.contracts import contract_spec
from cashup_tui.adapters.sim.market_history import backfill as backfill_history
from cashup_tui.adapters.sim.market_values import (
    BOOK_LEVELS,
    INTERVALS,
    MAX_BARS,
    PriceFormat,
    PricePath,
    StepResult,
    TradePrint,
    interval_s,
    level_diff,
)

_KEEP_LEVELS = 120  # a little slack beyond the deepest view
_YEAR_S = 365 * 24 * 3600
_MAX_TRADES = 1000

# Regimes: (name, volatility multiplier, mean persistence in seconds)
_REGIMES = (("calm", 0.6, 240.0), ("trend", 1.0, 180.0), ("mean_revert", 0.9, 300.0), ("volatile", 2.2, 60.0))


class SymbolMarket:
    """One symbol's market state. Prices are int ticks; sizes are int contracts."""

    def __init__(
        self,
        symbol: str,
        seed: int,
        start_ms: int,
        *,
        contract: dict[str, Any] | None = None,
        start_price: float | None = None,
        tick_ms: int = 100,
        annual_vol: float = 0.55,
        backfill: int = 500,
        path: PricePath | None = None,
        history: dict[str, list[tuple]] | None = None,
    ) -> None:
        self.symbol = symbol
        self.contract = contract or contract_spec(symbol)
        self.tick = Decimal(self.contract["order_price_round"])
        self.fmt = PriceFormat(self.tick)
        self.qm = float(self.contract["quanto_multiplier"])
        self.funding_interval_s = int(self.contract.get("funding_interval") or 28_800)
        self.rng = random.Random(f"cashup-sim:{seed}:{symbol}")
        self.seed = seed
        self.tick_ms = tick_ms
        self.path = path
        price = start_price if start_price is not None else float(self.contract["last_price"])
        self.mid = max(price / float(self.tick), 50.0)  # in ticks (float)
        self.anchor = self.mid
        self.mark = self.mid
        self.index = self.mid
        self.step_sigma = annual_vol * math.sqrt(tick_ms / 1000 / _YEAR_S)
        self.regime = 1
        self.trend_dir = 1.0
        self.burst = 0  # remaining steps of a volume burst
        # typical order size ~ 3k USDT, in contracts
        self.unit = max(1.0, 3000.0 / (price * self.qm))
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.book_id = 1_000_000 + (zlib.crc32(f"{seed}{symbol}".encode()) % 9_000_000) * 10
        self.trade_id = 10_000 + zlib.crc32(symbol.encode()) % 90_000
        self.changes = 0
        self.bid_view: list[tuple[int, int]] = []
        self.ask_view: list[tuple[int, int]] = []
        self.prev_bid_view: list[tuple[int, int]] = []
        self.prev_ask_view: list[tuple[int, int]] = []
        self.view_id = self.book_id
        self.ts_ms = start_ms
        self.trades: deque[TradePrint] = deque(maxlen=_MAX_TRADES)
        self.last = round(self.mid)
        self.open_interest = int(self.unit * 5000)
        self.funding_rate = float(self.contract.get("funding_rate") or 0.0001)
        self.funding_history: deque[tuple[int, str]] = deque(maxlen=1000)
        self.next_funding_s = (start_ms // 1000 // self.funding_interval_s + 1) * self.funding_interval_s
        self.bars: dict[str, deque[tuple]] = {iv: deque(maxlen=MAX_BARS) for iv in INTERVALS}
        self.cur: dict[str, list] = {}
        self._stats_cache: tuple[int, dict[str, Any]] | None = None
        backfill_history(self, start_ms, backfill, history or {})
        self._seed_book()

    # -- setup -----------------------------------------------------------------------------------------
    def _seed_book(self) -> None:
        best_bid = math.floor(self.mid - 0.5)
        for i in range(BOOK_LEVELS):
            self.bids[best_bid - i] = self._level_size(i)
            self.asks[best_bid + 1 + i] = self._level_size(i)
        self._refresh_views()
        self.prev_bid_view, self.prev_ask_view = self.bid_view, self.ask_view

    def _level_size(self, depth: int) -> int:
        base = self.unit * (0.4 + depth * 0.05)
        return max(1, int(base * self.rng.lognormvariate(0.0, 0.8)))

    # -- stepping --------------------------------------------------------------------------------------
    def step(self, ts_ms: int) -> StepResult:
        """Advance one tick: regimes, mid move, trades walking the book, book churn, bars, funding."""
        r = self.rng
        self.ts_ms = ts_ms
        self.changes = 0
        first_id = self.book_id + 1
        self.prev_bid_view, self.prev_ask_view = self.bid_view, self.ask_view
        trades: list[TradePrint] = []
        old_mid = self.mid
        volume_weight = 1.0
        if self.path is not None:
            nxt = self.path.next_mid()
            if nxt is not None:
                self.mid = max(1.0, nxt[0] / float(self.tick))
                volume_weight = nxt[1]
            else:
                self.path = None
        else:
            self._move_mid()
        if self.burst > 0:
            self.burst -= 1
        elif r.random() < 0.002:
            self.burst = r.randint(10, 60)
        activity = (4.0 if self.burst else 1.0) * volume_weight
        # 1) the move: takers sweep the side the mid crossed
        new_mid = self.mid
        if new_mid > old_mid:
            self._sweep(self.asks, lambda p: p <= new_mid, +1, trades, ts_ms)
        elif new_mid < old_mid:
            self._sweep(self.bids, lambda p: p >= new_mid, -1, trades, ts_ms)
        # 2) noise takers: Poisson arrivals, sizes heavy-tailed, walking the book from the touch
        lam = 0.25 * activity
        n = 0
        while r.random() < lam / (n + 1) and n < 8:
            n += 1
        for _ in range(n):
            side = 1 if r.random() < 0.5 + 0.15 * math.tanh(new_mid - old_mid) else -1
            qty = max(1, int(self.unit * 0.5 * r.paretovariate(1.6)))
            self._take(side, qty, trades, ts_ms)
        # 3) refill the touch and the tail, churn a few levels
        self._maintain_book()
        self.book_id += max(1, self.changes)
        self._refresh_views()
        # 4) last price, bars, marks, funding
        for t in trades:
            self._on_trade(t)
        self._roll_bars(ts_ms)
        self._update_marks()
        self.open_interest = max(1, self.open_interest + int(r.gauss(0, self.unit * 2)) + sum(abs(t.size) for t in trades) // 20)
        result = StepResult(self.symbol, ts_ms, first_id, self.book_id, trades)
        if ts_ms // 1000 >= self.next_funding_s:
            self.funding_history.append((self.next_funding_s, f"{self.funding_rate:.6f}"))
            result.funding_rate = Decimal(f"{self.funding_rate:.6f}")
            self.next_funding_s = (ts_ms // 1000 // self.funding_interval_s + 1) * self.funding_interval_s  # the grid
        return result

    def _move_mid(self) -> None:
        r = self.rng
        name, volm, persist = _REGIMES[self.regime]
        if r.random() < self.tick_ms / 1000 / persist:
            self.regime = r.randrange(len(_REGIMES))
            self.trend_dir = 1.0 if r.random() < 0.5 else -1.0
            self.anchor = self.mid
            name, volm, persist = _REGIMES[self.regime]
        sig = self.step_sigma * volm
        drift = 0.0
        if name == "trend":
            drift = self.trend_dir * sig * 0.12
        elif name == "mean_revert":
            drift = -0.01 * math.log(self.mid / self.anchor)
        shock = r.gauss(0.0, sig)
        if r.random() < 0.0005:  # jump: roughly one every 3 minutes of 10 Hz steps
            shock += r.gauss(0.0, sig * 25)
        self.mid = max(5.0, self.mid * math.exp(drift + shock))

    def _sweep(self, side: dict[int, int], crossed: Any, sign: int, trades: list[TradePrint], ts: int) -> None:
        for p in sorted((p for p in side if crossed(p)), reverse=sign < 0):
            qty = side.pop(p)
            self.changes += 1
            take = max(1, int(qty * self.rng.uniform(0.2, 1.0)))
            self._print(sign * take, p, trades, ts)

    def _take(self, sign: int, qty: int, trades: list[TradePrint], ts: int) -> None:
        side = self.asks if sign > 0 else self.bids
        levels = sorted(side, reverse=sign < 0)
        for p in levels[:10]:
            if qty <= 0:
                break
            avail = side[p]
            fill = min(avail, qty)
            qty -= fill
            if fill == avail:
                del side[p]
            else:
                side[p] = avail - fill
            self.changes += 1
            self._print(sign * fill, p, trades, ts)

    def _print(self, size: int, price: int, trades: list[TradePrint], ts: int) -> None:
        self.trade_id += 1
        t = TradePrint(self.trade_id, ts, size, price)
        trades.append(t)
        self.trades.append(t)

    def _maintain_book(self) -> None:
        r = self.rng
        bids, asks = self.bids, self.asks
        touch_bid = math.floor(self.mid - 0.5)
        touch_ask = touch_bid + 1
        if r.random() < 0.3:  # occasionally a wider spread
            touch_ask += r.randint(1, 2)
        # no crossed or locked levels
        for p in [p for p in bids if p >= touch_ask]:
            del bids[p]
            self.changes += 1
        for p in [p for p in asks if p <= touch_bid]:
            del asks[p]
            self.changes += 1
        best_bid = max(bids) if bids else touch_bid - BOOK_LEVELS
        best_ask = min(asks) if asks else touch_ask + BOOK_LEVELS
        # fill the gap between the touch and the current best (price moved away from the book)
        for p in range(touch_bid, best_bid, -1):
            if p == touch_bid or r.random() < 0.7:
                bids[p] = self._level_size(touch_bid - p)
                self.changes += 1
        for p in range(touch_ask, best_ask):
            if p == touch_ask or r.random() < 0.7:
                asks[p] = self._level_size(p - touch_ask)
                self.changes += 1
        # churn: makers add, cancel and resize near the touch
        for _ in range(r.randint(1, 5)):
            side, sign, touch = (bids, -1, touch_bid) if r.random() < 0.5 else (asks, 1, touch_ask)
            d = min(int(r.expovariate(0.15)), BOOK_LEVELS - 1)
            p = touch + sign * d
            if p in side and d > 0 and r.random() < 0.25:
                del side[p]
            else:
                side[p] = self._level_size(d)
            self.changes += 1
        # trim far levels and extend the tail back to BOOK_LEVELS
        for side, sign in ((bids, -1), (asks, 1)):
            if len(side) > _KEEP_LEVELS:
                for p in sorted(side, key=lambda x: sign * x)[_KEEP_LEVELS:]:
                    del side[p]
            if len(side) < BOOK_LEVELS:
                worst = (min(side) if sign < 0 else max(side)) if side else (touch_bid if sign < 0 else touch_ask)
                while len(side) < BOOK_LEVELS:
                    worst += sign * (1 + int(r.expovariate(1.5)))
                    side[worst] = self._level_size(len(side))
                    self.changes += 1

    def _refresh_views(self) -> None:
        self.bid_view = sorted(self.bids.items(), reverse=True)[:BOOK_LEVELS]
        self.ask_view = sorted(self.asks.items())[:BOOK_LEVELS]
        self.view_id = self.book_id

    def _on_trade(self, t: TradePrint) -> None:
        self.last = t.price
        q = abs(t.size) * self.qm * self.fmt.to_float(t.price)
        for bar in self.cur.values():
            if t.price > bar[2]:
                bar[2] = t.price
            if t.price < bar[3]:
                bar[3] = t.price
            bar[4] = t.price
            bar[5] += abs(t.size)
            bar[6] += q

    def _roll_bars(self, ts_ms: int) -> None:
        now_s = ts_ms // 1000
        for iv, secs in INTERVALS.items():
            bar = self.cur[iv]
            if now_s >= bar[0] + secs:
                self.bars[iv].append(tuple(bar))
                c = bar[4]
                self.cur[iv] = [now_s - now_s % secs, c, c, c, c, 0, 0.0]

    def _update_marks(self) -> None:
        self.mark += (self.mid - self.mark) * 0.2
        self.index += (self.mid - self.index) * 0.05
        premium = (self.mark - self.index) / self.index
        self.funding_rate = max(-0.003, min(0.003, 0.9995 * self.funding_rate + 0.0005 * (0.0001 + premium)))

    # -- Gate JSON ------------------------------------------------------------------------------------
    def best(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        return (self.bid_view[0] if self.bid_view else None, self.ask_view[0] if self.ask_view else None)

    def levels_decimal(self, depth: int = 20) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Top `depth` levels as (Decimal price, Decimal size), best first: what Venue.update_book takes."""
        f = self.fmt
        bids = [(Decimal(f(p)), Decimal(s)) for p, s in self.bid_view[:depth]]
        asks = [(Decimal(f(p)), Decimal(s)) for p, s in self.ask_view[:depth]]
        return bids, asks

    def order_book(self, limit: int = 20, decimal_sizes: bool = False) -> dict[str, Any]:
        f = self.fmt
        sz = str if decimal_sizes else int
        limit = max(1, min(int(limit), BOOK_LEVELS))
        now = self.ts_ms / 1000
        return {
            "id": self.view_id,
            "current": round(now, 3),
            "update": round(now, 3),
            "asks": [{"p": f(p), "s": sz(s)} for p, s in self.ask_view[:limit]],
            "bids": [{"p": f(p), "s": sz(s)} for p, s in self.bid_view[:limit]],
        }

    def book_update(self, first_id: int, depth: int, decimal_sizes: bool) -> dict[str, Any]:
        """`futures.order_book_update` result: the exact change of the top-`depth` view in this step."""
        f = self.fmt
        sz = str if decimal_sizes else int
        b = level_diff(self.prev_bid_view[:depth], self.bid_view[:depth])
        a = level_diff(self.prev_ask_view[:depth], self.ask_view[:depth])
        return {
            "t": self.ts_ms,
            "s": self.symbol,
            "U": first_id,
            "u": self.view_id,
            "b": [{"p": f(p), "s": sz(s)} for p, s in b],
            "a": [{"p": f(p), "s": sz(s)} for p, s in a],
            "l": str(depth),
        }

    def legacy_book(self, limit: int, decimal_sizes: bool) -> dict[str, Any]:
        """`futures.order_book` (event `all`) result."""
        f = self.fmt
        sz = str if decimal_sizes else int
        return {
            "t": self.ts_ms,
            "contract": self.symbol,
            "id": self.view_id,
            "asks": [{"p": f(p), "s": sz(s)} for p, s in self.ask_view[:limit]],
            "bids": [{"p": f(p), "s": sz(s)} for p, s in self.bid_view[:limit]],
            "l": str(limit),
        }

    def book_ticker(self, decimal_sizes: bool) -> dict[str, Any]:
        f = self.fmt
        sz = str if decimal_sizes else int
        b, a = self.best()
        return {
            "t": self.ts_ms,
            "u": self.view_id,
            "s": self.symbol,
            "b": f(b[0]) if b else "",
            "B": sz(b[1]) if b else sz(0),
            "a": f(a[0]) if a else "",
            "A": sz(a[1]) if a else sz(0),
        }

    def trade_rows(self, trades: Iterable[TradePrint], decimal_sizes: bool) -> list[dict[str, Any]]:
        f = self.fmt
        sz = str if decimal_sizes else int
        return [
            {
                "id": t.id,
                "create_time": t.ts_ms // 1000,
                "create_time_ms": t.ts_ms,
                "contract": self.symbol,
                "size": sz(t.size),
                "price": f(t.price),
            }
            for t in trades
        ]

    def rest_trades(self, limit: int = 100, decimal_sizes: bool = False) -> list[dict[str, Any]]:
        rows = self.trade_rows(list(self.trades)[-max(1, limit) :], decimal_sizes)
        for row in rows:  # REST create_time is float seconds
            row["create_time"] = row["create_time_ms"] / 1000
        rows.reverse()
        return rows

    def stats_24h(self) -> dict[str, Any]:
        """24h high/low/open/volume from the 1m bars; recomputed at most once a second."""
        sec = self.ts_ms // 1000
        if self._stats_cache and self._stats_cache[0] == sec:
            return self._stats_cache[1]
        bars = [*list(self.bars["1m"])[-1439:], tuple(self.cur["1m"])]
        hi = max(b[2] for b in bars)
        lo = min(b[3] for b in bars)
        vol = sum(b[5] for b in bars)
        quote = sum(b[6] for b in bars)
        out = {"open": bars[0][1], "high": hi, "low": lo, "volume": vol, "quote": quote}
        self._stats_cache = (sec, out)
        return out

    def ticker(self, decimal_sizes: bool = False) -> dict[str, Any]:
        f = self.fmt
        st = self.stats_24h()
        last_f = f.to_float(self.last)
        open_f = f.to_float(st["open"]) or last_f
        chg = (last_f / open_f - 1) * 100 if open_f else 0.0
        b, a = self.best()
        sz = str if decimal_sizes else int
        rate = f"{self.funding_rate:.6f}"
        base_vol = st["volume"] * self.qm
        return {
            "contract": self.symbol,
            "last": f(self.last),
            "change_percentage": f"{chg:.2f}",
            "total_size": sz(self.open_interest),
            "low_24h": f(st["low"]),
            "high_24h": f(st["high"]),
            "volume_24h": sz(st["volume"]),
            "volume_24h_btc": "0",
            "volume_24h_usd": f"{st['quote']:.0f}",
            "volume_24h_base": f"{base_vol:.6g}" if base_vol < 1e6 else f"{base_vol:.0f}",
            "volume_24h_quote": f"{st['quote']:.0f}",
            "volume_24h_settle": f"{st['quote']:.0f}",
            "mark_price": f(round(self.mark)),
            "funding_rate": rate,
            "funding_rate_indicative": rate,
            "index_price": f(round(self.index)),
            "quanto_base_rate": "",
            "lowest_ask": f(a[0]) if a else "",
            "highest_bid": f(b[0]) if b else "",
            "change_from": f(st["open"]),
            "change_price": f(self.last - st["open"]),
            "price_type": "last",
            "funding_interval": self.funding_interval_s,
            "funding_next_apply": self.next_funding_s,
            "t": self.ts_ms,
        }

    def _bar_row(self, bar: tuple | list) -> dict[str, Any]:
        f = self.fmt
        return {
            "t": bar[0],
            "v": bar[5],
            "c": f(bar[4]),
            "h": f(bar[2]),
            "l": f(bar[3]),
            "o": f(bar[1]),
            "sum": f"{bar[6]:.4f}".rstrip("0").rstrip(".") or "0",
        }

    def candles(
        self, interval: str, from_s: int | None = None, to_s: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """REST rows oldest first, including the bar in progress; `from/to` or `limit` (Gate: not both)."""
        interval_s(interval)
        bars: list = [*self.bars[interval], self.cur[interval]]
        if from_s is not None:
            bars = [b for b in bars if b[0] >= from_s]
        if to_s is not None:
            bars = [b for b in bars if b[0] <= to_s]
        if limit is not None:
            bars = bars[-max(1, min(int(limit), MAX_BARS)) :]
        elif from_s is None and to_s is None:
            bars = bars[-100:]
        return [self._bar_row(b) for b in bars]

    def ws_candle(self, interval: str, bar: tuple | list | None = None, closed: bool = False, decimal_sizes: bool = False) -> dict[str, Any]:
        """`futures.candlesticks` item: `{t, v, c, h, l, o, n, a, w}`."""
        f = self.fmt
        b = bar if bar is not None else self.cur[interval]
        sz = str if decimal_sizes else int
        return {
            "t": b[0],
            "v": sz(b[5]),
            "c": f(b[4]),
            "h": f(b[2]),
            "l": f(b[3]),
            "o": f(b[1]),
            "n": f"{interval}_{self.symbol}",
            "a": f"{b[5] * self.qm:.8g}",
            "w": closed,
        }

    def funding_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = list(self.funding_history)[-max(1, limit) :]
        return [{"t": t, "r": r} for t, r in reversed(rows)]

    def contract_json(self) -> dict[str, Any]:
        """The Gate contract object with the live fields filled in."""
        c = dict(self.contract)
        f = self.fmt
        c.update(
            last_price=f(self.last),
            mark_price=f(round(self.mark)),
            index_price=f(round(self.index)),
            funding_rate=f"{self.funding_rate:.6f}",
            funding_rate_indicative=f"{self.funding_rate:.6f}",
            funding_next_apply=self.next_funding_s,
            trade_id=self.trade_id,
            orderbook_id=self.view_id,
            position_size=self.open_interest,
        )
        return c

    def size_churn(self, n: int) -> list[tuple[int, int, int, int]]:
        """`n` single-level size changes in the top 20 (book and ids kept consistent): the throughput
        mode of the server. Returns (id, side +1 ask / -1 bid, price ticks, new size)."""
        r = self.rng
        out = []
        bids, asks = self.bids, self.asks
        bv, av = self.bid_view, self.ask_view
        for _ in range(n):
            self.book_id += 1
            i = int(r.random() * min(20, len(bv), len(av)))
            size = max(1, int(self.unit * (0.4 + i * 0.05) * r.lognormvariate(0.0, 0.8)))
            if r.random() < 0.5:
                p = bv[i][0]
                bids[p] = size
                bv[i] = (p, size)
                out.append((self.book_id, -1, p, size))
            else:
                p = av[i][0]
                asks[p] = size
                av[i] = (p, size)
                out.append((self.book_id, 1, p, size))
        self.view_id = self.book_id
        self.prev_bid_view, self.prev_ask_view = list(bv), list(av)
        return out

    def churn_result(self, update: tuple[int, int, int, int], depth: int, decimal_sizes: bool) -> dict[str, Any]:
        uid, side, p, size = update
        level = [{"p": self.fmt(p), "s": str(size) if decimal_sizes else size}]
        return {
            "t": self.ts_ms,
            "s": self.symbol,
            "U": uid,
            "u": uid,
            "b": level if side < 0 else [],
            "a": level if side > 0 else [],
            "l": str(depth),
        }

    def mark_decimal(self) -> Decimal:
        return Decimal(self.fmt(round(self.mark)))
