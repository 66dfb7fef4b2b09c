"""The MarketData port over Gate.io's websocket: latest tickers, trades, candles and in-sync books.

Why a separate object from the connection: the connection only moves frames; this owns the
per-symbol state, the book sync (buffer, REST snapshot, U/u chain, resync on gap or cross,
rebuild after every reconnect) and what the engine may read. A book is served only while in
sync. The REST snapshot comes from a small injectable async callable, so the same code runs
on ccxt, on plain aiohttp (`rest_snapshot_fetcher`) or on canned data in tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cashup_tui.adapters.gateio import book as B
from cashup_tui.adapters.gateio import constants as C
from cashup_tui.adapters.gateio.book import BookDelta, OrderBook
from cashup_tui.adapters.gateio.connection import GateWsClient
from cashup_tui.adapters.gateio.frames import BookTickerMsg, TickerMsg, TradeMsg
from cashup_tui.adapters.gateio.parse import parse_rest_book
from cashup_tui.domain.errors import DataError, ExchangeError, TemporaryError
from cashup_tui.domain.events import BookResynced, Event, VenueErrorReceived
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookSnapshot, BookTicker, Ticker, Trade
from cashup_tui.domain.ports import StreamHealth

log = logging.getLogger("cashup.gateio.md")

# (symbol, depth) -> REST body: bytes/str JSON, or an already-decoded dict
SnapshotFetcher = Callable[[str, int], Awaitable[Any]]

# short channel names accepted by subscribe() -> Gate channels
CHANNELS = {
    "tickers": C.TICKERS,
    "trades": C.TRADES,
    "book": C.BOOK_UPDATE,
    "book_ticker": C.BOOK_TICKER,
    "candles": C.CANDLES,
}


def rest_snapshot_fetcher(rest_url: str, *, settle: str = "usdt", timeout_s: float = 10.0) -> SnapshotFetcher:
    """A plain-aiohttp `GET /futures/{settle}/order_book?with_id=true` (one session, made lazily)."""
    import aiohttp

    base = rest_url.rstrip("/")
    state: dict[str, aiohttp.ClientSession] = {}

    async def fetch(symbol: str, depth: int) -> bytes:
        session = state.get("s")
        if session is None or session.closed:
            session = state["s"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
        url = f"{base}/futures/{settle}/order_book?contract={symbol}&limit={depth}&with_id=true"
        try:
            async with session.get(url, headers=C.SIZE_DECIMAL_HEADER) as resp:
                body = await resp.read()
                if resp.status == 429 or resp.status >= 500:
                    raise TemporaryError(f"GET {url}: HTTP {resp.status}", hint="will retry with backoff")
                if resp.status >= 400:
                    raise ExchangeError(f"GET {url}: HTTP {resp.status}: {body[:200]!r}")
                return body
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TemporaryError(f"GET {url}: {type(exc).__name__}: {exc}", hint="is the REST URL reachable?") from None

    async def close() -> None:
        s = state.pop("s", None)
        if s is not None:
            await s.close()

    fetch.close = close  # type: ignore[attr-defined]
    return fetch


class GateMarketData:
    """Implements domain.ports.MarketData on top of GateWsClient."""

    def __init__(
        self,
        ws_url: str,
        fetch_snapshot: SnapshotFetcher,
        *,
        sink: Any = None,
        depth: int = 20,
        freq: str = "100ms",
        max_trades: int = 500,
        max_bars: int = 500,
        candle_interval: str = "1m",
        snapshot_retry_s: float = 0.2,
        instruments_fn: Callable[[], Awaitable[list[Instrument]]] | None = None,
        bars_fn: Callable[..., Awaitable[list[Bar]]] | None = None,
        on_update: Callable[[str, Any], None] | None = None,
        **ws_kwargs: Any,
    ) -> None:
        if freq not in C.BOOK_FREQS or depth not in C.BOOK_LEVELS or (freq == "20ms" and depth != 20):
            from cashup_tui.domain.errors import ConfigError

            raise ConfigError(
                f"Gate has no order_book_update stream at depth {depth} every {freq}",
                hint="use gate.book_depth 20, 50 or 100 with gate.book_freq '100ms' (or depth 20 with '20ms')",
            )
        self.depth = depth
        self.freq = freq
        self.candle_interval = candle_interval
        self.snapshot_retry_s = snapshot_retry_s
        self._fetch = fetch_snapshot
        self._sink = sink
        self._instruments_fn = instruments_fn
        self._bars_fn = bars_fn
        self._on_update = on_update
        self._max_trades = max_trades
        self._max_bars = max_bars
        # latest values as parsed (typed msgspec values); domain objects are made on read
        self._tickers: dict[str, TickerMsg] = {}
        self._book_tickers: dict[str, BookTickerMsg] = {}
        self._trades: dict[str, deque[TradeMsg]] = {}
        self._bars: dict[tuple[str, str], deque[Bar]] = {}
        self.books: dict[str, OrderBook] = {}
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self.resyncs = 0
        self.snapshot_errors = 0
        self.client = GateWsClient(ws_url, self._on_values, sink=sink, on_connect=self._on_connect, **ws_kwargs)
        self._run_task: asyncio.Task[None] | None = None

    # -- port: subscriptions and reads ------------------------------------------------------------
    async def subscribe(self, symbols: Sequence[str], channels: Sequence[str]) -> None:
        """channels: tickers, trades, book, book_ticker, candles (or candles:5m)."""
        for ch in channels:
            name, _, interval = ch.partition(":")
            if name not in CHANNELS:
                raise DataError(f"unknown market channel {ch!r}", hint=f"use one of: {', '.join(CHANNELS)}")
            gate = CHANNELS[name]
            if gate == C.BOOK_UPDATE:
                for s in symbols:
                    self.books.setdefault(s, OrderBook(s, depth=self.depth))
                    await self.client.subscribe(gate, [s, self.freq, str(self.depth)])
            elif gate == C.CANDLES:
                for s in symbols:
                    await self.client.subscribe(gate, [interval or self.candle_interval, s])
            else:
                await self.client.subscribe(gate, list(symbols))

    async def instruments(self) -> list[Instrument]:
        if self._instruments_fn is None:
            raise DataError("no contracts source configured", hint="pass instruments_fn (e.g. the ccxt REST adapter)")
        return await self._instruments_fn()

    def ticker(self, symbol: str) -> Ticker | None:
        t = self._tickers.get(symbol)
        return t.to_domain() if t is not None else None

    def book_ticker(self, symbol: str) -> BookTicker | None:
        t = self._book_tickers.get(symbol)
        return t.to_domain() if t is not None else None

    def book(self, symbol: str) -> BookSnapshot | None:
        """The in-sync book (top `depth` levels), or None while syncing/resyncing."""
        b = self.books.get(symbol)
        return b.snapshot() if b is not None else None

    def best_bid_ask(self, symbol: str) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
        b = self.books.get(symbol)
        if b is None:
            return None, None
        return b.best_bid(), b.best_ask()

    def trades(self, symbol: str) -> Sequence[Trade]:
        """Recent trades, oldest first (at most `max_trades`)."""
        return tuple(t.to_domain() for t in self._trades.get(symbol, ()))

    def live_bars(self, symbol: str, timeframe: str | None = None) -> list[Bar]:
        return list(self._bars.get((symbol, timeframe or self.candle_interval), ()))

    async def bars(self, symbol: str, timeframe: str, *, since_ms: int | None = None, limit: int = 500) -> list[Bar]:
        if self._bars_fn is not None:
            return await self._bars_fn(symbol, timeframe, since_ms=since_ms, limit=limit)
        out = self.live_bars(symbol, timeframe)
        if since_ms is not None:
            out = [b for b in out if b.open_ms >= since_ms]
        return out[-limit:]

    # -- lifecycle ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self.client.run()
        finally:
            for t in self._fetching.values():
                t.cancel()
            close = getattr(self._fetch, "close", None)
            if close is not None:
                await close()

    async def start(self) -> None:
        """Run the stream (`run`) in a task until `stop`; it reconnects by itself."""
        if self._run_task is None:
            self._run_task = asyncio.get_running_loop().create_task(self.run(), name="market-ws")

    async def stop(self) -> None:
        task, self._run_task = self._run_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.client.stop()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def health(self, now_ms: int) -> StreamHealth:
        st = self.client.stats
        last = self.client.last_frame_ms()
        return StreamHealth("mkt", self.connected, (now_ms - last) if last else None, st.msgs_per_s, st.reconnects)

    # -- feed ----------------------------------------------------------------------------------------
    def _on_values(self, channel: str, values: list[Any]) -> None:
        """Called by the connection for every data frame (hot path)."""
        if channel == C.BOOK_UPDATE:
            for d in values:
                self._on_delta(d)
        elif channel == C.TICKERS:
            for t in values:
                prev = self._tickers.get(t.symbol)
                if not t.funding_next_apply and prev is not None:  # a frame with a subset of the fields
                    t.funding_next_apply = prev.funding_next_apply
                self._tickers[t.symbol] = t
        elif channel == C.BOOK_TICKER:
            for bt in values:
                self._book_tickers[bt.symbol] = bt
        elif channel == C.TRADES:
            for tr in values:
                q = self._trades.get(tr.symbol)
                if q is None:
                    q = self._trades[tr.symbol] = deque(maxlen=self._max_trades)
                q.append(tr)
        elif channel == C.CANDLES:
            for bar in values:
                key = (bar.symbol, bar.timeframe)
                bq = self._bars.get(key)
                if bq is None:
                    bq = self._bars[key] = deque(maxlen=self._max_bars)
                if bq and bq[-1].open_ms == bar.open_ms:
                    bq[-1] = bar
                elif not bq or bar.open_ms > bq[-1].open_ms:
                    bq.append(bar)
        if self._on_update is not None:
            for v in values:
                self._on_update(channel, v)

    def _on_delta(self, d: BookDelta) -> None:
        book = self.books.get(d.symbol)
        if book is None:
            book = self.books[d.symbol] = OrderBook(d.symbol, depth=self.depth)
        result = book.on_delta(d)
        if result is B.APPLIED or result is B.STALE:
            return
        if result in (B.GAP, B.CROSSED, B.REJECTED):
            log.warning("%s: %s; resyncing", d.symbol, book.last_reason)
        if not book.synced and d.symbol not in self._fetching:
            self._fetching[d.symbol] = asyncio.get_running_loop().create_task(
                self._sync(book, book.last_reason or result)
            )

    async def _sync(self, book: OrderBook, reason: str) -> None:
        """Fetch snapshots until the book syncs (retry if behind the stream or on errors)."""
        attempt = 0
        try:
            while not book.synced:
                if attempt:
                    await asyncio.sleep(min(5.0, self.snapshot_retry_s * attempt))
                attempt += 1
                try:
                    body = await self._fetch(book.symbol, book.depth)
                    if isinstance(body, dict):
                        import msgspec

                        body = msgspec.json.encode(body)
                    sid, bids, asks, ts_ms = parse_rest_book(body)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.snapshot_errors += 1
                    self._publish(
                        VenueErrorReceived(_now_ms(), f"gate-rest order_book {book.symbol}", "snapshot", f"{exc}")
                    )
                    continue
                result = book.apply_snapshot(sid, bids, asks, ts_ms)
                if book.synced:
                    if book.syncs > 1:
                        self.resyncs += 1
                        self._publish(BookResynced(_now_ms(), book.symbol, reason))
                    return
                log.info("%s: snapshot %s (%s); fetching again", book.symbol, result, book.last_reason)
        finally:
            if self._fetching.get(book.symbol) is asyncio.current_task():
                del self._fetching[book.symbol]

    async def _on_connect(self) -> None:
        """Nothing survives a reconnect: every book is rebuilt from a fresh snapshot."""
        for t in self._fetching.values():
            t.cancel()
        self._fetching.clear()
        for b in self.books.values():
            if b.synced or b.buffered:
                b.invalidate("reconnected")

    def _publish(self, event: Event) -> None:
        if self._sink is not None:
            try:
                self._sink.publish(event)
            except Exception:
                log.exception("event sink failed")


def _now_ms() -> int:
    return int(time.time() * 1000)
