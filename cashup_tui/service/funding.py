"""What Market shows about funding: the rate of the next settlement, Gate's predicted rate, and the time
left until the settlement.

Why a view of its own: the countdown is arithmetic on the venue's `funding_next_apply` (epoch seconds, on
the ticker and the contract) and a clock the caller passes in, so a test can set the time. A venue that
sends no next-apply time (an old ticker frame) settles on the contract's interval grid (Gate settles at
whole multiples of `funding_interval` since the epoch), so the countdown falls back to that grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Ticker


@dataclass(frozen=True, slots=True)
class FundingView:
    symbol: str
    rate: float  # fraction: the rate of the next settlement (> 0: longs pay shorts)
    predicted: float | None  # Gate's indicative rate, None when the venue sends none
    next_apply_s: int  # epoch seconds of the next settlement
    seconds_left: int

    @property
    def countdown(self) -> str:
        """'03:12:45' (hours may pass 24 on a long interval)."""
        s = max(0, self.seconds_left)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def funding_view(ticker: Ticker | None, instrument: Instrument | None, now_ms: int) -> FundingView | None:
    """The funding line for one contract at `now_ms`; None before the first ticker."""
    if ticker is None:
        return None
    now_s = now_ms // 1000
    nxt = ticker.funding_next_apply_s
    interval = instrument.funding_interval_s if instrument is not None and instrument.funding_interval_s > 0 else 28_800
    if nxt <= now_s:  # none sent, or the settlement passed before the next ticker: the interval grid
        nxt = (now_s // interval + 1) * interval
    predicted = ticker.funding_rate_indicative if ticker.funding_rate_indicative or ticker.funding_next_apply_s else None
    return FundingView(ticker.symbol, ticker.funding_rate, predicted, nxt, nxt - now_s)
