"""`domain.live_bars.follow_live`: a fetched higher-timeframe series plus the live minutes since the fetch
equals the series built from every trade, whatever the trades, the fetch time and the timeframe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.live_bars import FetchMark, follow_live
from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import bucket_start, timeframe_ms

T0 = 1_763_942_400_000  # a Monday 00:00 UTC
Trade = tuple[int, float, float]  # time ms, price, size (whole numbers: sums are exact in any order)


def bars_of(trades: list[Trade], tf: str, symbol: str = "BTC_USDT") -> list[Bar]:
    """OHLCV bars of `tf` from time-ordered trades: the truth both sides are held to."""
    step = timeframe_ms(tf)
    out: list[Bar] = []
    for t, p, q in trades:
        start = bucket_start(t, step)
        if out and out[-1].open_ms == start:
            b = out[-1]
            out[-1] = Bar(symbol, tf, start, b.open, max(b.high, p), min(b.low, p), p, b.volume + q, closed=False)
        else:
            if out:
                b = out[-1]
                out[-1] = Bar(symbol, tf, b.open_ms, b.open, b.high, b.low, b.close, b.volume, closed=True)
            out.append(Bar(symbol, tf, start, p, p, p, p, q, closed=False))
    return out


def ohlcv(bars: list[Bar]) -> list[tuple[int, float, float, float, float, float]]:
    return [(b.open_ms, b.open, b.high, b.low, b.close, b.volume) for b in bars]


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[Trade], int, int, str]:
    tf = draw(st.sampled_from(["5m", "15m", "1h", "4h"]))
    gaps = draw(st.lists(st.integers(0, 400_000), min_size=1, max_size=120))
    prices = draw(st.lists(st.integers(9_000, 11_000), min_size=len(gaps), max_size=len(gaps)))
    sizes = draw(st.lists(st.integers(1, 50), min_size=len(gaps), max_size=len(gaps)))
    t, trades = T0, []
    for g, p, q in zip(gaps, prices, sizes, strict=True):
        t += g
        trades.append((t, p / 10, float(q)))
    fetch_i = draw(st.integers(0, len(trades) - 1))  # the fetch sees trades[: fetch_i + 1]
    connect_i = draw(st.integers(0, fetch_i))  # the live stream's first minute holds trades[connect_i]
    return trades, fetch_i, connect_i, tf


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_fetched_series_plus_live_minutes_equals_the_series_of_every_trade(case: tuple[list[Trade], int, int, str]) -> None:
    trades, fetch_i, connect_i, tf = case
    seen = trades[: fetch_i + 1]
    fetched = bars_of(seen, tf)
    first_minute = bucket_start(trades[connect_i][0], 60_000)
    live_at_fetch = [b for b in bars_of(seen, "1m") if b.open_ms >= first_minute]
    mark = FetchMark(live_at_fetch[-1].open_ms, live_at_fetch[-1].volume)
    live_now = [b for b in bars_of(trades, "1m") if b.open_ms >= first_minute]

    got = follow_live(fetched, live_now, mark)

    assert ohlcv(got) == ohlcv(bars_of(trades, tf))
    assert [b.closed for b in got] == [True] * (len(got) - 1) + [False]


def test_no_new_minute_changes_nothing_and_the_fetched_list_is_not_touched() -> None:
    trades = [(T0 + 5_000, 100.0, 1.0), (T0 + 70_000, 101.0, 2.0)]
    fetched = bars_of(trades, "15m")
    live = bars_of(trades, "1m")
    got = follow_live(fetched, live, FetchMark(live[-1].open_ms, live[-1].volume))
    assert ohlcv(got) == ohlcv(fetched)
    assert got is not fetched and len(fetched) == 1


def test_returned_as_fetched_without_a_mark_or_for_a_timeframe_minutes_cannot_make() -> None:
    trades = [(T0 + 5_000, 100.0, 1.0), (T0 + 70_000, 101.0, 2.0)]
    later = [*trades, (T0 + 130_000, 99.0, 4.0)]
    live = bars_of(later, "1m")
    mark = FetchMark(live[1].open_ms, 2.0)
    for tf in ("10s", "30s", "1m", "90s"):
        fetched = bars_of(trades, tf)
        assert ohlcv(follow_live(fetched, live, mark)) == ohlcv(fetched), tf
    fetched = bars_of(trades, "15m")
    assert ohlcv(follow_live(fetched, live, None)) == ohlcv(fetched)
    assert ohlcv(follow_live(fetched, live, mark)) == ohlcv(bars_of(later, "15m"))
