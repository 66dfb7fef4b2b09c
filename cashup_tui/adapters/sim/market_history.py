"""The history a synthetic market starts with: candles of every interval ending at the start price, and
funding settlements before the start. numpy draws the bars in one go (this runs once per symbol)."""

from __future__ import annotations

import math
import random
import zlib
from typing import TYPE_CHECKING

import numpy as np

from cashup_tui.adapters.sim.market_values import INTERVALS, MAX_BARS

if TYPE_CHECKING:
    from cashup_tui.adapters.sim.symbol_market import SymbolMarket


def backfill(m: SymbolMarket, start_ms: int, count: int, history: dict[str, list[tuple]]) -> None:
    """Fill `m.bars`, `m.cur` and `m.funding_history` before `start_ms` (1m gets 1500 bars: 24h stats need
    1440); intervals present in `history` (replay) take those bars instead of synthetic ones."""
    start_s = start_ms // 1000
    for iv, secs in INTERVALS.items():
        if iv in history:
            m.bars[iv].extend(history[iv][-MAX_BARS:])
        else:
            n = max(count, 1500) if iv == "1m" else count
            n = min(n, MAX_BARS)
            rng = np.random.default_rng([m.seed, zlib.crc32(m.symbol.encode()), secs])
            sig = m.step_sigma * math.sqrt(secs * 1000 / m.tick_ms)
            rets = rng.normal(0.0, sig, n)
            # closes walk backwards from the start mid
            log_c = math.log(m.mid) - np.concatenate(([0.0], np.cumsum(rets[::-1][:-1])))[::-1]
            closes = np.exp(log_c)
            opens = np.concatenate(([closes[0] * math.exp(-rets[0])], closes[:-1]))
            hi = np.maximum(opens, closes) * np.exp(np.abs(rng.normal(0, sig * 0.6, n)))
            lo = np.minimum(opens, closes) * np.exp(-np.abs(rng.normal(0, sig * 0.6, n)))
            vol = np.maximum(1, rng.lognormal(math.log(m.unit * 0.7 * secs), 0.6, n)).astype(np.int64)
            t0 = (start_s // secs - n) * secs
            o_t, h_t, l_t, c_t = (np.rint(a).astype(np.int64) for a in (opens, hi, lo, closes))
            h_t = np.maximum(h_t, np.maximum(o_t, c_t))
            l_t = np.minimum(l_t, np.minimum(o_t, c_t))
            px = m.fmt.to_float
            for i in range(n):
                v = int(vol[i])
                quote = v * m.qm * px(int(c_t[i]))
                m.bars[iv].append((t0 + i * secs, int(o_t[i]), int(h_t[i]), int(l_t[i]), int(c_t[i]), v, quote))
        last_close = m.bars[iv][-1][4] if m.bars[iv] else round(m.mid)
        bucket = start_s - start_s % secs
        if m.bars[iv] and m.bars[iv][-1][0] >= bucket:  # history reaching into the live bucket
            b = m.bars[iv].pop()
            m.cur[iv] = list(b)
        else:
            m.cur[iv] = [bucket, last_close, last_close, last_close, last_close, 0, 0.0]
    # funding history: 8h (or the contract's interval) settlements before the start
    frng = random.Random(f"cashup-funding:{m.seed}:{m.symbol}")
    t = m.next_funding_s - m.funding_interval_s
    rate = m.funding_rate
    rows = []
    for _ in range(100):
        rows.append((t, f"{rate:.6f}"))
        rate = max(-0.003, min(0.003, 0.8 * rate + 0.2 * 0.0001 + frng.gauss(0, 0.00008)))
        t -= m.funding_interval_s
    m.funding_history.extend(reversed(rows))
