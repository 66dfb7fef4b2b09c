"""Indicators: vectorised == incremental, and both match plain-Python reference formulas
written here independently (textbook definitions, one loop each)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.errors import ValidationError
from cashup_tui.engine import indicators as ind
from tests.conftest import MARKET_DIR, need_shared

RTOL = 1e-9


# ------------------------------------------------------------------ independent references
def ref_sma(x, n):
    return [math.nan if i < n - 1 else sum(x[i - n + 1 : i + 1]) / n for i in range(len(x))]


def ref_ema_like(x, n, a):
    out, prev, start = [], None, None
    for i, v in enumerate(x):
        if v != v:  # NaN input: not started yet
            out.append(math.nan)
            continue
        if start is None:
            start = i
        if i - start < n - 1:
            out.append(math.nan)
        elif i - start == n - 1:
            prev = sum(x[start : i + 1]) / n
            out.append(prev)
        else:
            prev = a * v + (1 - a) * prev
            out.append(prev)
    return out


def ref_ema(x, n):
    return ref_ema_like(x, n, 2 / (n + 1))


def ref_wilder(x, n):
    return ref_ema_like(x, n, 1 / n)


def ref_wma(x, n):
    den = n * (n + 1) / 2
    return [math.nan if i < n - 1 else sum((j + 1) * x[i - n + 1 + j] for j in range(n)) / den for i in range(len(x))]


def ref_rsi(c, n):
    gains = [max(c[i] - c[i - 1], 0) for i in range(1, len(c))]
    losses = [max(c[i - 1] - c[i], 0) for i in range(1, len(c))]
    ag, al = ref_wilder(gains, n), ref_wilder(losses, n)
    out = [math.nan]
    for g, lo in zip(ag, al, strict=False):
        if g != g:
            out.append(math.nan)
        elif lo == 0:
            out.append(50.0 if g == 0 else 100.0)
        else:
            out.append(100 - 100 / (1 + g / lo))
    return out


def ref_tr(h, lw, c):
    return [h[0] - lw[0]] + [max(h[i] - lw[i], abs(h[i] - c[i - 1]), abs(lw[i] - c[i - 1])) for i in range(1, len(c))]


def ref_std(x, n):
    out = []
    for i in range(len(x)):
        if i < n - 1:
            out.append(math.nan)
            continue
        w = x[i - n + 1 : i + 1]
        m = sum(w) / n
        out.append(math.sqrt(sum((v - m) ** 2 for v in w) / n))
    return out


def ref_adx(h, lw, c, n):
    tr, pdm, mdm = [], [], []
    for i in range(1, len(c)):
        up, dn = h[i] - h[i - 1], lw[i - 1] - lw[i]
        pdm.append(up if up > dn and up > 0 else 0.0)
        mdm.append(dn if dn > up and dn > 0 else 0.0)
        tr.append(max(h[i] - lw[i], abs(h[i] - c[i - 1]), abs(lw[i] - c[i - 1])))
    s, sp, sm = ref_wilder(tr, n), ref_wilder(pdm, n), ref_wilder(mdm, n)
    pdi, mdi, dx = [math.nan], [math.nan], []
    for a, b, t in zip(sp, sm, s, strict=False):
        if t != t:
            pdi.append(math.nan)
            mdi.append(math.nan)
            dx.append(math.nan)
            continue
        p, m = (100 * a / t, 100 * b / t) if t > 0 else (0.0, 0.0)
        pdi.append(p)
        mdi.append(m)
        dx.append(100 * abs(p - m) / (p + m) if p + m > 0 else 0.0)
    return [math.nan, *ref_wilder(dx, n)], pdi, mdi


def ref_stoch(h, lw, c, k, d):
    kk = []
    for i in range(len(c)):
        if i < k - 1:
            kk.append(math.nan)
            continue
        hh, ll = max(h[i - k + 1 : i + 1]), min(lw[i - k + 1 : i + 1])
        kk.append(100 * (c[i] - ll) / (hh - ll) if hh > ll else 50.0)
    dd = [math.nan] * (k - 1) + ref_sma(kk[k - 1 :], d)
    return kk, dd


def ref_obv(c, v):
    out = [0.0]
    for i in range(1, len(c)):
        out.append(out[-1] + (v[i] if c[i] > c[i - 1] else -v[i] if c[i] < c[i - 1] else 0))
    return out


def ref_vwap(h, lw, c, v):
    num = den = 0.0
    out = []
    for i in range(len(c)):
        num += (h[i] + lw[i] + c[i]) / 3 * v[i]
        den += v[i]
        out.append(num / den if den > 0 else math.nan)
    return out


# ------------------------------------------------------------------ data
def _load(name: str, rows: int = 3000):
    path = need_shared(MARKET_DIR / name)
    with path.open() as fh:
        r = list(csv.DictReader(fh))[:rows]
    cols = {k: [float(x[k]) for x in r] for k in ("open", "high", "low", "close")}
    cols["volume"] = [float(x.get("volume_contracts") or x.get("volume") or 0) for x in r]
    return cols


@pytest.fixture(scope="module")
def bars():
    return _load("gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv")


def close_enough(a, b, rtol: float = RTOL, atol: float = 1e-9) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (np.flatnonzero(np.isnan(a) != np.isnan(b))[:5])
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=atol)


def feed(obj, *cols):
    """Run an incremental indicator over columns; collect the output (tuples -> columns)."""
    out = [obj.update(*vals) for vals in zip(*cols, strict=False)]
    if out and isinstance(out[0], tuple):
        return [list(x) for x in zip(*out, strict=False)]
    return out


# ------------------------------------------------------------------ tests on real candles
@pytest.mark.parametrize("n", [1, 2, 10, 50])
def test_moving_averages(bars, n):
    c = bars["close"]
    close_enough(ind.sma(c, n), ref_sma(c, n))
    close_enough(feed(ind.SMA(n), c), ref_sma(c, n))
    close_enough(ind.ema(c, n), ref_ema(c, n))
    close_enough(feed(ind.EMA(n), c), ref_ema(c, n))
    close_enough(ind.wma(c, n), ref_wma(c, n))
    close_enough(feed(ind.WMA(n), c), ref_wma(c, n))


@pytest.mark.parametrize("n", [2, 14])
def test_rsi_wilder(bars, n):
    c = bars["close"]
    ref = ref_rsi(c, n)
    close_enough(ind.rsi(c, n), ref)
    close_enough(feed(ind.RSI(n), c), ref)
    v = ind.rsi(c, n)
    assert np.nanmin(v) >= 0 and np.nanmax(v) <= 100


def test_macd(bars):
    c = bars["close"]
    line = [a - b for a, b in zip(ref_ema(c, 12), ref_ema(c, 26), strict=False)]
    sig = ref_ema(line, 9)
    res = ind.macd(c)
    close_enough(res.macd, line)
    close_enough(res.signal, sig)
    inc = feed(ind.MACD(), c)
    close_enough(inc[0], line)
    close_enough(inc[1], sig)
    close_enough(inc[2], res.hist)


def test_bollinger_keltner_donchian(bars):
    h, lw, c = bars["high"], bars["low"], bars["close"]
    mid, sd = ref_sma(c, 20), ref_std(c, 20)
    up = [m + 2 * s for m, s in zip(mid, sd, strict=False)]
    b = ind.bollinger(c, 20, 2.0)
    close_enough(b.mid, mid)
    close_enough(b.upper, up)
    close_enough(feed(ind.Bollinger(20, 2.0), c)[0], up)
    kel_mid, a = ref_ema(c, 20), ref_wilder(ref_tr(h, lw, c), 10)
    kel_up = [m + 2 * x for m, x in zip(kel_mid, a, strict=False)]
    close_enough(ind.keltner(h, lw, c).upper, kel_up)
    close_enough(feed(ind.Keltner(), h, lw, c)[0], kel_up)
    dup = [math.nan] * 19 + [max(h[i - 19 : i + 1]) for i in range(19, len(h))]
    ddn = [math.nan] * 19 + [min(lw[i - 19 : i + 1]) for i in range(19, len(lw))]
    close_enough(ind.donchian(h, lw, 20).upper, dup)
    close_enough(ind.donchian(h, lw, 20).lower, ddn)
    inc = feed(ind.Donchian(20), h, lw)
    close_enough(inc[0], dup)
    close_enough(inc[2], ddn)


@pytest.mark.parametrize("n", [5, 14])
def test_atr_adx(bars, n):
    h, lw, c = bars["high"], bars["low"], bars["close"]
    ref_atr = ref_wilder(ref_tr(h, lw, c), n)
    close_enough(ind.atr(h, lw, c, n), ref_atr)
    close_enough(feed(ind.ATR(n), h, lw, c), ref_atr)
    ra, rp, rm = ref_adx(h, lw, c, n)
    res = ind.adx(h, lw, c, n)
    close_enough(res.adx, ra)
    close_enough(res.plus_di, rp)
    close_enough(res.minus_di, rm)
    inc = feed(ind.ADX(n), h, lw, c)
    close_enough(inc[0], ra)
    close_enough(inc[1], rp)
    assert np.isnan(res.adx[2 * n - 2]) and not np.isnan(res.adx[2 * n - 1])


def test_stochastic_obv_vwap(bars):
    h, lw, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
    rk, rd = ref_stoch(h, lw, c, 14, 3)
    s = ind.stochastic(h, lw, c, 14, 3)
    close_enough(s.k, rk)
    close_enough(s.d, rd)
    inc = feed(ind.Stochastic(14, 3), h, lw, c)
    close_enough(inc[0], rk)
    close_enough(inc[1], rd)
    close_enough(ind.obv(c, v), ref_obv(c, v))
    close_enough(feed(ind.OBV(), c, v), ref_obv(c, v))
    close_enough(ind.vwap(h, lw, c, v), ref_vwap(h, lw, c, v), rtol=1e-8)
    close_enough(feed(ind.VWAP(), h, lw, c, v), ref_vwap(h, lw, c, v), rtol=1e-8)
    roll = ind.vwap(h, lw, c, v, 24)
    close_enough(feed(ind.VWAP(24), h, lw, c, v), roll, rtol=1e-8)


def test_crosses():
    a = np.array([1, 2, 3, 2, 1, 2.0])
    b = np.array([2, 2, 2, 2, 2, 2.0])
    assert ind.crossed_above(a, b).tolist() == [False, False, True, False, False, False]
    assert ind.crossed_below(a, b).tolist() == [False, False, False, False, True, False]


def test_bad_period_is_a_clear_error():
    with pytest.raises(ValidationError, match="positive integer"):
        ind.sma([1.0, 2.0], 0)
    with pytest.raises(ValidationError):
        ind.EMA(-3)


def test_too_short_input_is_all_nan():
    assert np.isnan(ind.sma([1.0, 2.0], 5)).all()
    assert np.isnan(ind.ema([1.0, 2.0], 5)).all()
    assert np.isnan(ind.rsi([1.0, 2.0], 5)).all()


def test_long_ema_blocked_recurrence_stays_exact():
    x = np.random.default_rng(3).normal(0, 1, 5000).cumsum() + 100
    close_enough(ind.ema(x, 200), ref_ema(x.tolist(), 200), rtol=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1, 1e6, allow_nan=False), min_size=1, max_size=120), st.integers(1, 30))
def test_property_vectorised_equals_incremental(xs, n):
    close_enough(ind.sma(xs, n), feed(ind.SMA(n), xs), rtol=1e-9, atol=1e-6)
    close_enough(ind.ema(xs, n), feed(ind.EMA(n), xs), rtol=1e-9, atol=1e-6)
    close_enough(ind.rsi(xs, n), feed(ind.RSI(n), xs), rtol=1e-7, atol=1e-6)
    close_enough(ind.wma(xs, n), feed(ind.WMA(n), xs), rtol=1e-9, atol=1e-6)
