"""The workstation's Fills pane over a long history: the rows kept up to date from the fills stored since
the last read, not rebuilt from every fill on each refresh.

`PaneHistory` keeps the replay state (per contract its `Position` and open trip: `domain.round_trips.TripBook`),
the newest fills and closed trips the pane shows, and the journal's cursor. A read applies what was stored
after the cursor when it sorts after the last fill applied; a fill that sorts before it (a reconciliation
storing an older execution) makes it start over from the first fill, so the rows are always those of
`fill_rows` / `trip_rows` over the same fills. A first build or a rebuild of a long history reads and replays
every fill: `HistoryMixin` leaves that to a thread (`build_history`, one at a time) so the UI loop never waits
for it, and the pane shows its previous rows meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cashup_tui.domain.orders import Fill
from cashup_tui.domain.ports import Journal
from cashup_tui.domain.round_trips import RoundTrip, TripBook, fill_key
from cashup_tui.engine.funding import settlements
from cashup_tui.service.fills import Funding, fill_row, trip_row

log = logging.getLogger("cashup.fills")
KEEP_FILLS = 500  # the rows the pane shows
KEEP_TRIPS = 200
CURVE_POINTS = 2048  # a PnL curve's points kept (halved when full): more than a chart has columns


class PnlCurve:
    """Cumulative net PnL (realised less fees) after each fill, oldest first, over the whole history in at
    most `CURVE_POINTS` points: when full, every other point is dropped and then only every `stride`-th
    fill adds one. The last value is always exact (`points` ends with it)."""

    __slots__ = ("acc", "last", "n", "stride", "times", "values")

    def __init__(self) -> None:
        self.acc = 0.0
        self.n = 0
        self.stride = 1
        self.times: list[int] = []
        self.values: list[float] = []
        self.last: tuple[int, float] | None = None

    def add(self, ts_ms: int, delta: float) -> None:
        self.acc += delta
        self.last = (ts_ms, self.acc)
        self.n += 1
        if self.n % self.stride:
            return
        self.times.append(ts_ms)
        self.values.append(self.acc)
        if len(self.times) >= CURVE_POINTS:
            self.times, self.values, self.stride = self.times[1::2], self.values[1::2], self.stride * 2

    def points(self) -> tuple[list[int], list[float]]:
        times, values = list(self.times), list(self.values)
        if self.last is not None and (not times or times[-1] != self.last[0] or values[-1] != self.last[1]):
            times.append(self.last[0])
            values.append(self.last[1])
        return times, values


class PaneHistory:
    """The newest fill rows and closed trips of a journal, updated from the fills stored since the last read.
    Not thread-safe: one caller at a time updates it (the rows and curve points it publishes are replaced, never changed)."""

    def __init__(self, journal: Journal, multipliers: Mapping[str, Decimal], *, keep_fills: int = KEEP_FILLS,
                 keep_trips: int = KEEP_TRIPS) -> None:
        self.journal = journal
        self.multipliers = dict(multipliers)
        self.keep = (keep_fills, keep_trips)
        self.fill_rows: list[dict[str, Any]] = []  # newest first
        self.trip_rows: list[dict[str, Any]] = []  # newest first
        self._strategies: dict[str, str] = {}  # client id -> strategy of the kept rows (it never changes)
        self.curve_points: dict[str | None, tuple[list[int], list[float]]] = {}  # the curves' published points
        self._reset()

    def _reset(self) -> None:
        self.cursor = 0
        self._book = TripBook(self.multipliers)
        self._last: tuple[int, str] | None = None
        self._kept: deque[tuple[Fill, Decimal]] = deque(maxlen=self.keep[0])
        self._closed: deque[RoundTrip] = deque(maxlen=self.keep[1])
        self.curves: dict[str | None, PnlCurve] = {}  # None: every fill; else one strategy's fills

    def update(self, limit: int | None = None) -> bool:
        """Apply the fills stored since the last read. False, with nothing applied, when more than `limit`
        are new or one sorts before a fill applied (a rebuild): the call without a limit does it."""
        fills, cursor = self.journal.fills_after(self.cursor, None if limit is None else limit + 1)
        if not fills:
            return True
        fills.sort(key=fill_key)
        behind = self._last is not None and fill_key(fills[0]) < self._last
        if limit is not None and (len(fills) > limit or behind):
            return False
        if behind or self._last is None:
            self._reset()
            if behind:  # a late, older fill: replay from the first
                fills, cursor = self.journal.fills_after(0)
                fills.sort(key=fill_key)
        book, kept, closed, curves = self._book, self._kept, self._closed, self.curves
        named = self._strategies_of({f.client_id for f in fills})
        every = curves.setdefault(None, PnlCurve())
        for f in fills:
            realised, trip = book.apply(f)
            kept.append((f, realised))
            if trip is not None:
                closed.append(trip)
            net = float(realised) - float(f.fee)
            every.add(f.ts_ms, net)
            if (strategy := named.get(f.client_id)):
                curve = curves.get(strategy)
                if curve is None:
                    curve = curves[strategy] = PnlCurve()
                curve.add(f.ts_ms, net)
        self._last, self.cursor = fill_key(fills[-1]), cursor
        self._publish()
        return True

    def _strategies_of(self, cids: set[str]) -> dict[str, str]:
        """The strategy of each of these orders ("" for none): those of the kept rows are known."""
        missing = cids - self._strategies.keys()
        found: dict[str, str] = self.journal.order_strategies(missing) if missing else {}
        known = self._strategies
        return {c: known[c] if c in known else found.get(c, "") for c in cids}

    def _publish(self) -> None:
        self._strategies = self._strategies_of({f.client_id for f, _ in self._kept})
        self.fill_rows = [fill_row(f, realised, self._strategies[f.client_id])
                          for f, realised in reversed(self._kept)]
        funding = Funding(settlements(self.journal)) if self._closed else Funding(())
        self.trip_rows = [trip_row(t, funding) for t in reversed(self._closed)]
        self.curve_points = {k: c.points() for k, c in self.curves.items()}  # not `curves`: a build mutates them


class HistoryMixin:
    """The workstation's Fills pane and audit view (EngineWorkstation mixes it in). The journal is read at
    most once a `history_every_s` while the pane is shown, never per frame; up to `history_batch` new fills
    are applied by the caller, more (a first build, a rebuild) wait for `build_history` off the UI loop."""

    node: Any
    history_every_s = 1.0
    history_batch = 500
    _pane_history: PaneHistory | None = None
    _history_read_at = float("-inf")
    _history_due = False  # fills wait for build_history
    _history_building = False
    _orders_read: tuple[float, dict[str, Any]] | None = None

    def _fill_history(self) -> PaneHistory:
        """The pane's history; a new one (a rebuild) when the contracts' sizes changed."""
        h = self._pane_history
        mults = {s: i.quanto_multiplier for s, i in self.node.instruments.items()}
        if h is None or (h.multipliers != mults and not self._history_building):
            old, h = h, PaneHistory(self.node.journal, mults)
            if old is not None:  # shown until the new one is built
                h.fill_rows, h.trip_rows, h.curve_points = old.fill_rows, old.trip_rows, old.curve_points
            self._pane_history = h
        return h

    def _poll_history(self) -> PaneHistory:
        h = self._fill_history()
        now = time.monotonic()
        if not self._history_building and now - self._history_read_at >= self.history_every_s:
            self._history_read_at = now
            store = getattr(self.node, "store", None)  # a store in memory has one connection: never shared
            shared = store is not None and store.is_sqlite and store.path is None
            self._history_due = not h.update(limit=None if shared else self.history_batch)
        return h

    def reread_history(self) -> None:
        """The next call reads the journal again, whenever it last did."""
        self._history_read_at = float("-inf")
        self._orders_read = None

    def claim_history_build(self) -> bool:
        """True when fills wait for `build_history`, which is then the caller's to run (one at a time)."""
        if self._history_building or not self._history_due:
            return False
        self._history_building = True
        return True

    def history_loading(self) -> bool:
        """A build is due or running: the rows shown are the previous ones."""
        return self._history_due or self._history_building

    def build_history(self) -> None:
        """Apply every fill stored since the last read: a first build or a rebuild replays them all, so the
        app runs this in a thread after `claim_history_build`."""
        try:
            assert self._pane_history is not None  # (claimed after a read made it)
            self._pane_history.update()
            self._history_due = False
        except Exception:  # the pane keeps its rows; the next read tries again
            log.exception("the fill history could not be read")
        finally:
            self._history_building = False

    def fills(self, limit: int = KEEP_FILLS) -> list[dict[str, Any]]:
        """The same rows as `cashup fills`, newest first (the newest `KEEP_FILLS`)."""
        if self.node is None:
            return []
        return self._poll_history().fill_rows[:limit]

    def round_trips(self, limit: int = KEEP_TRIPS) -> list[dict[str, Any]]:
        """The same rows as `cashup fills --round-trips`, newest first (the newest `KEEP_TRIPS`)."""
        if self.node is None:
            return []
        return self._poll_history().trip_rows[:limit]

    def pnl_series(self, strategy: str | None = None) -> tuple[list[int], list[float]]:
        """Cumulative net PnL of every fill (or of one strategy's) over the whole history (`PnlCurve`), as last
        published: a build replaying in a thread leaves the previous curve, as it leaves the rows."""
        if self.node is None:
            return [], []
        times, values = self._poll_history().curve_points.get(strategy, ((), ()))
        return list(times), list(values)

    def orders_by_time(self, limit: int = 300) -> list[Any]:
        """The journal's recent orders and the cache's (fresher), newest first by when each was created."""
        if self.node is None:
            return []
        now = time.monotonic()
        if self._orders_read is None or now - self._orders_read[0] >= self.history_every_s:
            self._orders_read = (now, {o.client_id: o for o in self.node.journal.load_orders()})
        merged = {**self._orders_read[1], **{o.client_id: o for o in self.node.cache.orders()}}
        return sorted(merged.values(), key=lambda o: (o.created_ms, o.client_id), reverse=True)[:limit]

    def audit_log(self, limit: int = 500) -> list[dict[str, Any]]:
        """The audit log of this store, newest first (empty with an in-memory journal)."""
        store = self.node.store if self.node is not None else None
        if store is None:
            return []
        from cashup_tui.service.fills import audit_rows

        return audit_rows(store, mode=self.node.mode.value, limit=limit)[::-1]
