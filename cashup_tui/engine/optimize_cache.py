"""Indicator series shared across the trials of a sweep: each (indicator, inputs, params) once per worker.

A sweep runs the same strategy code hundreds of times on the same bars; most of a trial's time
is its indicators, and most of those repeat (every `slow` SMA of a fast x slow grid is the same
series for every `fast`). Strategies compiled for a sweep (`optimize.strategy_from_source`) have
their imported indicator functions (`from cashup_tui.engine.indicators import sma`) rebound to
wrappers that look the result up here first. Strategy files need no change and declare nothing.

Only calls whose array arguments are columns of the sweep's registered bars are cached (identity
of the array objects, kept alive by the registration), so a key can never point at another
array; other calls go straight through. Callers get a copy of the cached result, so a strategy
that edits its indicator in place cannot corrupt the next trial. The cache is bounded in bytes
(least recently used first out).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any

import numpy as np

from cashup_tui.engine import indicators as _ind
from cashup_tui.engine.strategy import Bars

MAX_BYTES = 1 << 30  # per process

# the vectorised indicator functions worth sharing (crosses take derived series: nothing to share)
CACHEABLE: frozenset[Callable[..., Any]] = frozenset(
    getattr(_ind, n) for n in _ind.__all__
    if n[0].islower() and n not in ("crossed_above", "crossed_below") and callable(getattr(_ind, n))
)


class IndicatorCache:
    """Results of indicator calls on the registered bars' columns, LRU-bounded to `max_bytes`."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._bars: list[Bars] = []  # keeps the registered columns alive, so their ids stay theirs
        self._columns: dict[int, int] = {}  # id(column array) -> column number (for the key)
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # Dask runs trials in threads
        self.hits = self.misses = 0

    def register(self, bars: Bars) -> None:
        with self._lock:
            self._bars.append(bars)
            for c in Bars.COLUMNS:
                self._columns.setdefault(id(getattr(bars, c)), len(self._columns))

    def clear(self) -> None:
        with self._lock:
            self._bars.clear()
            self._columns.clear()
            self._entries.clear()
            self._bytes = 0

    def _key(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable | None:
        parts: list[Any] = [fn.__module__, fn.__qualname__]
        for name, v in [*((None, a) for a in args), *sorted(kwargs.items())]:
            if isinstance(v, np.ndarray):
                col = self._columns.get(id(v))
                if col is None:
                    return None  # a derived series: not ours to key
                parts.append((name, "col", col))
            elif isinstance(v, (int, float, str, bool, type(None), np.integer, np.floating)):
                parts.append((name, type(v).__name__, v.item() if isinstance(v, np.generic) else v))
            else:
                return None
        return tuple(parts)

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key = self._key(fn, args, kwargs) if self._columns else None
        if key is None:
            return fn(*args, **kwargs)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if hit is None:
            hit = fn(*args, **kwargs)
            size = _nbytes(hit)
            with self._lock:
                self.misses += 1
                if size <= self.max_bytes:
                    self._entries[key] = hit
                    self._bytes += size
                    while self._bytes > self.max_bytes:
                        _, old = self._entries.popitem(last=False)
                        self._bytes -= _nbytes(old)
        return _copy(hit)


def _nbytes(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, tuple):
        return sum(_nbytes(v) for v in x)
    return 64


def _copy(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # NamedTuple results (macd, bollinger, ...)
        return type(x)(*(_copy(v) for v in x))
    if isinstance(x, tuple):
        return tuple(_copy(v) for v in x)
    return x


CACHE = IndicatorCache()  # one per process: a worker serves one sweep


def _wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def cached(*args: Any, **kwargs: Any) -> Any:
        return CACHE.call(fn, args, kwargs)

    cached.__cashup_cached__ = fn  # type: ignore[attr-defined]
    return cached


_WRAPPED: dict[Callable[..., Any], Callable[..., Any]] = {fn: _wrap(fn) for fn in CACHEABLE}


def share_indicators(module: ModuleType) -> int:
    """Rebind the indicator functions a strategy module imported by name to the cached ones; how many."""
    n = 0
    for k, v in list(vars(module).items()):
        try:
            w = _WRAPPED.get(v)
        except TypeError:  # unhashable module attribute
            continue
        if w is not None:
            setattr(module, k, w)
            n += 1
    return n


def use_bars(*bars: Bars) -> None:
    """Serve these bars from now on (a new sweep context empties the cache first)."""
    CACHE.clear()
    for b in bars:
        CACHE.register(b)
