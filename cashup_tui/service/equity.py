"""Equity and PnL history for the workstation's charts.

The store keeps no equity series for live trading (only backtests have one), so the account's equity is
sampled here from the portfolio each time the status is read (at most one point per `EQUITY_EVERY_MS`, the
last `EQUITY_POINTS` kept in memory: a session's chart, not a record). A strategy's PnL history needs no
sampling: it is the running sum of its fills' realised PnL less fees, from the journal (the rows of
`cashup fills`), so it survives a restart."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

EQUITY_EVERY_MS = 5_000
EQUITY_POINTS = 2_000

Series = tuple[list[int], list[float]]


class EquitySampler:
    """(ts_ms, equity) points, one per `every_ms` at most; a point at an earlier time than the last is
    ignored (a clock that steps back must not fold the line)."""

    def __init__(self, every_ms: int = EQUITY_EVERY_MS, capacity: int = EQUITY_POINTS) -> None:
        self.every_ms = every_ms
        self._points: deque[tuple[int, float]] = deque(maxlen=capacity)

    def sample(self, ts_ms: int, equity: Decimal | float) -> None:
        if self._points and ts_ms < self._points[-1][0] + self.every_ms:
            return
        self._points.append((ts_ms, float(equity)))

    def series(self) -> Series:
        return [t for t, _ in self._points], [v for _, v in self._points]


def pnl_series(fills: Sequence[Mapping[str, Any]], strategy: str | None = None) -> Series:
    """Cumulative net PnL (realised less fees, USDT) after each fill, oldest first; of one strategy's
    fills when `strategy` is given, else of all: the one-shot definition that the workstation's curves
    (`fill_history.PnlCurve`, kept while it replays) are held to."""
    times: list[int] = []
    values: list[float] = []
    acc = 0.0
    for r in sorted(fills, key=lambda r: r["ts_ms"]):
        if strategy is not None and (r.get("strategy") or "") != strategy:
            continue
        acc += float(r["realised_pnl"] or 0) - float(r["fee"] or 0)
        times.append(int(r["ts_ms"]))
        values.append(acc)
    return times, values


class EquityMixin:
    """The workstation's history series (EngineWorkstation mixes it in)."""

    def _equity_sampler(self) -> EquitySampler:
        sampler: EquitySampler | None = getattr(self, "_equity", None)
        if sampler is None:
            sampler = self._equity = EquitySampler()
        return sampler

    def sample_equity(self, ts_ms: int, equity: Decimal) -> None:
        self._equity_sampler().sample(ts_ms, equity)

    def equity_series(self) -> Series:
        """The account's equity (USDT) over this session."""
        return self._equity_sampler().series()

