"""The strategy API: one class that runs unchanged in backtests, paper and live trading.

A strategy is a subclass of `Strategy` in a file of a strategies folder (the built-in ones are
the top-level `strategies/` package; see `strategy_dirs`):

    class SmaCross(Strategy):
        '''Long when the fast SMA crosses above the slow one, flat (or short) when below.'''
        fast = Param(10, min=2, max=500, help="fast SMA length (bars)")
        slow = Param(30, min=3, max=2000, help="slow SMA length (bars)")

        def validate(self):                    # cross-parameter rules (optional)
            if self.fast >= self.slow: raise ValidationError(...)

        def warmup(self) -> int:              # bars needed before the first signal
            return self.slow + 1

        def signals(self, bars: Bars) -> np.ndarray:   # vectorised: the whole history at once
            ...

        def on_bar(self, ctx, bar): ...       # optional event hooks (incremental, for live)

Signals. `signals(bars)` returns one float per bar, computed from bars up to and including that
bar's close: +1 = be long, -1 = be short, 0 = be flat, NaN = no opinion (keep what you have).
The engine executes a signal at the NEXT bar's open (no look-ahead) and turns -1 into 0 unless
shorts are allowed. Optional `stop_pct` / `take_pct` parameters (percent from the entry price)
make the engine exit inside a bar on the high/low, pessimistically (the stop first).

Event hooks. `on_start(ctx)`, `on_bar(ctx, bar)`, `on_fill(ctx, fill)`, `on_ticker(ctx, ticker)`
and `on_stop(ctx)` receive a `StrategyContext` (positions, equity, `target()`, `buy()`/`sell()`
orders). A vectorised strategy gets a default `on_bar` that recomputes `signals()` over a bounded
window of recent bars; override it with incremental indicators (`cashup_tui.engine.indicators`)
when that matters. A strategy that only has hooks sets `vectorised = False` (grid trading, ...).

Strategy files may import only this module, `cashup_tui.engine.indicators`, `cashup_tui.domain`
and `cashup_tui.engine.panel` (portfolio strategies: target weights over a panel of symbols).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np

from cashup_tui.domain.errors import StrategyError, ValidationError
from cashup_tui.domain.market import Bar

__all__ = [
    "Bars", "Param", "Strategy", "StrategyContext", "StrategyError", "ValidationError",
    "describe", "discover", "load_strategy", "strategy_dirs", "where",
]

_TYPES: dict[type, str] = {int: "int", float: "float", bool: "bool", str: "str"}


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
class Param:
    """A typed strategy parameter with a default, an optional range and a help text.

    The type is the default's type (int, float, bool or str). `min`/`max` bound numbers,
    `step` is the natural grid step for optimisation, `choices` limits strings.
    """

    def __init__(
        self,
        default: Any,
        *,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        choices: Sequence[Any] | None = None,
        help: str = "",
    ) -> None:
        if type(default) not in _TYPES:
            raise TypeError(f"Param default must be int, float, bool or str, not {type(default).__name__}")
        self.type: type = type(default)
        self.default = default
        self.min, self.max, self.step = min, max, step
        self.choices = tuple(choices) if choices is not None else None
        self.help = help
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.params[self.name]

    def coerce(self, value: Any, strategy: str = "") -> Any:
        """Convert a CLI string or a number to this parameter's type and check its range."""
        label = f"{strategy}: parameter {self.name!r}" if strategy else f"parameter {self.name!r}"
        v = value
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    v = low in ("1", "true", "yes", "on")
                else:
                    v = bool(value)
            elif self.type is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                if isinstance(value, str):
                    f = float(value)
                    if not f.is_integer():
                        raise ValueError(value)
                    v = int(f)
                else:
                    v = int(value)
            elif self.type is float:
                v = float(value)
                if not np.isfinite(v):
                    raise ValueError(value)
            else:
                v = str(value)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{label} must be {_TYPES[self.type]}, got {value!r}", hint=self.range_text()
            ) from None
        if self.choices is not None and v not in self.choices:
            raise ValidationError(f"{label} must be one of {list(self.choices)}, got {v!r}")
        if self.type in (int, float) and (
            (self.min is not None and v < self.min) or (self.max is not None and v > self.max)
        ):
            raise ValidationError(f"{label} = {v} is out of range", hint=self.range_text())
        return v

    def range_text(self) -> str:
        if self.choices is not None:
            return f"allowed: {', '.join(map(str, self.choices))}"
        lo = "-inf" if self.min is None else self.min
        hi = "+inf" if self.max is None else self.max
        return f"{_TYPES[self.type]} in [{lo}, {hi}], default {self.default}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": _TYPES[self.type], "default": self.default, "min": self.min,
            "max": self.max, "step": self.step, "choices": list(self.choices) if self.choices else None,
            "help": self.help,
        }


# ---------------------------------------------------------------------------------------------
# bars: a light columnar frame (numpy), pandas only on request
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bars:
    """Closed OHLCV bars as float64 numpy columns; `time_ms` is each bar's open time (int64, UTC).

    Column access by attribute (`bars.close`) or key (`bars["close"]`); `bars.df` builds a pandas
    DataFrame for strategies that prefer it (slower to import; the examples use numpy).
    """

    time_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbol: str = ""
    timeframe: str = ""

    COLUMNS: ClassVar[tuple[str, ...]] = ("time_ms", "open", "high", "low", "close", "volume")

    def __len__(self) -> int:
        return int(self.close.size)

    def __getitem__(self, key: str | slice) -> Any:
        if isinstance(key, str):
            if key not in self.COLUMNS:
                raise KeyError(f"no column {key!r}; columns: {', '.join(self.COLUMNS)}")
            return getattr(self, key)
        if isinstance(key, slice):
            return Bars(**{c: getattr(self, c)[key] for c in self.COLUMNS}, symbol=self.symbol, timeframe=self.timeframe)
        raise TypeError("index Bars with a column name or a slice")

    @property
    def df(self) -> Any:
        import pandas as pd

        return pd.DataFrame({c: getattr(self, c) for c in self.COLUMNS})

    def bar(self, i: int) -> Bar:
        return Bar(self.symbol, self.timeframe, int(self.time_ms[i]), float(self.open[i]), float(self.high[i]),
                   float(self.low[i]), float(self.close[i]), float(self.volume[i]))

    def iter_bars(self) -> Iterator[Bar]:
        for i in range(len(self)):
            yield self.bar(i)

    def digest(self) -> str:
        """Hash of the numbers (part of a backtest's fingerprint)."""
        h = hashlib.sha256()
        for c in self.COLUMNS:
            h.update(np.ascontiguousarray(getattr(self, c)).tobytes())
        return h.hexdigest()

    @staticmethod
    def from_arrays(time_ms: Any, open: Any, high: Any, low: Any, close: Any, volume: Any = None,
                    *, symbol: str = "", timeframe: str = "") -> Bars:
        c = np.ascontiguousarray(close, dtype=np.float64)
        v = np.zeros(c.size) if volume is None else np.ascontiguousarray(volume, dtype=np.float64)
        return Bars(np.ascontiguousarray(time_ms, dtype=np.int64), np.ascontiguousarray(open, dtype=np.float64),
                    np.ascontiguousarray(high, dtype=np.float64), np.ascontiguousarray(low, dtype=np.float64),
                    c, v, symbol, timeframe)


# ---------------------------------------------------------------------------------------------
# what event hooks can do
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StrategyFill:
    """What `on_fill` receives, the same in backtests, paper and live: base units and floats."""

    order_id: str  # the client order id
    side: str  # "buy" | "sell"
    qty: float  # base units (coins), like the qty passed to ctx.buy/ctx.sell
    price: float
    fee: float
    ts_ms: int
    tag: str = ""


class StrategyContext(Protocol):
    """What a strategy's event hooks see and may do. Implemented by the event backtest runner,
    and by the live/paper strategy runner (orders go through risk and the order manager)."""

    symbol: str

    @property
    def position(self) -> float:
        """Signed position in base units (coins); > 0 long, < 0 short."""
        ...

    @property
    def equity(self) -> float: ...

    @property
    def allow_short(self) -> bool: ...

    def target(self, exposure: float) -> None:
        """Be long (+1), short (-1) or flat (0), sized by the run's sizer; fills at the next open."""
        ...

    def buy(self, qty: float, price: float | None = None, tag: str = "") -> str:
        """Market (price None) or limit buy of `qty` base units; returns the client order id."""
        ...

    def sell(self, qty: float, price: float | None = None, tag: str = "") -> str: ...

    def cancel(self, order_id: str) -> None: ...

    def cancel_all(self) -> None: ...

    def open_orders(self) -> list[Any]: ...

    def log(self, message: str) -> None: ...


# ---------------------------------------------------------------------------------------------
# the base class
# ---------------------------------------------------------------------------------------------
class Strategy:
    """Base class of every strategy. Subclasses declare `Param`s and implement `signals` and/or hooks."""

    name: ClassVar[str] = ""  # defaults to the file name
    vectorised: ClassVar[bool] = True  # False: event hooks only (cannot run on the fast engine)
    source_path: ClassVar[str] = ""  # set by the loader

    def __init__(self, **params: Any) -> None:
        spec = self.parameters()
        unknown = [k for k in params if k not in spec]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, list(spec), n=1)
            raise ValidationError(
                f"{self.label()}: unknown parameter {k!r}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + f"parameters: {', '.join(spec) or '(none)'}",
            )
        self.params: dict[str, Any] = {k: p.coerce(params[k], self.label()) if k in params else p.default
                                       for k, p in spec.items()}
        self._history: dict[str, Any] | None = None
        self.validate()

    # -- declarations ---------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> dict[str, Param]:
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for k, v in vars(klass).items():
                if isinstance(v, Param):
                    out[k] = v
        return out

    @classmethod
    def label(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def summary(cls) -> str:
        doc = inspect.getdoc(cls) or ""
        return " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else ""

    def validate(self) -> None:
        """Cross-parameter rules; raise ValidationError with a hint."""

    def warmup(self) -> int:
        """Bars needed before the first meaningful signal (used to refuse too-short data)."""
        return 0

    def stops(self) -> tuple[float | None, float | None]:
        """(stop, take) as fractions of the entry price, from optional `stop_pct`/`take_pct` params."""
        s = self.params.get("stop_pct")
        t = self.params.get("take_pct")
        return (s / 100.0 if s else None, t / 100.0 if t else None)

    # -- vectorised ----------------------------------------------------------------------------
    def signals(self, bars: Bars) -> np.ndarray:
        """Target per bar (+1 long, -1 short, 0 flat, NaN keep), from data up to that bar's close."""
        raise StrategyError(
            f"{self.label()} has no vectorised signals (event hooks only)",
            hint="run it with --engine event",
        )

    # -- event hooks -------------------------------------------------------------------------
    def history_bars(self) -> int:
        """How many recent bars the default `on_bar` keeps to recompute `signals()`."""
        return max(500, 10 * self.warmup())

    def on_start(self, ctx: StrategyContext) -> None:
        self._history = None

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Default for vectorised strategies: recompute signals on recent history; act on the last.

        Recent bars live in numpy buffers of 2 x `history_bars()` rows (shifted down when full), so
        each bar costs one `signals()` call on at most that many rows.
        """
        if not self.vectorised:
            return
        h = self._history
        if h is None:
            keep = self.history_bars()
            h = self._history = {"n": 0, "keep": keep, "buf": np.empty((6, 2 * keep))}
        buf, n, keep = h["buf"], h["n"], h["keep"]
        if n == buf.shape[1]:
            buf[:, :keep] = buf[:, n - keep : n]
            n = keep
        buf[:, n] = (bar.open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)
        n += 1
        h["n"] = n
        b = Bars(buf[0, :n].astype(np.int64), buf[1, :n], buf[2, :n], buf[3, :n], buf[4, :n], buf[5, :n],
                 bar.symbol, bar.timeframe)
        sig = float(np.asarray(self.signals(b))[-1])
        if sig == sig:
            ctx.target(sig)

    def on_fill(self, ctx: StrategyContext, fill: Any) -> None:
        pass

    def on_ticker(self, ctx: StrategyContext, ticker: Any) -> None:
        pass

    def on_stop(self, ctx: StrategyContext) -> None:
        pass

    # -- identity ------------------------------------------------------------------------------
    @classmethod
    def source_text(cls) -> str:
        if cls.source_path and os.path.exists(cls.source_path):
            return Path(cls.source_path).read_text(encoding="utf-8")
        try:
            return inspect.getsource(sys.modules[cls.__module__])
        except (OSError, TypeError, KeyError):
            return cls.__qualname__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.label()}({args})"


def guarded(strategy: Strategy, fn: Any, *args: Any, hint: str = "fix the strategy file; the run was not stored") -> Any:
    """Call a strategy method: any exception but ours becomes a StrategyError naming file:line."""
    try:
        return fn(*args)
    except (StrategyError, ValidationError):
        raise
    except Exception as exc:
        raise StrategyError(
            f"strategy {strategy.label()} raised {type(exc).__name__}: {exc} at {where(exc, strategy)}", hint=hint,
        ) from exc


def run_signals(strategy: Strategy, bars: Bars) -> np.ndarray:
    """Call `signals()` under a guard: any exception becomes a StrategyError naming file:line."""
    out = guarded(strategy, strategy.signals, bars)
    arr = np.asarray(out, dtype=np.float64) if out is not None else None
    if arr is None or arr.shape != (len(bars),):
        got = "None" if arr is None else str(arr.shape)
        raise StrategyError(
            f"strategy {strategy.label()}: signals() must return one value per bar ({len(bars)}), got shape {got}",
            hint="return a numpy array of +1/-1/0/NaN with the same length as the bars",
        )
    bad = np.abs(arr) > 1  # NaN (keep) compares False
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StrategyError(f"strategy {strategy.label()}: signal {arr[i]} at bar {i} is outside [-1, 1]")
    return arr


def where(exc: BaseException, strategy: Strategy | type[Strategy] | None = None) -> str:
    """`file:line` of the deepest traceback frame inside the strategy file (else the deepest frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    src = getattr(strategy, "source_path", "") if strategy is not None else ""
    pick = frames[-1]
    if src:
        mine = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(src)]
        if mine:
            pick = mine[-1]
    return f"{pick.filename}:{pick.lineno}"


# ---------------------------------------------------------------------------------------------
# loading by name or path
# ---------------------------------------------------------------------------------------------
def builtin_strategies_dir() -> Path | None:
    """The shipped strategies: the `strategies` package (the top-level `strategies/` folder of a
    checkout, in the wheel too), found through importlib.resources wherever it is installed."""
    from importlib.resources import files

    try:
        root = files("strategies")
    except ModuleNotFoundError:
        return None
    return root if isinstance(root, Path) and root.is_dir() else None  # files are loaded by path


def strategy_dirs(user_dir: Path | None = None) -> list[Path]:
    """Where strategies are looked up by name: $CASHUP_STRATEGIES_DIR (os.pathsep list), then
    the built-in ones (`builtin_strategies_dir`), then `user_dir`: the composition root passes the
    user config dir's `strategies/` (`paths.user_strategies_dir()`; the engine reads no paths)."""
    out: list[Path] = []
    env = os.environ.get("CASHUP_STRATEGIES_DIR", "")
    out += [Path(p) for p in env.split(os.pathsep) if p]
    builtin = builtin_strategies_dir()
    if builtin is not None:
        out.append(builtin)
    if user_dir is not None:
        out.append(user_dir)
    return out


def discover(dirs: Sequence[Path] | None = None) -> dict[str, Path]:
    """name -> file for every `*.py` strategy file in `dirs` (default `strategy_dirs()`; first wins)."""
    found: dict[str, Path] = {}
    for d in strategy_dirs() if dirs is None else dirs:
        if d.is_dir():
            for p in sorted(d.glob("*.py")):
                if not p.name.startswith("_"):
                    found.setdefault(p.stem, p)
    return found


def load_strategy(ref: str, dirs: Sequence[Path] | None = None) -> type[Strategy]:
    """A strategy class from a name (`sma_cross`, looked up in `dirs`, default `strategy_dirs()`) or a
    path (`./my_strat.py`)."""
    ref = ref.strip()
    path: Path | None = None
    if ref.endswith(".py") or os.sep in ref or "/" in ref:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ValidationError(f"strategy file {ref} not found", hint="give an existing .py file or a name from `cashup strategies list`")
    else:
        dirs = strategy_dirs() if dirs is None else list(dirs)
        known = discover(dirs)
        path = known.get(ref)
        if path is None:
            close = difflib.get_close_matches(ref, list(known), n=3, cutoff=0.5)
            hint = (f"did you mean {', '.join(close)}? " if close else "") + (
                f"known: {', '.join(sorted(known))}" if known else "no strategies found in " + ", ".join(map(str, dirs))
            )
            raise ValidationError(f"unknown strategy {ref!r}", hint=hint)
    return _load_file(path.resolve())


_CACHE: dict[tuple[str, float], type[Strategy]] = {}


def _load_file(path: Path) -> type[Strategy]:
    key = (str(path), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    mod_name = "cashup_strategy_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ValidationError(f"cannot import strategy file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses/pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(mod_name, None)
        raise StrategyError(f"strategy file {path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) == str(path)]
        loc = f"{path}:{frames[-1].lineno}" if frames else str(path)
        raise StrategyError(f"strategy file {loc}: {type(exc).__name__}: {exc}") from None
    cls = _pick_class(module, path)
    cls.source_path = str(path)
    if not cls.name:
        cls.name = path.stem
    _CACHE[key] = cls
    return cls


def _pick_class(module: ModuleType, path: Path) -> type[Strategy]:
    explicit = getattr(module, "STRATEGY", None)
    if isinstance(explicit, type) and issubclass(explicit, Strategy):
        return explicit
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy and v.__module__ == module.__name__]
    if len(found) != 1:
        raise ValidationError(
            f"strategy file {path} defines {len(found)} Strategy subclasses",
            hint="define exactly one, or set STRATEGY = YourClass",
        )
    return found[0]


def describe(cls: type[Strategy]) -> dict[str, Any]:
    """Name, summary, kind and parameters of a strategy class (for `cashup strategies list`)."""
    return {
        "name": cls.label(),
        "summary": cls.summary(),
        "vectorised": cls.vectorised,
        "path": cls.source_path,
        "params": [p.describe() for p in cls.parameters().values()],
    }


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """`["fast=10", "slow=30"]` -> {"fast": "10", "slow": "30"} (types are applied by the strategy)."""
    out: dict[str, str] = {}
    for raw in pairs:
        k, sep, v = raw.partition("=")
        if not sep or not k.strip():
            raise ValidationError(f"bad --param {raw!r}", hint="use --param name=value, e.g. --param fast=10")
        out[k.strip()] = v.strip()
    return out
