"""Starting strategies from the workstation: the start dialog's form, the start itself, and resuming the
running set after a restart.

Why here: the dialog (app/modals/start.py) asks for a symbol, a timeframe, a size and each typed
parameter; checking them is the strategy's own `Param.coerce` (the same as `cashup trade --param`), run
by building the strategy, so a bad value reads the same in both front ends. A size in contracts is turned
into the USDT notional the runner trades with at the current mark. The runner keeps what it started
(symbol, timeframe, parameters, size, state) in the journal; `resume_saved` adds those slots again when
the node starts, running ones running, paused and failed ones as they were. A portfolio strategy's
symbol field holds its symbols, comma-separated (default: the watchlist's first three).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cashup_tui.domain.errors import CashupError, ValidationError
from cashup_tui.domain.timeframes import timeframe_ms

log = logging.getLogger("cashup.service.strategies")
Node = Any  # a started runtime.Node (service/commands.py)
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
UNITS = ("usdt", "contracts")


@dataclass(frozen=True, slots=True)
class ParamField:
    """One typed parameter as the dialog shows it."""

    name: str
    type: str  # int | float | bool | str
    default: object
    help: str
    allowed: str  # "int in [1, 50], default 5" or "allowed: a, b"


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What the start dialog asks; `params` are the typed values (already checked by `check_start`)."""

    strategy: str
    symbol: str
    timeframe: str = "1m"
    size: Decimal = Decimal(1000)
    unit: str = "usdt"  # usdt: notional per unit of exposure; contracts: converted at the mark on start
    params: dict[str, object] | None = None
    symbols: tuple[str, ...] = ()  # a portfolio strategy's contracts (`symbol` is them joined with commas)


def _dirs() -> list[Any]:
    from cashup_tui.engine.strategy import strategy_dirs
    from cashup_tui.paths import user_strategies_dir

    return strategy_dirs(user_strategies_dir())


def param_fields(strategy: str) -> list[ParamField]:
    """The strategy's typed parameters with their defaults, for the dialog."""
    from cashup_tui.engine.strategy import load_strategy

    cls = load_strategy(strategy, _dirs())
    out = []
    for name, p in cls.parameters().items():
        d = p.describe()
        out.append(ParamField(name, d["type"], p.default, p.help, p.range_text()))
    return out


def is_portfolio(strategy: str) -> bool:
    from cashup_tui.engine.strategy import load_strategy

    return bool(getattr(load_strategy(strategy, _dirs()), "portfolio", False))


def _portfolio_symbols(text: str, listed: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    syms = [s.strip().upper() for s in text.split(",") if s.strip()]
    bad = [s for s in syms if s not in listed]
    dup = sorted({s for s in syms if syms.count(s) > 1})
    if not syms or bad or dup:
        what = f"{', '.join(bad)} not listed by this venue" if bad else (f"{', '.join(dup)} twice" if dup else "none")
        raise ValidationError(f"symbols: {what}", hint="contracts separated by commas, e.g. BTC_USDT,ETH_USDT,SOL_USDT")
    return tuple(syms)


def check_start(strategy: str, symbol: str, symbols: list[str] | tuple[str, ...], timeframe: str, size: str,
                unit: str, raw: dict[str, str]) -> StartRequest:
    """The dialog's text fields checked and typed; raises ValidationError naming the field and the fix.

    Parameters go through the strategy's own constructor (`Param.coerce` and `validate()`), as `--param` does."""
    from cashup_tui.engine.backtest.pipeline import build_strategy

    sym = symbol.strip().upper()
    legs = _portfolio_symbols(sym, symbols) if is_portfolio(strategy) else ()
    if legs:
        sym = ",".join(legs)
        if unit != "usdt":
            raise ValidationError("size: a portfolio strategy's size is its capital in USDT",
                                  hint="choose USDT; the weights decide the contracts per symbol")
    elif sym not in symbols:
        raise ValidationError(f"symbol: {sym or '(empty)'} is not a contract this venue lists",
                              hint="type a listed contract, e.g. " + ", ".join(list(symbols)[:5]))
    try:
        timeframe_ms(timeframe)
    except (CashupError, ValueError, KeyError):
        raise ValidationError(f"timeframe: {timeframe!r} is not a timeframe",
                              hint=f"one of {', '.join(TIMEFRAMES)}") from None
    if unit not in UNITS:
        raise ValidationError(f"size unit {unit!r} is not one of {', '.join(UNITS)}")
    try:
        amount = Decimal(size.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0:
        raise ValidationError(f"size: {size.strip() or '(empty)'} must be a positive number of {unit.upper()}",
                              hint="e.g. 1000 (USDT notional) or 10 (contracts)")
    strat = build_strategy(strategy, {k: v for k, v in raw.items() if v.strip() != ""}, _dirs())
    return StartRequest(strategy, sym, timeframe, amount, unit, dict(strat.params), legs)


async def ensure_market(node: Node, symbol: str, timeout_s: float = 10.0) -> None:
    """A contract outside the watchlist: subscribe its ticker and book so its bars and mark arrive."""
    if symbol not in node.symbols:
        node.symbols.append(symbol)  # the supervisor's list: it pulls tickers (and builds bars) for it
        if node.market is not None:
            await node.market.subscribe([symbol], ["tickers", "book", "trades"])
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while node.cache.mark(symbol) is None and loop.time() < end:
        await asyncio.sleep(0.05)


def notional_of(node: Node, req: StartRequest) -> Decimal:
    """The USDT notional the runner trades with: the size itself, or contracts x multiplier x mark."""
    if req.unit == "usdt":
        return req.size
    inst = node.instruments[req.symbol]
    mark = node.cache.mark(req.symbol)
    if mark is None or mark <= 0:
        raise ValidationError(f"no mark price for {req.symbol} yet: cannot size {req.size} contracts",
                              hint="wait for its price, or give the size in USDT")
    return req.size * inst.quanto_multiplier * mark


async def resume_saved(node: Node) -> list[str]:
    """Add again the slots the workstation started in an earlier run (not the stopped ones); returns
    what could not be resumed, as messages for the user."""
    from cashup_tui.engine.portfolio_slot import add_portfolio
    from cashup_tui.engine.strategy import load_strategy

    runner, problems = node.runner, []
    for rec in runner.saved():
        if rec.get("state") == "stopped":
            continue
        name, symbol, legs = rec["name"], rec.get("symbol", ""), list(rec.get("symbols") or [])
        try:
            missing = [s for s in legs or [symbol] if s not in node.instruments]
            if missing:
                raise ValidationError(f"{', '.join(missing)} is not listed by this venue")
            ref = rec.get("path") or rec.get("strategy", "")
            try:
                cls = load_strategy(ref, _dirs())
            except CashupError:
                cls = load_strategy(rec.get("strategy", ""), _dirs())
            kw = {"name": name, "order_notional": Decimal(str(rec.get("order_notional") or 1000)), "keep": True}
            for s in legs or [symbol]:
                await ensure_market(node, s)
            strat, tf = cls(**dict(rec.get("params") or {})), rec.get("timeframe", "1m")
            slot = add_portfolio(runner, strat, legs, tf, leverage=float(rec.get("leverage") or 1), **kw) if legs \
                else runner.add(strat, symbol, tf, **kw)
            if slot.state.value == "running":
                with contextlib.suppress(CashupError):
                    await node.warm_up(slot.name)
            log.info("resumed strategy %s on %s (%s)", name, symbol, slot.state.value)
        except CashupError as exc:
            log.error("strategy %s not resumed: %s", name, exc)
            problems.append(f"strategy {name} not resumed: {exc}")
    return problems


class StrategiesMixin:
    """The workstation's strategy starts (EngineWorkstation mixes it in; `self.node` is the started node)."""

    node: Any

    def note_strategy_started(self, slot_name: str) -> None:
        """Where a start is remembered for the drift view (BacktestMixin, service/jobs.py, does it)."""

    def strategy_params(self, strategy: str) -> list[ParamField]:
        return param_fields(strategy)

    def start_symbol(self, strategy: str, symbol: str) -> tuple[str, str]:
        """The dialog's symbol field: (label, default): `symbols` and the watchlist's first three for a
        portfolio strategy, else `symbol` and the selected one."""
        if not is_portfolio(strategy):
            return "symbol", symbol
        watch = [s for s in self.node.symbols if s in self.node.instruments]
        return "symbols", ",".join(list(dict.fromkeys(watch))[:3])

    def check_start(self, strategy: str, symbol: str, timeframe: str, size: str, unit: str,
                    raw: dict[str, str]) -> StartRequest:
        return check_start(strategy, symbol, sorted(self.node.instruments), timeframe, size, unit, raw)

    async def start_with(self, req: StartRequest) -> str:
        """Start `req` from the dialog: a new slot on its symbol, kept (resumed after a restart)."""
        from cashup_tui.service import commands

        for sym in req.symbols or (req.symbol,):
            await ensure_market(self.node, sym)
        slot = await commands.start_strategy(self.node, req.strategy, req.symbol, dict(req.params or {}),
                                             authorize=self.node.authorize, timeframe=req.timeframe,
                                             notional=notional_of(self.node, req), keep=True,
                                             symbols=list(req.symbols) or None)
        self.note_strategy_started(slot)  # the drift view's window starts here (service/jobs.py)
        return slot
