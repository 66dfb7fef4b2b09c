"""A local L2 order book kept in sync with Gate's `futures.order_book_update` stream.

Why a state machine: a book is only valid while update ids are contiguous. This follows
Gate's documented local order book procedure exactly: buffer deltas (checking their own chain), load a
`with_id=true` REST snapshot, drop buffered deltas with `u <= id`, apply the first one with
`U <= id+1 <= u` (or, if none is left, require the next one to satisfy it: the DIA_USDT case),
then only `U == last+1`. A gap or a crossed book discards the book and asks for a resync;
`snapshot()` returns None until the book is in sync again, so nothing trades on it.

Hot path: float-keyed dicts plus a sorted key list per side (bisect), best level at index 0.
`price_text`/`snapshot` give Gate's decimal back exactly (repr of the float parsed from it).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from decimal import Decimal

import msgspec

from cashup_tui.domain.market import BookLevel, BookSnapshot

# on_delta / apply_snapshot results
APPLIED = "applied"
BUFFERED = "buffered"
STALE = "stale"  # u <= last id: already covered, ignored
GAP = "gap"  # U > last+1: book discarded, needs a snapshot
CROSSED = "crossed"  # best bid >= best ask after applying: discarded, needs a snapshot
SNAPSHOT_BEHIND = "snapshot_behind"  # buffered deltas start after the snapshot: fetch again
SYNCED = "synced"
REJECTED = "rejected"  # a level with a non-finite or negative number


class Level(msgspec.Struct, gc=False):
    """One price level as pushed: absolute size at a price; size 0 deletes the price.
    Prices are floats (Gate's decimal text round-trips exactly through repr for <= 15 digits)."""

    p: float
    s: float


class BookDelta(msgspec.Struct, gc=False):
    """One normalised `order_book_update` push (or a spot one). Decoded straight from the wire:
    field names on the wire are Gate's (s, t, U, u, b, a, full)."""

    symbol: str = msgspec.field(name="s")
    ts_ms: int = msgspec.field(name="t")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    bids: list[Level] = msgspec.field(name="b", default_factory=list)
    asks: list[Level] = msgspec.field(name="a", default_factory=list)
    full: bool = False


class OrderBook:
    """One contract's book. Pure: no I/O; the owner fetches snapshots when `needs_snapshot`."""

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "_buffer",
        "_first",
        "_snap",
        "applied",
        "depth",
        "dropped_on_sync",
        "gaps",
        "last_id",
        "last_reason",
        "max_buffer",
        "replayed_on_sync",
        "symbol",
        "synced",
        "syncs",
        "ts_ms",
    )

    def __init__(self, symbol: str, depth: int = 100, max_buffer: int = 10_000) -> None:
        self.symbol = symbol
        self.depth = depth
        self.max_buffer = max_buffer
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_keys: list[float] = []  # negated prices, ascending = best first
        self._ask_keys: list[float] = []
        self._buffer: list[BookDelta] = []
        self._first = False
        self._snap: BookSnapshot | None = None  # cached full snapshot for the current last_id
        self.synced = False
        self.last_id = 0
        self.ts_ms = 0
        self.applied = 0
        self.gaps = 0
        self.syncs = 0
        self.dropped_on_sync = 0  # buffered deltas already covered by the last snapshot
        self.replayed_on_sync = 0  # buffered deltas applied on top of it
        self.last_reason = "waiting for snapshot"

    # -- state ---------------------------------------------------------------------------------
    @property
    def needs_snapshot(self) -> bool:
        return not self.synced

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def invalidate(self, reason: str) -> None:
        """Discard the book (gap, crossed, reconnect): it is not served until resynced."""
        self._clear()
        self.synced = False
        self._first = False
        self._buffer.clear()
        self.last_reason = reason

    def _clear(self) -> None:
        self._snap = None
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()

    # -- stream ----------------------------------------------------------------------------------
    def on_delta(self, d: BookDelta) -> str:
        """Feed one delta. Returns APPLIED, BUFFERED, STALE, GAP or CROSSED."""
        if d.full:
            self._clear()
            if not self._load(d.bids, d.asks):
                return self._reject("full book with bad levels")
            self.last_id = d.last_id
            self.ts_ms = d.ts_ms
            self.synced = True
            self._first = False
            self._buffer.clear()
            return self._after_apply()
        if not self.synced:
            buf = self._buffer
            if buf and d.first_id != buf[-1].last_id + 1:
                if d.last_id <= buf[-1].last_id:
                    return STALE
                buf.clear()  # the buffer's own chain broke: start again from here
                self.gaps += 1
            if len(buf) >= self.max_buffer:
                del buf[0]
            buf.append(d)
            return BUFFERED
        last = self.last_id
        if d.last_id <= last:
            return STALE
        if d.first_id == last + 1 or (self._first and d.first_id <= last + 1):
            self._first = False
            if not self._apply(d):
                return self._reject("delta with bad levels")
            # inlined _after_apply (hot path): trim to depth, then the crossed-book check
            bk = self._bid_keys
            ak = self._ask_keys
            depth = self.depth
            if len(bk) > depth or len(ak) > depth:
                self._trim()
            if bk and ak and -bk[0] >= ak[0]:
                self.invalidate(f"crossed book at id {self.last_id}")
                return CROSSED
            return APPLIED
        # Gap: the book can no longer be trusted. Keep this delta as the start of a new buffer.
        self.gaps += 1
        self.invalidate(f"gap: expected U={last + 1}, got U={d.first_id}")
        self._buffer.append(d)
        return GAP

    def apply_snapshot(self, snapshot_id: int, bids: list[Level], asks: list[Level], ts_ms: int = 0) -> str:
        """Load a REST snapshot (`with_id=true`) and replay the buffer on top (recipe steps 3-5)."""
        buf = [d for d in self._buffer if d.last_id > snapshot_id]
        self.dropped_on_sync = len(self._buffer) - len(buf)
        self.replayed_on_sync = len(buf)
        if buf and buf[0].first_id > snapshot_id + 1:
            self._buffer = buf
            self.last_reason = f"snapshot id {snapshot_id} is behind the stream (U={buf[0].first_id})"
            return SNAPSHOT_BEHIND
        self._clear()
        if not self._load(bids, asks):
            return self._reject("snapshot with bad levels")
        self.syncs += 1
        self.last_id = snapshot_id
        self.ts_ms = ts_ms
        self.synced = True
        self._first = True  # next delta must satisfy U <= id+1 <= u
        self._buffer = []
        for d in buf:
            result = self.on_delta(d)
            if result not in (APPLIED, STALE):
                return result
        self._trim()
        if self._crossed():
            self.invalidate("crossed snapshot")
            return CROSSED
        self.last_reason = ""
        return SYNCED

    @property
    def resyncs(self) -> int:
        """Snapshots loaded after the first one (each one follows a gap, cross or reconnect)."""
        return max(self.syncs - 1, 0)

    def _reject(self, why: str) -> str:
        self.invalidate(why)
        return REJECTED

    def _after_apply(self) -> str:
        self._trim()
        if self._crossed():
            self.invalidate(f"crossed book at id {self.last_id}")
            return CROSSED
        self.last_reason = ""
        return APPLIED

    # -- levels ------------------------------------------------------------------------------------
    def _load(self, bids: list[Level], asks: list[Level]) -> bool:
        for lv in bids:
            p = lv.p
            s = lv.s
            if not (s > 0 and p > 0 and math.isfinite(s) and math.isfinite(p)):
                if s == 0:
                    continue
                return False
            if p not in self._bids:
                self._bid_keys.append(-p)
            self._bids[p] = s
        for lv in asks:
            p = lv.p
            s = lv.s
            if not (s > 0 and p > 0 and math.isfinite(s) and math.isfinite(p)):
                if s == 0:
                    continue
                return False
            if p not in self._asks:
                self._ask_keys.append(p)
            self._asks[p] = s
        self._bid_keys.sort()
        self._ask_keys.sort()
        return True

    def _apply(self, d: BookDelta, _inf: float = math.inf) -> bool:
        bids, asks = self._bids, self._asks
        for lv in d.bids:
            p = lv.p
            s = lv.s
            if s == 0.0:
                if p in bids:
                    del bids[p]
                    keys = self._bid_keys
                    del keys[bisect_left(keys, -p)]
            elif 0.0 < s < _inf and 0.0 < p < _inf:
                if p not in bids:
                    insort(self._bid_keys, -p)
                bids[p] = s
            else:  # NaN, negative or infinite: never let it into the book
                return False
        for lv in d.asks:
            p = lv.p
            s = lv.s
            if s == 0.0:
                if p in asks:
                    del asks[p]
                    keys = self._ask_keys
                    del keys[bisect_left(keys, p)]
            elif 0.0 < s < _inf and 0.0 < p < _inf:
                if p not in asks:
                    insort(self._ask_keys, p)
                asks[p] = s
            else:
                return False
        self.last_id = d.last_id
        self.ts_ms = d.ts_ms
        self.applied += 1
        return True

    def _trim(self) -> None:
        depth = self.depth
        keys = self._bid_keys
        if len(keys) > depth:
            for k in keys[depth:]:
                del self._bids[-k]
            del keys[depth:]
        keys = self._ask_keys
        if len(keys) > depth:
            for k in keys[depth:]:
                del self._asks[k]
            del keys[depth:]

    def _crossed(self) -> bool:
        return bool(self._bid_keys and self._ask_keys and -self._bid_keys[0] >= self._ask_keys[0])

    # -- reads ---------------------------------------------------------------------------------------
    def best_bid(self) -> tuple[float, float] | None:
        """(price, size) of the best bid, or None (also None while out of sync)."""
        if not self.synced or not self._bid_keys:
            return None
        p = -self._bid_keys[0]
        return p, self._bids[p]

    def best_ask(self) -> tuple[float, float] | None:
        if not self.synced or not self._ask_keys:
            return None
        p = self._ask_keys[0]
        return p, self._asks[p]

    @staticmethod
    def price_text(price: float) -> str:
        """Gate's decimal text for a price we hold: repr round-trips the parsed decimal exactly."""
        return repr(price)

    def levels(self, side: str, n: int | None = None) -> list[tuple[float, float]]:
        """Best-first (price, size) floats for 'bids' or 'asks'; empty while out of sync."""
        if not self.synced:
            return []
        if side == "bids":
            return [(-k, self._bids[-k]) for k in self._bid_keys[:n]]
        return [(k, self._asks[k]) for k in self._ask_keys[:n]]

    def snapshot(self, n: int | None = None) -> BookSnapshot | None:
        """An exact (Decimal) view of the top `n` levels, or None while out of sync."""
        if not self.synced:
            return None
        cached = self._snap
        if n is None and cached is not None and cached.update_id == self.last_id:
            return cached  # pollers (engine tick, UI timer) get the same object until the book moves

        def lv(p: float, s: float) -> BookLevel:
            return BookLevel(Decimal(repr(p)), Decimal(repr(s)))

        bids = tuple(lv(-k, self._bids[-k]) for k in self._bid_keys[:n])
        asks = tuple(lv(k, self._asks[k]) for k in self._ask_keys[:n])
        snap = BookSnapshot(self.symbol, self.ts_ms, self.last_id, bids, asks, True)
        if n is None:
            self._snap = snap
        return snap
