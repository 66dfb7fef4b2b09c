"""Number sanity for normalised market values: a feed that lies must not reach the engine.

Why: msgspec and float() accept NaN, inf, negative and zero prices, and a mark of 1e-9 or inf once
reached the risk gate. A price here is finite and > 0 (0 only where Gate leaves an optional field
empty: "absent"); a size is finite (book sizes >= 0). The parser drops a frame with any bad value
and counts and logs the reason; positive-but-absurd prices are the price guard's job (engine).
"""

from __future__ import annotations

import math
from typing import Any

from cashup_tui.adapters.gateio.book import BookDelta
from cashup_tui.adapters.gateio.book import Level as BookLevelMsg
from cashup_tui.adapters.gateio.frames import BookTickerMsg, TickerMsg, TradeMsg
from cashup_tui.domain.market import Bar

_isfinite = math.isfinite


_isfinite = math.isfinite


def _bad_price(name: str, x: float, *, optional: bool = False) -> str:
    if not _isfinite(x) or x < 0 or (x == 0 and not optional):
        return f"{name} {x!r} is not a finite positive price"
    return ""


def _bad_num(name: str, x: float) -> str:
    return "" if _isfinite(x) else f"{name} {x!r} is not finite"


def levels_problem(side: str, levels: list[BookLevelMsg]) -> str:
    for lv in levels:
        p, s = lv.p, lv.s
        if not (_isfinite(p) and p > 0 and _isfinite(s) and s >= 0):
            return f"{side} level {p!r} x {s!r}: price must be finite > 0, size finite >= 0"
    return ""


def value_problem(v: Any) -> str:
    """Why a normalised market value must not be used ("" = fine). Prices: finite and > 0 (an empty
    optional field is 0 = absent); sizes: finite (book sizes >= 0)."""
    if isinstance(v, TickerMsg):
        for name in ("last", "mark_price", "index_price", "high_24h", "low_24h"):
            why = _bad_price(name, getattr(v, name), optional=True)
            if why:
                return why
        for name in ("change_pct", "volume_24h_quote", "funding_rate", "open_interest"):
            why = _bad_num(name, getattr(v, name))
            if why:
                return why
        if not (v.last > 0 or v.mark_price > 0):
            return "ticker without a last or mark price"
        return ""
    if isinstance(v, TradeMsg):
        return _bad_price("price", v.price) or _bad_num("size", v.size)
    if isinstance(v, BookTickerMsg):
        return (_bad_price("bid", v.bid, optional=True) or _bad_price("ask", v.ask, optional=True)
                or _bad_price("bid_size", v.bid_size, optional=True) or _bad_price("ask_size", v.ask_size, optional=True))
    if isinstance(v, BookDelta):
        return levels_problem("bid", v.bids) or levels_problem("ask", v.asks)
    if isinstance(v, Bar):
        return (_bad_price("open", v.open) or _bad_price("high", v.high) or _bad_price("low", v.low)
                or _bad_price("close", v.close) or _bad_price("volume", v.volume, optional=True))
    return ""


def check_values(values: list[Any]) -> list[Any]:
    for v in values:
        why = value_problem(v)
        if why:
            raise ValueError(f"{getattr(v, 'symbol', '?')}: {why}")
    return values
