"""Fills, round trips, order history and the audit log as rows: one builder for `cashup fills` / `cashup
audit` and the workstation's Fills pane and audit view, so both front ends show the same numbers.

Realised PnL per fill comes from replaying the account's fills per contract in time order through the
domain `Position`; a position opened before the journal's first fill is not known to it, so its first
closing fills show no realised PnL. Round trips are `domain.round_trips` over the same fills, with the
funding settlements the engine booked while each was open.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from cashup_tui.engine.funding import settlements

FILL_COLUMNS = ("time", "ts_ms", "symbol", "side", "size", "price", "fee", "realised_pnl", "liquidity", "trade_id",
                "client_id", "venue_order_id", "strategy")
TRIP_COLUMNS = ("symbol", "side", "size", "entry_price", "exit_price", "open", "close", "duration_s", "realised_pnl",
                "fees", "funding", "net_pnl", "fills", "open_ms", "close_ms")
AUDIT_COLUMNS = ("time", "ts_ms", "actor", "action", "outcome", "detail", "mode")


def _iso(ts_ms: int) -> str:
    from cashup_tui.store.timefmt import iso

    return iso(ts_ms, ms=True)


def _within(ts: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or ts >= lo) and (hi is None or ts < hi)


def fill_rows(fills: Iterable[Any], orders: Mapping[str, Any], multipliers: Mapping[str, Decimal], *,
              symbol: str | None = None, since_ms: int | None = None, until_ms: int | None = None) -> list[dict[str, Any]]:
    """One row per fill (time order), with the realised price PnL that fill produced; the filters apply after
    the replay (realised PnL needs every earlier fill of the contract)."""
    from cashup_tui.domain.positions import Position

    books: dict[str, Position] = {}
    rows = []
    for f in sorted(fills, key=lambda f: (f.ts_ms, f.trade_id)):
        book = books.setdefault(f.symbol, Position(f.symbol, multipliers.get(f.symbol, Decimal(1))))
        realised = book.apply_fill(f)
        if (symbol and f.symbol != symbol.upper()) or not _within(f.ts_ms, since_ms, until_ms):
            continue
        o = orders.get(f.client_id)
        rows.append({
            "time": _iso(f.ts_ms), "ts_ms": f.ts_ms, "symbol": f.symbol, "side": f.side.value, "size": f.size,
            "price": f.price, "fee": f.fee, "realised_pnl": realised, "liquidity": f.liquidity.value,
            "trade_id": f.trade_id, "client_id": f.client_id, "venue_order_id": f.venue_order_id or "",
            "strategy": (o.strategy if o is not None else "") or "",
        })
    return rows


def trip_rows(fills: Iterable[Any], multipliers: Mapping[str, Decimal], *, symbol: str | None = None,
              since_ms: int | None = None, until_ms: int | None = None,
              funding: Iterable[tuple[int, str, Decimal]] = ()) -> list[dict[str, Any]]:
    """Closed positions (round trips) that closed in [since, until); `funding`: the booked settlements (time,
    contract, amount), each counted in the trip open at its time (after the opening fill, up to the closing
    one); net PnL = realised - fees + funding."""
    from cashup_tui.domain.round_trips import round_trips

    closed, _ = round_trips(list(fills), dict(multipliers))
    paid = list(funding)
    out = []
    for t in closed:
        if (symbol and t.symbol != symbol.upper()) or not _within(t.close_ms or 0, since_ms, until_ms):
            continue
        fund = sum((a for ts, s, a in paid if s == t.symbol and t.open_ms < ts <= (t.close_ms or 0)), Decimal(0))
        out.append({
            "symbol": t.symbol, "side": t.side, "size": t.size, "entry_price": t.entry_price,
            "exit_price": t.exit_price, "open": _iso(t.open_ms), "close": _iso(t.close_ms or 0),
            "duration_s": (t.duration_ms or 0) / 1000, "realised_pnl": t.realised_pnl, "fees": t.fees,
            "funding": fund, "net_pnl": t.net_pnl + fund, "fills": t.fills, "open_ms": t.open_ms,
            "close_ms": t.close_ms,
        })
    return out


def audit_rows(store: Any, *, since_ms: int | None = None, until_ms: int | None = None, mode: str | None = None,
               limit: int = 1000) -> list[dict[str, Any]]:
    """The audit log, oldest first: who (actor `user:trader`, `cli:developer`, `engine`), what, allowed or
    denied, and the details (never a secret: the sessions write none)."""
    from cashup_tui.store.records import list_audit

    out = []
    for a in reversed(list_audit(store, limit, since_ms=since_ms, until_ms=until_ms)):
        details = a.details if isinstance(a.details, dict) else {}
        row_mode = str(details.get("mode", ""))
        if mode and row_mode and row_mode != mode:
            continue
        detail = str(details.get("detail", "")) if "detail" in details else " ".join(
            f"{k}={v}" for k, v in details.items())
        denied = detail.startswith("DENIED")
        out.append({"time": _iso(a.ts_ms), "ts_ms": a.ts_ms, "actor": a.actor, "action": a.action,
                    "outcome": "denied" if denied else "allowed",
                    "detail": detail.removeprefix("DENIED").strip(), "mode": row_mode})
    return out


class HistoryMixin:
    """The workstation's Fills pane and audit view (EngineWorkstation mixes it in). The journal is read at
    most once a `history_every_s` while the pane is shown: never per frame."""

    node: Any
    history_every_s = 1.0

    def _journal_history(self) -> tuple[list[Any], dict[str, Any]]:
        now = time.monotonic()
        cached = getattr(self, "_journal_read", None)
        if cached is None or now - cached[0] >= self.history_every_s:
            j = self.node.journal
            cached = (now, j.load_fills(), {o.client_id: o for o in j.load_orders()})
            self._journal_read = cached
        return cached[1], cached[2]

    def _multipliers(self) -> dict[str, Decimal]:
        return {s: i.quanto_multiplier for s, i in self.node.instruments.items()}

    def fills(self, limit: int = 500) -> list[dict[str, Any]]:
        """The same rows as `cashup fills`, newest first."""
        if self.node is None:
            return []
        fills, orders = self._journal_history()
        return fill_rows(fills, orders, self._multipliers())[::-1][:limit]

    def round_trips(self, limit: int = 200) -> list[dict[str, Any]]:
        """The same rows as `cashup fills --round-trips`, newest first."""
        if self.node is None:
            return []
        fills, _ = self._journal_history()
        return trip_rows(fills, self._multipliers(), funding=settlements(self.node.journal))[::-1][:limit]

    def orders_by_time(self, limit: int = 300) -> list[Any]:
        """Every order of the journal (open and done), newest first by when it was created."""
        if self.node is None:
            return []
        _, orders = self._journal_history()
        live = {o.client_id: o for o in self.node.cache.orders()}
        merged = {**orders, **live}  # the cache is fresher than the journal's last read
        return sorted(merged.values(), key=lambda o: (o.created_ms, o.client_id), reverse=True)[:limit]

    def audit_log(self, limit: int = 500) -> list[dict[str, Any]]:
        """The audit log of this store, newest first (empty with an in-memory journal)."""
        store = self.node.store if self.node is not None else None
        if store is None:
            return []
        return audit_rows(store, mode=self.node.mode.value, limit=limit)[::-1]
