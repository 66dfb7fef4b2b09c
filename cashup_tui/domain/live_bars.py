"""A higher-timeframe chart series (15m, 1h, ...) kept current from the live 1-minute bars between its
REST fetches, so the workstation's context chart moves with the main chart instead of freezing its last
candle until the next fetch.

The fetched series already holds every trade up to the fetch, including part of the minute then
forming. `FetchMark` is that minute's live bar as it stood at the fetch: of it, only the volume added
since is new; price extremes and the close merge the same way whether counted once or twice. Live
minutes after it are new in full, and a minute in a bucket after the fetched ones opens that bucket.
A gap in the live minutes (a reconnect) leaves that volume out until the next fetch replaces the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cashup_tui.domain.market import Bar
from cashup_tui.domain.timeframes import bucket_start, timeframe_ms

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class FetchMark:
    """The newest live 1-minute bar when a series was fetched: its open time and its volume then."""

    open_ms: int
    volume: float


def follow_live(fetched: Sequence[Bar], live_1m: Sequence[Bar], mark: FetchMark | None) -> list[Bar]:
    """`fetched` (ascending, one timeframe) with the live 1-minute bars since `mark` merged in; the last
    bar is the forming one (`closed=False`). Returned as it is: a timeframe that is not a longer whole
    number of minutes, or no mark (no live bar at the fetch, so the overlap is unknown)."""
    out = list(fetched)
    if not out or not live_1m or mark is None:
        return out
    last = out[-1]
    tf = last.timeframe
    step = timeframe_ms(tf)
    if step <= MINUTE_MS or step % MINUTE_MS:
        return out  # minutes make up only a longer, whole number of them
    cur: Bar | None = None
    for b in live_1m:
        start = bucket_start(b.open_ms, step)
        if start < last.open_ms:
            continue
        volume = b.volume
        if start == last.open_ms:
            if b.open_ms < mark.open_ms:
                continue  # in the fetched bar already
            if b.open_ms == mark.open_ms:
                volume = max(0.0, b.volume - mark.volume)  # what the minute traded since the fetch
        if cur is not None and start == cur.open_ms:
            cur = replace(cur, high=max(cur.high, b.high), low=min(cur.low, b.low), close=b.close,
                          volume=cur.volume + volume)
        elif start == last.open_ms and cur is None:
            cur = replace(last, high=max(last.high, b.high), low=min(last.low, b.low), close=b.close,
                          volume=last.volume + volume, closed=False)
            out.pop()
        else:
            if cur is not None:
                out.append(replace(cur, closed=True))
            cur = Bar(b.symbol, tf, start, b.open, b.high, b.low, b.close, volume, closed=False)
    if cur is not None:
        out.append(cur)
    return out
