"""The market's flow strip at every width: parts shorten before any is dropped, the funding countdown
stays longest after the symbol (it was last on the line and cut off below ~200 columns)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.app.panes.market import fund_flow_text
from cashup_tui.domain.market import Ticker, Trade
from cashup_tui.service.funding import FundingView
from tests.campaign import examples

TRADES = [Trade("BTC_USDT", 1, 1, 26_600.0, 1_250.0), Trade("BTC_USDT", 2, 2, 26_601.0, -980.0)]
TICKER = Ticker("BTC_USDT", 1, 26_600.0, funding_rate=0.0001, open_interest=12_345_678.0,
                funding_rate_indicative=0.00012, funding_next_apply_s=1_000)
FUNDING = FundingView("BTC_USDT", 0.0001, 0.00012, 1_000, 3 * 3600 + 12 * 60 + 5)


def test_wide_shows_everything_in_full() -> None:
    text = fund_flow_text("BTC_USDT", TRADES, TICKER, 12_000_000.0, FUNDING).plain
    assert text.startswith("BTC_USDT flow taker buy/sell 1.25k/980 cont ▲+12.1%")
    assert "funding +0.0100%  next pred +0.0120% in 03:12:05" in text and text.endswith("OI 12.35M cont ▲+2.88%")


@settings(max_examples=examples(100))
@given(st.integers(36, 240))
def test_every_width_keeps_the_countdown_and_fits(width: int) -> None:
    text = fund_flow_text("BTC_USDT", TRADES, TICKER, 12_000_000.0, FUNDING, width).plain
    assert len(text) <= width
    assert text.startswith("BTC_USDT ") and re.search(r"in 03:12:05", text)


def test_narrow_order_of_giving_way() -> None:
    """Open interest loses its change first, then the funding its prediction (the flow keeps its volumes at
    100 columns), then the flow its volumes, then open interest goes, then the flow: the countdown stays."""
    def at(width: int) -> str:
        return fund_flow_text("BTC_USDT", TRADES, TICKER, 12_000_000.0, FUNDING, width).plain

    assert at(120) == ("BTC_USDT flow taker buy/sell 1.25k/980 cont ▲+12.1%  funding +0.0100%  next pred +0.0120% "
                       "in 03:12:05  OI 12.35M cont")
    assert at(100) == "BTC_USDT flow taker buy/sell 1.25k/980 cont ▲+12.1%  fund +0.0100% in 03:12:05  OI 12.35M cont"
    assert at(90) == "BTC_USDT flow ▲+12.1%  funding +0.0100%  next pred +0.0120% in 03:12:05  OI 12.35M cont"
    assert at(70) == "BTC_USDT flow ▲+12.1%  fund +0.0100% in 03:12:05  OI 12.35M cont"
    assert at(50) == "BTC_USDT flow ▲+12.1%  fund +0.0100% in 03:12:05"
    assert at(40) == "BTC_USDT fund +0.0100% in 03:12:05"


def test_no_ticker_yet() -> None:
    assert fund_flow_text("BTC_USDT", [], None, None, None, 40).plain == "BTC_USDT flow  +0.0%"
