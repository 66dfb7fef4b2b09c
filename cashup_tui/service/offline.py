"""The account as the journal last saw it, for commands that run without connecting to the venue.

Why here: `cashup positions`, `risk status|kill 1|resume|report` read positions, cash and the
trading state from the journal and must agree with what a running node would load; building that
portfolio and risk engine once keeps the CLI command modules to parsing and printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any  # journal: the store's journal (load_positions, load_balances, kv_get)

from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.positions import Position
from cashup_tui.engine.portfolio import Portfolio
from cashup_tui.engine.risk import RiskEngine

PLACEHOLDER_TICK = Decimal("0.01")  # only the contract multiplier matters for PnL and notional offline


def usdt_cash(journal: Any) -> Decimal:
    """The USDT total of the journalled balances (0 when none was recorded yet)."""
    return next((b.total for b in journal.load_balances() if b.currency.upper() == "USDT"), Decimal(0))


def known_instruments(positions: Iterable[Position], known: Mapping[str, Instrument] | None = None) -> dict[str, Instrument]:
    """Each position's instrument: the stored one if known, else one built from the position's multiplier."""
    known = known or {}
    return {p.symbol: known.get(p.symbol) or Instrument(p.symbol, p.quanto_multiplier, PLACEHOLDER_TICK)
            for p in positions}


def journal_portfolio(journal: Any, positions: Sequence[Position],
                      instruments: Mapping[str, Instrument]) -> Portfolio:
    """A portfolio holding `positions` with the journalled USDT cash."""
    pf = Portfolio.with_cash(instruments, usdt_cash(journal))
    for p in positions:
        pf.positions[p.symbol] = p
    return pf


def offline_risk(risk_settings: Any, journal: Any) -> RiskEngine:
    """A risk engine over the journal only: state changes without connecting to the venue."""
    from cashup_tui.engine.cache import Cache
    from cashup_tui.engine.clock import LiveClock
    from cashup_tui.engine.risk import RiskLimits

    pf = journal_portfolio(journal, journal.load_positions(), {})
    risk = RiskEngine(RiskLimits.from_settings(risk_settings), {}, pf, Cache(), LiveClock(), journal)
    risk.load()
    return risk
