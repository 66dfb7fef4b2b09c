"""The portfolio strategy API: one class that sees a panel (time x symbol) of bars and returns
target weights per symbol per bar.

    class XsecMomentum(PortfolioStrategy):
        '''Long the k best trailing returns.'''
        lookback = Param(24, min=1, help="bars")
        informative = ("4h",)                  # optional higher timeframes (see below)

        def warmup(self) -> int: return self.lookback + 1

        def weights(self, panel: Panel) -> np.ndarray:    # shape (time, symbols), vectorised
            ...

        def rebalance(self, panel: Panel) -> np.ndarray | None:   # optional: bool per bar
            ...

Weights. Row t is the target fraction of the account's equity per symbol, decided on data up to and
including bar t's close (+ long, - short, 0 flat); the engine trades it at bar t+1's open. NaN is
refused (there is no "keep" in a portfolio: say 0 or the weight you hold). By default the account is
rebalanced on the bars whose row differs from the row before; `rebalance()` may return a bool per bar
instead (e.g. every N bars, so drifted weights are reset even when the ranking did not change).
The execution model is in `cashup_tui.engine.backtest.panel_model`.

Higher timeframes. `informative = ("4h", "1d")` makes `panel.higher["4h"]` a panel on the base
time grid whose row t holds the last 4h bar that had CLOSED by bar t's close (NaN before the first
complete one): a 4h bar opening at 00:00 is visible from the close of the 03:00 1h bar on. Buckets
are epoch-aligned (weekly ones from Monday), and a bucket the data covers only partly is NaN.

The same class trades in paper, demo, testnet and live (`cashup trade --symbols`, the workstation):
`engine/portfolio_slot.py` builds this panel from live bars and trades the last row on rebalance bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from cashup_tui.domain.errors import DataError, StrategyError, ValidationError
from cashup_tui.domain.timeframes import bucket_anchor, timeframe_ms
from cashup_tui.engine.strategy import Bars, Strategy, guarded

__all__ = ["Panel", "PortfolioStrategy", "align_higher", "every", "hold", "panel_from_bars", "run_weights"]

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Panel:
    """Aligned bars of several symbols: float64 arrays of shape (time, symbols); `time_ms` is each
    bar's open time. `higher[tf]` holds the strategy's higher timeframes, aligned (see the module).
    `funding[t, j]`: the summed rate of symbol j's settlements charged at bar t's close (the engines
    charge it, strategies may read it; `panel_model.with_funding`)."""

    time_ms: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe: str = ""
    timeframe_ms: int = 0
    higher: dict[str, Panel] = field(default_factory=dict)
    funding: np.ndarray | None = None  # (time, symbol): funding rate charged at each bar's close; None: no data

    def __len__(self) -> int:
        return int(self.time_ms.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.time_ms.size), len(self.symbols))

    def head(self, n: int) -> Panel:
        """The first `n` bars (the higher timeframes cut the same way: they are on the base grid)."""
        cut = {c: getattr(self, c)[:n] for c in PRICE_COLUMNS}
        return replace(self, time_ms=self.time_ms[:n], higher={k: v.head(n) for k, v in self.higher.items()},
                       funding=None if self.funding is None else self.funding[:n], **cut)

    def bars(self, symbol: str) -> Bars:
        """One symbol's column as `Bars` (for the single-symbol indicator helpers)."""
        j = self.symbols.index(symbol)
        return Bars.from_arrays(self.time_ms, *(getattr(self, c)[:, j] for c in PRICE_COLUMNS), symbol=symbol,
                                timeframe=self.timeframe)

    def frame(self, column: str = "close") -> Any:
        """One column as a pandas DataFrame (index: open time ms, columns: symbols)."""
        import pandas as pd

        return pd.DataFrame(getattr(self, column), index=self.time_ms, columns=list(self.symbols))

    def digest(self) -> str:
        import hashlib

        h = hashlib.sha256(",".join(self.symbols).encode())
        for c in ("time_ms", *PRICE_COLUMNS):
            h.update(np.ascontiguousarray(getattr(self, c)).tobytes())
        if self.funding is not None:
            h.update(b"funding" + np.ascontiguousarray(self.funding).tobytes())
        return h.hexdigest()


def panel_from_bars(series: list[Bars], symbols: list[str] | None = None) -> Panel:
    """Stack one `Bars` per symbol into a panel; their time grids must be identical (a clear error
    names the symbol and the first bar where it differs from the first symbol)."""
    if not series:
        raise DataError("a portfolio needs at least one symbol's bars")
    names = list(symbols) if symbols is not None else [b.symbol for b in series]
    if len(set(names)) != len(names) or any(not s for s in names):
        raise ValidationError(f"symbols must be named and distinct, got {names}",
                              hint="use --data SYMBOL=FILE for each file, e.g. --data BTC_USDT=btc.csv")
    ref = series[0]
    for name, b in zip(names[1:], series[1:], strict=True):
        if len(b) == len(ref) and np.array_equal(b.time_ms, ref.time_ms):
            continue
        m = min(len(b), len(ref))
        diff = np.flatnonzero(b.time_ms[:m] != ref.time_ms[:m])
        i = int(diff[0]) if diff.size else m
        from cashup_tui.engine.backtest.data import _fmt as fmt_ms

        at = (f"bar {i}: {names[0]} has {fmt_ms(int(ref.time_ms[i]))}, {name} has {fmt_ms(int(b.time_ms[i]))}"
              if diff.size else f"{names[0]} has {len(ref)} bars, {name} has {len(b)}")
        raise DataError(f"{name}'s time grid differs from {names[0]}'s ({at})",
                        hint="give every symbol the same bars (same timeframe, start and end; --from/--to cut all)")
    tf = ref.timeframe
    step = int(np.min(np.diff(ref.time_ms))) if len(ref) > 1 else (timeframe_ms(tf) if tf else 0)
    cols = {c: np.column_stack([getattr(b, c) for b in series]) for c in PRICE_COLUMNS}
    return Panel(ref.time_ms, tuple(names), cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                 timeframe=tf, timeframe_ms=step)


def align_higher(panel: Panel, timeframe: str) -> Panel:
    """Resample `panel` to `timeframe` and map it back onto the base grid without look-ahead."""
    base, big = panel.timeframe_ms, timeframe_ms(timeframe)
    if base <= 0 or big <= base or big % base:
        raise ValidationError(f"informative timeframe {timeframe} must be a whole multiple of the bars' "
                              f"{panel.timeframe or str(base) + ' ms'} and longer")
    t = panel.time_ms
    anchor = bucket_anchor(big)
    key = (t - anchor) // big
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], t.size]
    complete = (ends - starts) == big // base
    agg = {
        "open": panel.open[starts], "close": panel.close[ends - 1],
        "high": np.maximum.reduceat(panel.high, starts, axis=0),
        "low": np.minimum.reduceat(panel.low, starts, axis=0),
        "volume": np.add.reduceat(panel.volume, starts, axis=0),
    }
    # the bucket that closed last by bar t's close: key of (close time) - 1
    closed = (t + base - anchor) // big - 1
    pos = np.searchsorted(key[starts], closed, side="left")
    ok = pos < starts.size
    ok[ok] &= key[starts][pos[ok]] == closed[ok]
    ok[ok] &= complete[pos[ok]]
    idx = np.where(ok, pos, 0)
    cols = {}
    for c in PRICE_COLUMNS:
        out = agg[c][idx].astype(np.float64)
        out[~ok] = np.nan
        cols[c] = out
    return Panel(t, panel.symbols, cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                 timeframe=timeframe, timeframe_ms=big)


def every(n: int, start: int, step: int) -> np.ndarray:
    """Bool per bar: True on bars start, start + step, ... (the rebalance bars of a periodic strategy)."""
    mask = np.zeros(n, dtype=bool)
    if start < n:
        mask[start::step] = True
    return mask


def hold(rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each bar gets the row of the last True bar of `mask` at or before it (zeros before the first)."""
    idx = np.where(mask, np.arange(mask.size), -1)
    np.maximum.accumulate(idx, out=idx)
    out: np.ndarray = np.where((idx >= 0)[:, None], rows[np.maximum(idx, 0)], 0.0)
    return out


class PortfolioStrategy(Strategy):
    """Base class of strategies that trade a panel of symbols with target weights (see the module)."""

    portfolio: ClassVar[bool] = True
    vectorised: ClassVar[bool] = False  # no single-symbol `signals()`; the panel engines run `weights()`
    informative: ClassVar[tuple[str, ...]] = ()

    def weights(self, panel: Panel) -> np.ndarray:
        raise StrategyError(f"{self.label()} defines no weights()")

    def rebalance(self, panel: Panel) -> np.ndarray | None:
        """Bars (bool per bar) whose weights are traded; None = the bars whose row changed."""
        return None

    def signals(self, bars: Bars) -> np.ndarray:
        raise StrategyError(f"{self.label()} is a portfolio strategy: it needs several symbols",
                            hint="e.g. cashup backtest run NAME --data BTC_USDT=btc.csv --data ETH_USDT=eth.csv")

    def prepare(self, panel: Panel) -> Panel:
        """The panel with this strategy's `informative` timeframes attached."""
        if not self.informative:
            return panel
        higher = {tf: align_higher(panel, tf) for tf in self.informative}
        return replace(panel, higher=higher)


def run_weights(strategy: PortfolioStrategy, panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """`weights()` and the rebalance mask under a guard: exceptions become a StrategyError naming
    file:line; a wrong shape is refused. The values are checked by the engine (`check_weights`)."""
    hint = "fix the strategy file; nothing was traded"
    w = guarded(strategy, strategy.weights, panel, hint=hint)
    mask = guarded(strategy, strategy.rebalance, panel, hint=hint)
    arr = np.asarray(w, dtype=np.float64) if w is not None else None
    if arr is None or arr.shape != panel.shape:
        got = "None" if arr is None else str(arr.shape)
        raise StrategyError(f"strategy {strategy.label()}: weights() must return shape (bars, symbols) = "
                            f"{panel.shape}, got {got}", hint="one row per bar, one column per symbol")
    if mask is None:
        prev = np.vstack([np.zeros((1, arr.shape[1])), arr[:-1]])
        m = np.any(arr != prev, axis=1)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(panel),):
            raise StrategyError(f"strategy {strategy.label()}: rebalance() must return one bool per bar "
                                f"({len(panel)}), got shape {m.shape}")
    return arr, m
