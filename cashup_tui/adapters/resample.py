"""Resample OHLCV to a higher timeframe: epoch-aligned buckets (weekly ones open Monday 00:00 UTC), o=first h=max l=min c=last v=sum.

Incomplete buckets at the edges (the data starts or ends mid-bucket) are dropped and reported.
A bucket inside the series that misses source bars (a gap) is kept and counted: gaps are
reported, never filled or hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cashup_tui.domain.timeframes import bucket_anchor, check_resample, timeframe_ms


@dataclass(slots=True)
class ResampleResult:
    columns: dict[str, np.ndarray]
    src_bars_per_bar: int
    dropped_leading: int = 0  # source bars in a dropped incomplete first bucket
    dropped_trailing: int = 0  # source bars in a dropped incomplete last bucket
    partial_interior: list[int] = field(default_factory=list)  # open_ms of kept buckets with missing source bars

    @property
    def rows(self) -> int:
        return len(self.columns["open_ms"])


def resample_ohlcv(cols: dict[str, np.ndarray], src_tf: str, dst_tf: str) -> ResampleResult:
    """`cols` holds ascending open_ms and open/high/low/close/volume arrays of `src_tf` bars."""
    n = check_resample(src_tf, dst_tf)
    step = timeframe_ms(dst_tf)
    t = np.asarray(cols["open_ms"], dtype="int64")
    empty = {k: np.asarray(cols[k])[:0] for k in ("open_ms", "open", "high", "low", "close", "volume")}
    if len(t) == 0:
        return ResampleResult(empty, n)
    if np.any(np.diff(t) <= 0):
        raise ValueError("open_ms must be strictly ascending")
    bucket = t - (t - bucket_anchor(step)) % step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, len(t)])
    ends = starts + counts - 1
    out = {
        "open_ms": bucket[starts],
        "open": np.asarray(cols["open"], dtype="float64")[starts],
        "high": np.maximum.reduceat(np.asarray(cols["high"], dtype="float64"), starts),
        "low": np.minimum.reduceat(np.asarray(cols["low"], dtype="float64"), starts),
        "close": np.asarray(cols["close"], dtype="float64")[ends],
        "volume": np.add.reduceat(np.asarray(cols["volume"], dtype="float64"), starts),
    }
    keep = np.ones(len(starts), dtype=bool)
    res = ResampleResult(out, n)
    if counts[0] < n:
        keep[0] = False
        res.dropped_leading = int(counts[0])
    if len(starts) > 1 and counts[-1] < n:
        keep[-1] = False
        res.dropped_trailing = int(counts[-1])
    inner = keep & (counts < n)
    res.partial_interior = [int(x) for x in out["open_ms"][inner]]
    res.columns = {k: v[keep] for k, v in out.items()}
    return res
