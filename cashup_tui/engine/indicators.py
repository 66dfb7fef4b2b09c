"""Technical indicators, each in two forms that give the same numbers:

* vectorised functions (`sma(close, 20)`) over whole numpy arrays, for the fast backtest and
  for a strategy's `signals()`;
* incremental classes (`SMA(20).update(x)`) fed one closed bar at a time, for the event engine,
  paper and live trading, where recomputing the whole history per bar would be wasteful.

Conventions (shared by both forms, checked by tests against independent reference code):

* Output has the input's length; values are NaN until the indicator has enough bars.
* EMA seeds with the SMA of its first `n` values, then y = a*x + (1-a)*y_prev, a = 2/(n+1).
* Wilder smoothing (RSI, ATR, ADX) is the same recursion with a = 1/n, seeded with a plain mean.
* Standard deviations are population (ddof=0), as in Bollinger's definition.
* Inputs must be finite (the data loader removes or refuses NaN rows before strategies run).

Numpy only (no pandas) so that `cashup backtest run` stays quick to start.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from typing import NamedTuple

import numpy as np

from cashup_tui.domain.errors import ValidationError

__all__ = [
    "ADX", "ATR", "EMA", "MACD", "OBV", "RSI", "SMA", "VWAP", "WMA", "Bollinger", "Donchian", "Keltner",
    "Stochastic", "adx", "atr", "bollinger", "crossed_above", "crossed_below", "donchian", "ema",
    "keltner", "macd", "obv", "rsi", "sma", "stochastic", "true_range", "vwap", "wma",
]

NAN = float("nan")
_CHUNK = 256  # block size of the blocked linear recurrence (see `_recurrence`)


def _period(n: int, name: str = "period") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValidationError(f"indicator {name} must be a positive integer, got {n!r}")
    return int(n)


def _arr(x: object) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


# -- building blocks -------------------------------------------------------------------------------
def _recurrence(x: np.ndarray, alpha: float, seed: float) -> np.ndarray:
    """y[0] = (1-a)*seed + a*x[0]; y[t] = (1-a)*y[t-1] + a*x[t], computed in blocks.

    A Python loop per value is slow on long series; blocks of `_CHUNK` values are solved with one
    matrix product (zero carry) plus a short loop that carries the state between blocks.
    """
    n = x.size
    if n == 0:
        return np.empty(0)
    b = min(_CHUNK, n)
    m = -(-n // b)
    pad = np.zeros(m * b)
    pad[:n] = x
    wt, decay = _weights(alpha, b)
    part = pad.reshape(m, b) @ wt  # each block started from a zero state
    carry = np.empty(m)
    c = seed
    last = part[:, -1]
    db = decay[-1]
    for i in range(m):
        carry[i] = c
        c = db * c + last[i]
    out: np.ndarray = (part + carry[:, None] * decay[None, :]).reshape(-1)[:n]
    return out


@functools.lru_cache(maxsize=64)
def _weights(alpha: float, b: int) -> tuple[np.ndarray, np.ndarray]:
    """(W transposed, decay) for blocks of b: W[k, j] = a (1-a)^(k-j) for j <= k; decay[k] = (1-a)^(k+1).
    Cached: live/event use calls this once per bar with the same alpha."""
    d = 1.0 - alpha
    k = np.arange(b)
    expo = k[:, None] - k[None, :]
    w = np.where(expo >= 0, alpha * d ** np.maximum(expo, 0), 0.0)
    wt = np.ascontiguousarray(w.T)
    decay = d ** (k + 1)
    wt.flags.writeable = False
    decay.flags.writeable = False
    return wt, decay


def _smooth(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Exponential smoothing seeded with the mean of the first `n` finite values (leading NaNs skipped)."""
    out = np.full(x.size, np.nan)
    finite = np.flatnonzero(~np.isnan(x))
    if finite.size == 0 or x.size - int(finite[0]) < n:
        return out
    start = int(finite[0])
    seed_at = start + n - 1
    seed = float(np.mean(x[start : seed_at + 1]))
    out[seed_at] = seed
    if seed_at + 1 < x.size:
        # y - seed from 0 on x - seed: block sums of deviations, not of the price level (no drift)
        out[seed_at + 1 :] = seed + _recurrence(x[seed_at + 1 :] - seed, alpha, 0.0)
    return out


def _rolling(x: np.ndarray, n: int, fn: str) -> np.ndarray:
    out = np.full(x.size, np.nan)
    if x.size >= n:
        win = np.lib.stride_tricks.sliding_window_view(x, n)
        out[n - 1 :] = getattr(win, fn)(axis=1)
    return out


def crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a[t] > b[t] and a[t-1] <= b[t-1] (False where either side is NaN)."""
    a, b = _arr(a), _arr(b)
    out = np.zeros(a.size, dtype=bool)
    if a.size > 1:
        with np.errstate(invalid="ignore"):
            out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def crossed_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a[t] < b[t] and a[t-1] >= b[t-1] (False where either side is NaN)."""
    a, b = _arr(a), _arr(b)
    out = np.zeros(a.size, dtype=bool)
    if a.size > 1:
        with np.errstate(invalid="ignore"):
            out[1:] = (a[1:] < b[1:]) & (a[:-1] >= b[:-1])
    return out


# -- vectorised indicators -------------------------------------------------------------------------
def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average (direct convolution: exact sums, no cumulative-sum drift)."""
    n = _period(n)
    x = _arr(x)
    out = np.full(x.size, np.nan)
    if x.size >= n:
        out[n - 1 :] = np.convolve(x, np.full(n, 1.0 / n), "valid")
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average, a = 2/(n+1), seeded with the SMA of the first n values."""
    n = _period(n)
    return _smooth(_arr(x), n, 2.0 / (n + 1))


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing (a = 1/n), seeded with the mean of the first n values."""
    n = _period(n)
    return _smooth(_arr(x), n, 1.0 / n)


def wma(x: np.ndarray, n: int) -> np.ndarray:
    """Linearly weighted moving average: weights 1..n, newest bar heaviest."""
    n = _period(n)
    x = _arr(x)
    out = np.full(x.size, np.nan)
    if x.size >= n:
        w = np.arange(1, n + 1, dtype=np.float64)
        out[n - 1 :] = np.convolve(x, w[::-1] / w.sum(), "valid")
    return out


def rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    """Wilder's RSI. 100 when there are no losses, 50 when the price did not move at all."""
    n = _period(n)
    c = _arr(close)
    out = np.full(c.size, np.nan)
    if c.size <= n:
        return out
    diff = np.diff(c)
    g = wilder(np.maximum(diff, 0.0), n)
    lo = wilder(np.maximum(-diff, 0.0), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(lo == 0, np.where(g == 0, 50.0, 100.0), 100.0 - 100.0 / (1.0 + g / lo))
    r[np.isnan(g)] = np.nan
    out[1:] = r
    return out


class MacdResult(NamedTuple):
    macd: np.ndarray
    signal: np.ndarray
    hist: np.ndarray


def macd(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdResult:
    """MACD line = EMA(fast) - EMA(slow); signal = EMA(signal) of the MACD line; hist = the difference."""
    c = _arr(close)
    line = ema(c, fast) - ema(c, slow)
    sig = ema(line, signal)
    return MacdResult(line, sig, line - sig)


class Bands(NamedTuple):
    upper: np.ndarray
    mid: np.ndarray
    lower: np.ndarray


def bollinger(close: np.ndarray, n: int = 20, k: float = 2.0) -> Bands:
    """SMA(n) +/- k population standard deviations over the same window."""
    n = _period(n)
    c = _arr(close)
    mid = sma(c, n)
    sd = _rolling(c, n, "std")
    return Bands(mid + k * sd, mid, mid - k * sd)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(h-l, |h-prev close|, |l-prev close|); the first bar is just h-l."""
    h, lo, c = _arr(high), _arr(low), _arr(close)
    tr: np.ndarray = h - lo
    if c.size > 1:
        pc = c[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(h[1:] - pc), np.abs(lo[1:] - pc)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average true range: Wilder smoothing of the true range, first value at index n-1."""
    return wilder(true_range(high, low, close), n)


class AdxResult(NamedTuple):
    adx: np.ndarray
    plus_di: np.ndarray
    minus_di: np.ndarray


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> AdxResult:
    """Wilder's ADX/DMI. DI from index n, ADX from index 2n-1 (TR, +DM, -DM start at bar 1)."""
    n = _period(n)
    h, lo, c = _arr(high), _arr(low), _arr(close)
    size = c.size
    adx_out, pdi, mdi = np.full(size, np.nan), np.full(size, np.nan), np.full(size, np.nan)
    if size < 2:
        return AdxResult(adx_out, pdi, mdi)
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    pdm = np.where((up > down) & (up > 0), up, 0.0)
    mdm = np.where((down > up) & (down > 0), down, 0.0)
    tr = true_range(h, lo, c)[1:]
    str_, sp, sm = wilder(tr, n), wilder(pdm, n), wilder(mdm, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(str_ > 0, 100.0 * sp / str_, 0.0)
        m = np.where(str_ > 0, 100.0 * sm / str_, 0.0)
        tot = p + m
        dx = np.where(tot > 0, 100.0 * np.abs(p - m) / tot, 0.0)
    bad = np.isnan(str_)
    p[bad], m[bad], dx[bad] = np.nan, np.nan, np.nan
    pdi[1:], mdi[1:] = p, m
    adx_out[1:] = wilder(dx, n)
    return AdxResult(adx_out, pdi, mdi)


class StochResult(NamedTuple):
    k: np.ndarray
    d: np.ndarray


def stochastic(high: np.ndarray, low: np.ndarray, close: np.ndarray, k: int = 14, d: int = 3) -> StochResult:
    """%K = 100 (close - lowest low) / (highest high - lowest low) over k bars (50 on a flat range); %D = SMA(d) of %K."""
    k, d = _period(k, "k"), _period(d, "d")
    h, lo, c = _arr(high), _arr(low), _arr(close)
    hh, ll = _rolling(h, k, "max"), _rolling(lo, k, "min")
    rng = hh - ll
    with np.errstate(divide="ignore", invalid="ignore"):
        kk = np.where(rng > 0, 100.0 * (c - ll) / rng, 50.0)
    kk[np.isnan(hh)] = np.nan
    dd = np.full(c.size, np.nan)
    if c.size >= k + d - 1:
        dd[k + d - 2 :] = sma(kk[k - 1 :], d)[d - 1 :]
    return StochResult(kk, dd)


def obv(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """On-balance volume, starting at 0 on the first bar."""
    c, v = _arr(close), _arr(volume)
    out = np.zeros(c.size)
    if c.size > 1:
        step = np.sign(np.diff(c)) * v[1:]
        out[1:] = np.cumsum(step)
    return out


def vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int | None = None) -> np.ndarray:
    """Volume-weighted typical price (h+l+c)/3: cumulative, or rolling over n bars. NaN while volume is 0."""
    tp = (_arr(high) + _arr(low) + _arr(close)) / 3.0
    v = _arr(volume)
    if n is None:
        num, den = np.cumsum(tp * v), np.cumsum(v)
    else:
        n = _period(n)
        num, den = _rolling(tp * v, n, "sum"), _rolling(v, n, "sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def donchian(high: np.ndarray, low: np.ndarray, n: int = 20) -> Bands:
    """Highest high and lowest low of the last n bars (this bar included) and their midpoint."""
    n = _period(n)
    up, dn = _rolling(_arr(high), n, "max"), _rolling(_arr(low), n, "min")
    return Bands(up, (up + dn) / 2.0, dn)


def keltner(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 20, k: float = 2.0, atr_n: int = 10) -> Bands:
    """EMA(n) of close +/- k ATR(atr_n)."""
    mid = ema(close, n)
    a = atr(high, low, close, atr_n)
    return Bands(mid + k * a, mid, mid - k * a)


# -- incremental indicators: `update(...)` takes one closed bar's values and returns the latest value
class SMA:
    """Incremental SMA: sums the window each update (n is small), so no drift over long runs."""

    __slots__ = ("_w", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _period(n)
        self._w: deque[float] = deque(maxlen=self.n)
        self.value = NAN

    def update(self, x: float) -> float:
        self._w.append(float(x))
        if len(self._w) == self.n:
            self.value = math.fsum(self._w) / self.n
        return self.value


class _Smoother:
    """EMA-style recursion seeded with the mean of the first n values."""

    __slots__ = ("_alpha", "_count", "_seed", "n", "value")

    def __init__(self, n: int, alpha: float) -> None:
        self.n = _period(n)
        self._alpha = alpha
        self._count = 0
        self._seed: list[float] = []
        self.value = NAN

    def update(self, x: float) -> float:
        if math.isnan(x):
            return self.value
        if self._count < self.n:
            self._count += 1
            self._seed.append(float(x))
            if self._count == self.n:
                self.value = float(np.mean(self._seed))
            return self.value
        self.value = self.value + self._alpha * (x - self.value)
        return self.value

    @property
    def ready(self) -> bool:
        return self._count >= self.n


class EMA(_Smoother):
    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, 2.0 / (_period(n) + 1))


class Wilder(_Smoother):
    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, 1.0 / _period(n))


class WMA:
    __slots__ = ("_den", "_w", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _period(n)
        self._w: deque[float] = deque(maxlen=self.n)
        self._den = self.n * (self.n + 1) / 2.0
        self.value = NAN

    def update(self, x: float) -> float:
        self._w.append(float(x))
        if len(self._w) == self.n:
            self.value = math.fsum((i + 1) * v for i, v in enumerate(self._w)) / self._den
        return self.value


class RSI:
    __slots__ = ("_gain", "_loss", "_prev", "value")

    def __init__(self, n: int = 14) -> None:
        self._gain, self._loss = Wilder(n), Wilder(n)
        self._prev = NAN
        self.value = NAN

    def update(self, close: float) -> float:
        prev, self._prev = self._prev, float(close)
        if math.isnan(prev):
            return self.value
        d = close - prev
        g = self._gain.update(max(d, 0.0))
        lo = self._loss.update(max(-d, 0.0))
        if math.isnan(g):
            return self.value
        self.value = (50.0 if g == 0 else 100.0) if lo == 0 else 100.0 - 100.0 / (1.0 + g / lo)
        return self.value


class MACD:
    __slots__ = ("_fast", "_signal", "_slow", "hist", "signal", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self._fast, self._slow, self._signal = EMA(fast), EMA(slow), EMA(signal)
        self.value = self.signal = self.hist = NAN

    def update(self, close: float) -> tuple[float, float, float]:
        line = self._fast.update(close) - self._slow.update(close)
        self.value = line
        if not math.isnan(line):
            self.signal = self._signal.update(line)
            self.hist = line - self.signal
        return self.value, self.signal, self.hist


class Bollinger:
    __slots__ = ("_w", "k", "lower", "mid", "n", "upper")

    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.n, self.k = _period(n), float(k)
        self._w: deque[float] = deque(maxlen=self.n)
        self.upper = self.mid = self.lower = NAN

    def update(self, close: float) -> tuple[float, float, float]:
        self._w.append(float(close))
        if len(self._w) == self.n:
            a = np.fromiter(self._w, dtype=np.float64, count=self.n)
            self.mid = float(np.convolve(a, np.full(self.n, 1.0 / self.n), "valid")[0])
            sd = float(a.std())
            self.upper, self.lower = self.mid + self.k * sd, self.mid - self.k * sd
        return self.upper, self.mid, self.lower


class _TrueRange:
    __slots__ = ("_prev_close",)

    def __init__(self) -> None:
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        pc, self._prev_close = self._prev_close, float(close)
        tr = high - low
        if not math.isnan(pc):
            tr = max(tr, abs(high - pc), abs(low - pc))
        return tr


class ATR:
    __slots__ = ("_s", "_tr", "value")

    def __init__(self, n: int = 14) -> None:
        self._tr, self._s = _TrueRange(), Wilder(n)
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        self.value = self._s.update(self._tr.update(high, low, close))
        return self.value


class ADX:
    __slots__ = ("_adx", "_m", "_p", "_prev", "_tr", "minus_di", "plus_di", "value")

    def __init__(self, n: int = 14) -> None:
        self._tr, self._p, self._m, self._adx = Wilder(n), Wilder(n), Wilder(n), Wilder(n)
        self._prev: tuple[float, float, float] | None = None
        self.value = self.plus_di = self.minus_di = NAN

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        prev, self._prev = self._prev, (float(high), float(low), float(close))
        if prev is None:
            return self.value, self.plus_di, self.minus_di
        ph, pl, pc = prev
        up, down = high - ph, pl - low
        pdm = up if (up > down and up > 0) else 0.0
        mdm = down if (down > up and down > 0) else 0.0
        tr = max(high - low, abs(high - pc), abs(low - pc))
        s, sp, sm = self._tr.update(tr), self._p.update(pdm), self._m.update(mdm)
        if math.isnan(s):
            return self.value, self.plus_di, self.minus_di
        p = 100.0 * sp / s if s > 0 else 0.0
        m = 100.0 * sm / s if s > 0 else 0.0
        dx = 100.0 * abs(p - m) / (p + m) if (p + m) > 0 else 0.0
        self.plus_di, self.minus_di = p, m
        self.value = self._adx.update(dx)
        return self.value, self.plus_di, self.minus_di


class Stochastic:
    __slots__ = ("_d", "_h", "_l", "d", "k")

    def __init__(self, k: int = 14, d: int = 3) -> None:
        kk = _period(k, "k")
        self._h: deque[float] = deque(maxlen=kk)
        self._l: deque[float] = deque(maxlen=kk)
        self._d = SMA(d)
        self.k = self.d = NAN

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        self._h.append(float(high))
        self._l.append(float(low))
        if len(self._h) == self._h.maxlen:
            hh, ll = max(self._h), min(self._l)
            self.k = 100.0 * (close - ll) / (hh - ll) if hh > ll else 50.0
            self.d = self._d.update(self.k)
        return self.k, self.d


class OBV:
    __slots__ = ("_prev", "value")

    def __init__(self) -> None:
        self._prev = NAN
        self.value = 0.0

    def update(self, close: float, volume: float) -> float:
        prev, self._prev = self._prev, float(close)
        if not math.isnan(prev):
            if close > prev:
                self.value += volume
            elif close < prev:
                self.value -= volume
        return self.value


class VWAP:
    """Cumulative (n=None) or rolling n-bar volume-weighted typical price."""

    __slots__ = ("_den", "_num", "_w", "n", "value")

    def __init__(self, n: int | None = None) -> None:
        self.n = None if n is None else _period(n)
        self._w: deque[tuple[float, float]] | None = None if n is None else deque(maxlen=self.n)
        self._num = self._den = 0.0
        self.value = NAN

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        tp = (high + low + close) / 3.0
        if self._w is None:
            self._num += tp * volume
            self._den += volume
            num, den = self._num, self._den
        else:
            self._w.append((tp * volume, float(volume)))
            if len(self._w) < self._w.maxlen:  # type: ignore[operator]
                return self.value
            num, den = math.fsum(a for a, _ in self._w), math.fsum(b for _, b in self._w)
        self.value = num / den if den > 0 else NAN
        return self.value


class Donchian:
    __slots__ = ("_h", "_l", "lower", "mid", "upper")

    def __init__(self, n: int = 20) -> None:
        nn = _period(n)
        self._h: deque[float] = deque(maxlen=nn)
        self._l: deque[float] = deque(maxlen=nn)
        self.upper = self.mid = self.lower = NAN

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        self._h.append(float(high))
        self._l.append(float(low))
        if len(self._h) == self._h.maxlen:
            self.upper, self.lower = max(self._h), min(self._l)
            self.mid = (self.upper + self.lower) / 2.0
        return self.upper, self.mid, self.lower


class Keltner:
    __slots__ = ("_atr", "_ema", "k", "lower", "mid", "upper")

    def __init__(self, n: int = 20, k: float = 2.0, atr_n: int = 10) -> None:
        self._ema, self._atr, self.k = EMA(n), ATR(atr_n), float(k)
        self.upper = self.mid = self.lower = NAN

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        self.mid = self._ema.update(close)
        a = self._atr.update(high, low, close)
        self.upper, self.lower = self.mid + self.k * a, self.mid - self.k * a
        return self.upper, self.mid, self.lower
