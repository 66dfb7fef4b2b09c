"""Resampling against pandas (epoch-aligned, o first h max l min c last v sum), edges dropped, gaps kept visible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.candle_files import read_candle_file
from cashup_tui.adapters.resample import resample_ohlcv
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.timeframes import timeframe_ms

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def _pandas_reference(cols: dict[str, np.ndarray], src: str, dst: str) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    df.index = pd.to_datetime(df["open_ms"], unit="ms", utc=True)
    rule = f"{timeframe_ms(dst) // 60_000}min"
    out = df.drop(columns="open_ms").resample(rule, origin="epoch", label="left", closed="left").agg(AGG)
    counts = df["open"].resample(rule, origin="epoch", label="left", closed="left").count()
    out = out[counts > 0]
    counts = counts[counts > 0]
    n = timeframe_ms(dst) // timeframe_ms(src)
    keep = np.ones(len(out), dtype=bool)
    if counts.iloc[0] < n:
        keep[0] = False
    if len(out) > 1 and counts.iloc[-1] < n:
        keep[-1] = False
    out = out[keep]
    out.insert(0, "open_ms", (out.index.astype("int64") // 10**6).astype("int64") if out.index.dtype.unit == "ns"
               else out.index.as_unit("ms").astype("int64"))
    return out.reset_index(drop=True)


def _check(cols: dict[str, np.ndarray], src: str, dst: str) -> None:
    res = resample_ohlcv(cols, src, dst)
    ref = _pandas_reference(cols, src, dst)
    got = pd.DataFrame(res.columns)
    assert got["open_ms"].tolist() == ref["open_ms"].tolist()
    for c in AGG:
        np.testing.assert_allclose(got[c].to_numpy(), ref[c].to_numpy(), rtol=0, atol=1e-9 * max(1.0, ref[c].abs().max()))


@pytest.mark.parametrize(("src", "dst", "rows"), [("1m", "5m", 20_000), ("1m", "1h", 45_031), ("1m", "15m", 997)])
def test_resample_real_minute_bars_matches_pandas(market_dir: Path, src: str, dst: str, rows: int) -> None:
    d = read_candle_file(market_dir / "ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv", timeframe="1m")
    cols = {k: v[:rows] for k, v in d.columns().items()}
    _check(cols, src, dst)


def test_resample_hourly_to_4h_matches_pandas(market_dir: Path) -> None:
    d = read_candle_file(market_dir / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv", timeframe="1h")
    res = resample_ohlcv(d.columns(), "1h", "4h")
    assert res.dropped_leading == 0 and res.dropped_trailing == 1  # last bar 08:00 is alone in its bucket
    _check(d.columns(), "1h", "4h")


def test_edges_dropped_and_interior_gaps_reported() -> None:
    m = 60_000
    t = np.array([3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17]) * m  # starts mid-bucket, hole at 10-11, ends mid-bucket
    cols = {"open_ms": t, "open": np.arange(len(t)) + 1.0, "high": np.arange(len(t)) + 2.0,
            "low": np.arange(len(t)) + 0.5, "close": np.arange(len(t)) + 1.5, "volume": np.ones(len(t))}
    res = resample_ohlcv(cols, "1m", "5m")
    assert res.dropped_leading == 2 and res.dropped_trailing == 3  # bucket 0 (3,4) and bucket 15 (15,16,17)
    assert res.columns["open_ms"].tolist() == [5 * m, 10 * m]
    assert res.partial_interior == [10 * m]  # built from 3 of 5 bars: reported
    assert res.columns["volume"].tolist() == [5.0, 3.0]
    assert res.columns["open"].tolist() == [3.0, 8.0] and res.columns["close"].tolist() == [7.5, 10.5]
    _check(cols, "1m", "5m")


def test_invalid_resamples_are_refused() -> None:
    cols = {k: np.array([0.0]) for k in ("open", "high", "low", "close", "volume")} | {"open_ms": np.array([0])}
    for src, dst in (("5m", "1m"), ("1h", "90m"), ("1h", "1h")):
        with pytest.raises(ValidationError, match="cannot resample"):
            resample_ohlcv(cols, src, dst)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=1, max_size=200),
    st.sampled_from([("1m", "5m"), ("1m", "3m"), ("5m", "1h"), ("1h", "4h"), ("1h", "1d")]),
    st.integers(0, 50),
)
def test_resample_property_matches_pandas(present: list[bool], tfs: tuple[str, str], offset: int) -> None:
    src, dst = tfs
    step = timeframe_ms(src)
    idx = np.flatnonzero(np.array(present)) + offset
    if len(idx) == 0:
        return
    rng = np.random.default_rng(len(present) + offset)
    o = rng.uniform(90, 110, len(idx))
    c = rng.uniform(90, 110, len(idx))
    cols = {"open_ms": (1_700_000_000_000 // step + idx) * step, "open": o, "close": c,
            "high": np.maximum(o, c) + rng.uniform(0, 2, len(idx)), "low": np.minimum(o, c) - rng.uniform(0, 2, len(idx)),
            "volume": rng.uniform(0, 10, len(idx))}
    res = resample_ohlcv(cols, src, dst)
    if res.rows:
        _check(cols, src, dst)
        assert (res.columns["open_ms"] % timeframe_ms(dst) == 0).all()
        assert (res.columns["high"] >= res.columns["low"]).all()
