"""Fills, round trips, order history and the audit log as rows: one builder for `cashup fills` / `cashup
audit` and the workstation's Fills pane and audit view, so both front ends show the same numbers.

Realised PnL per fill comes from replaying the account's fills per contract in time order through the
domain `Position`; a position opened before the journal's first fill is not known to it, so its first
closing fills show no realised PnL. Round trips are `domain.round_trips` over the same fills, with the
funding settlements the engine booked while each was open.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

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


def fill_row(f: Any, realised: Decimal, strategy: str) -> dict[str, Any]:
    """The row of one fill: what `cashup fills` prints and the Fills pane shows."""
    return {
        "time": _iso(f.ts_ms), "ts_ms": f.ts_ms, "symbol": f.symbol, "side": f.side.value, "size": f.size,
        "price": f.price, "fee": f.fee, "realised_pnl": realised, "liquidity": f.liquidity.value,
        "trade_id": f.trade_id, "client_id": f.client_id, "venue_order_id": f.venue_order_id or "",
        "strategy": strategy,
    }


class Funding:
    """The booked settlements (time, contract, amount) per contract with running sums, so a trip's share
    (those after its opening fill, up to its closing one) is two bisections, not a scan of them all."""

    def __init__(self, paid: Iterable[tuple[int, str, Decimal]]) -> None:
        self._per: dict[str, tuple[list[int], list[Decimal]]] = {}
        for ts, sym, amount in sorted(paid, key=lambda x: x[0]):
            times, sums = self._per.setdefault(sym, ([], [Decimal(0)]))
            times.append(ts)
            sums.append(sums[-1] + amount)

    def between(self, symbol: str, after_ms: int, upto_ms: int) -> Decimal:
        times, sums = self._per.get(symbol, ([], [Decimal(0)]))
        return sums[bisect_right(times, upto_ms)] - sums[bisect_right(times, after_ms)]


def trip_row(t: Any, funding: Funding) -> dict[str, Any]:
    """The row of one closed trip, with the funding booked while it was open (net = realised - fees + funding)."""
    fund = funding.between(t.symbol, t.open_ms, t.close_ms or 0)
    return {
        "symbol": t.symbol, "side": t.side, "size": t.size, "entry_price": t.entry_price,
        "exit_price": t.exit_price, "open": _iso(t.open_ms), "close": _iso(t.close_ms or 0),
        "duration_s": (t.duration_ms or 0) / 1000, "realised_pnl": t.realised_pnl, "fees": t.fees,
        "funding": fund, "net_pnl": t.net_pnl + fund, "fills": t.fills, "open_ms": t.open_ms,
        "close_ms": t.close_ms,
    }


def fill_rows(fills: Iterable[Any], strategies: Mapping[str, str], multipliers: Mapping[str, Decimal], *,
              symbol: str | None = None, since_ms: int | None = None, until_ms: int | None = None) -> list[dict[str, Any]]:
    """One row per fill (time order), with the realised price PnL that fill produced and its order's strategy
    (`strategies`: client id -> strategy); the filters apply after the replay (realised PnL needs every
    earlier fill of the contract)."""
    from cashup_tui.domain.round_trips import TripBook, fill_key

    book = TripBook(multipliers)
    rows = []
    for f in sorted(fills, key=fill_key):
        realised, _ = book.apply(f)
        if (symbol and f.symbol != symbol.upper()) or not _within(f.ts_ms, since_ms, until_ms):
            continue
        rows.append(fill_row(f, realised, strategies.get(f.client_id, "")))
    return rows


def trip_rows(fills: Iterable[Any], multipliers: Mapping[str, Decimal], *, symbol: str | None = None,
              since_ms: int | None = None, until_ms: int | None = None,
              funding: Iterable[tuple[int, str, Decimal]] = ()) -> list[dict[str, Any]]:
    """Closed positions (round trips) that closed in [since, until); `funding`: the booked settlements (time,
    contract, amount), each counted in the trip open at its time (after the opening fill, up to the closing
    one); net PnL = realised - fees + funding."""
    from cashup_tui.domain.round_trips import round_trips

    closed, _ = round_trips(list(fills), dict(multipliers))
    paid = Funding(funding)
    return [trip_row(t, paid) for t in closed
            if not (symbol and t.symbol != symbol.upper()) and _within(t.close_ms or 0, since_ms, until_ms)]


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
