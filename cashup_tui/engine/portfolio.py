"""Portfolio: positions per symbol from fills, cash, equity, margin and risk analytics.

Why: one place computes what the account is worth at the current marks, so the risk
gate, the UI and `cashup risk report` agree. Accounting is exact (`Decimal`); the
analytics (VaR over many scenarios) use numpy because they are read-only estimates.

Invariant (tested with hypothesis): equity == cash + unrealised PnL at every step, and
cash == starting cash + realised PnL - fees + funding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position

ZERO = Decimal(0)
DAY_MS = 86_400_000
STRESS_SHOCKS_PCT = (-30, -20, -10, -5, 5, 10, 20, 30)


@dataclass(frozen=True, slots=True)
class PositionView:
    """What the positions pane and `cashup positions` show for one symbol."""

    symbol: str
    size: Decimal
    side: str
    entry_price: Decimal
    mark: Decimal | None
    notional: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    leverage: Decimal
    margin: Decimal
    liquidation_price: Decimal | None


@dataclass(frozen=True, slots=True)
class StressRow:
    scope: str  # a symbol or "ALL"
    shock_pct: int
    pnl: Decimal
    equity_after: Decimal
    margin_after: Decimal
    liquidated: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VarResult:
    days: int
    var95: float  # loss (positive number) not exceeded on 95% of historical days
    var99: float
    worst: float
    symbols: tuple[str, ...]


@dataclass(slots=True)
class Portfolio:
    """Cash plus net positions. Feed it fills (`apply_fill`), funding and marks."""

    instruments: Mapping[str, Instrument]
    cash: Decimal = ZERO
    starting_cash: Decimal = ZERO
    currency: str = "USDT"
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    default_leverage: Decimal = Decimal(1)
    day_start_ms: int = -1
    day_start_equity: Decimal = ZERO
    peak_equity: Decimal = ZERO
    _trade_ids: set[str] = field(default_factory=set)

    @classmethod
    def with_cash(cls, instruments: Mapping[str, Instrument], cash: Decimal, **kw: object) -> Portfolio:
        return cls(instruments=instruments, cash=cash, starting_cash=cash, peak_equity=cash, **kw)  # type: ignore[arg-type]

    # -- inputs ---------------------------------------------------------------------
    def _instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise ValidationError(f"unknown symbol {symbol!r}", hint="instruments are loaded from the venue at start-up")
        return inst

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            inst = self._instrument(symbol)
            pos = Position(symbol, inst.quanto_multiplier, leverage=self.leverage.get(symbol, self.default_leverage))
            self.positions[symbol] = pos
        return pos

    def has_trade(self, trade_id: str) -> bool:
        return trade_id in self._trade_ids

    def trade_count(self) -> int:
        """How many trade ids the dedup set holds."""
        return len(self._trade_ids)

    def keep_trade_ids(self, keep: Iterable[str]) -> None:
        """Forget every trade id but `keep` (a backtest bounds its memory; a live node never calls this)."""
        self._trade_ids = set(keep)

    def apply_fill(self, fill: Fill) -> bool:
        """Apply one fill (idempotent by trade id). Returns False for a duplicate."""
        if fill.trade_id in self._trade_ids:
            return False
        pos = self.position(fill.symbol)
        realized = pos.apply_fill(fill)
        self.cash += realized - fill.fee
        self._trade_ids.add(fill.trade_id)
        return True

    def apply_funding(self, symbol: str, rate: Decimal, mark: Decimal, ts_ms: int = 0) -> Decimal:
        pos = self.positions.get(symbol)
        if pos is None or pos.is_flat:
            return ZERO
        amount = pos.apply_funding(rate, mark, ts_ms)
        self.cash += amount
        return amount

    def book_funding(self, symbol: str, amount: Decimal, ts_ms: int = 0) -> Position:
        """A settlement the venue booked (its amount, not one computed here): onto the position and cash."""
        pos = self.position(symbol)
        pos.funding += amount
        pos.updated_ms = max(pos.updated_ms, ts_ms)
        self.cash += amount
        return pos

    def set_mark(self, symbol: str, mark: Decimal) -> None:
        if mark.is_finite() and mark > ZERO:
            self.marks[symbol] = mark

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        self._instrument(symbol).check_leverage(leverage)
        self.leverage[symbol] = leverage
        if symbol in self.positions:
            self.positions[symbol].leverage = leverage

    def adopt_position(self, venue: Position) -> None:
        """Reconciliation: the venue's position is authoritative (size, entry, leverage)."""
        pos = self.position(venue.symbol)
        pos.size = venue.size
        pos.entry_price = venue.entry_price if venue.size != 0 else ZERO
        if venue.leverage > 0:
            pos.leverage = venue.leverage
            self.leverage[venue.symbol] = venue.leverage

    # -- valuation ------------------------------------------------------------------
    def mark_of(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)

    def unrealized(self) -> Decimal:
        total = ZERO
        for s, p in self.positions.items():
            if p.size:  # (not p.is_flat, without the property: the risk gate values every entry order)
                total += p.unrealized_pnl(self.marks.get(s, p.entry_price))
        return total

    def equity(self) -> Decimal:
        return self.cash + self.unrealized()

    def realized(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), ZERO)

    def fees(self) -> Decimal:
        return sum((p.fees for p in self.positions.values()), ZERO)

    def funding(self) -> Decimal:
        return sum((p.funding for p in self.positions.values()), ZERO)

    def notional(self, symbol: str) -> Decimal:
        p = self.positions.get(symbol)
        if p is None or p.is_flat:
            return ZERO
        return p.notional(self.marks.get(symbol, p.entry_price))

    def gross_exposure(self, *, excluding: str | None = None) -> Decimal:
        """Sum of |notional| at mark over open positions (`excluding` one symbol: the risk gate
        adds that symbol's notional after the order instead)."""
        total = ZERO
        for s, p in self.positions.items():
            if p.size and s != excluding:
                total += p.notional(self.marks.get(s, p.entry_price))
        return total

    def net_exposure(self) -> Decimal:
        total = ZERO
        for s, p in self.positions.items():
            total += p.size * p.quanto_multiplier * self.marks.get(s, p.entry_price)
        return total

    def margin_used(self) -> Decimal:
        total = ZERO
        for s, p in self.positions.items():
            if not p.is_flat:
                total += p.margin(self.marks.get(s, p.entry_price))
        return total

    def effective_leverage(self) -> Decimal:
        eq = self.equity()
        return self.gross_exposure() / eq if eq > 0 else Decimal("Infinity")

    def exposure_by_symbol(self) -> dict[str, dict[str, Decimal]]:
        """{symbol: {"long": notional, "short": notional}} (plus "ALL")."""
        out: dict[str, dict[str, Decimal]] = {}
        all_long = all_short = ZERO
        for s, p in sorted(self.positions.items()):
            if p.is_flat:
                continue
            n = self.notional(s)
            long_, short = (n, ZERO) if p.size > 0 else (ZERO, n)
            out[s] = {"long": long_, "short": short}
            all_long += long_
            all_short += short
        out["ALL"] = {"long": all_long, "short": all_short}
        return out

    def view(self, symbol: str) -> PositionView:
        p = self.position(symbol)
        inst = self._instrument(symbol)
        mark = self.marks.get(symbol)
        at = mark if mark is not None else p.entry_price
        return PositionView(
            symbol=symbol,
            size=p.size,
            side="long" if p.size > 0 else "short" if p.size < 0 else "flat",
            entry_price=p.entry_price,
            mark=mark,
            notional=p.notional(at),
            unrealized_pnl=p.unrealized_pnl(at),
            realized_pnl=p.realized_pnl,
            fees=p.fees,
            funding=p.funding,
            leverage=p.leverage,
            margin=p.margin(at),
            liquidation_price=p.liquidation_price(inst.maintenance_rate),
        )

    def views(self, *, include_flat: bool = False) -> list[PositionView]:
        return [self.view(s) for s, p in sorted(self.positions.items()) if include_flat or not p.is_flat]

    # -- day PnL and drawdown ----------------------------------------------------------
    def roll(self, now_ms: int) -> None:
        """Start a new UTC day when the date changes; track the equity peak."""
        eq = self.equity()
        day = now_ms - now_ms % DAY_MS
        if day != self.day_start_ms:
            self.day_start_ms = day
            self.day_start_equity = eq
        if eq > self.peak_equity:
            self.peak_equity = eq

    def day_pnl(self) -> Decimal:
        return self.equity() - self.day_start_equity if self.day_start_ms >= 0 else ZERO

    def drawdown_pct(self) -> Decimal:
        peak = max(self.peak_equity, self.equity())
        if peak <= 0:
            return ZERO
        return (peak - self.equity()) / peak * 100

    def state(self) -> dict[str, str | int]:
        """What must survive a restart besides fills (day start, peak)."""
        return {
            "day_start_ms": self.day_start_ms,
            "day_start_equity": str(self.day_start_equity),
            "peak_equity": str(self.peak_equity),
        }

    def restore_state(self, data: Mapping[str, object]) -> None:
        self.day_start_ms = int(data.get("day_start_ms", -1))  # type: ignore[call-overload]
        self.day_start_equity = Decimal(str(data.get("day_start_equity", "0")))
        self.peak_equity = Decimal(str(data.get("peak_equity", "0")))

    # -- analytics -------------------------------------------------------------------
    def stress(self, shocks_pct: Sequence[int] = STRESS_SHOCKS_PCT) -> list[StressRow]:
        """Price shocks per symbol and for all symbols together -> PnL, margin, liquidations."""
        open_syms = [s for s, p in sorted(self.positions.items()) if not p.is_flat]
        rows: list[StressRow] = []
        scopes: list[tuple[str, list[str]]] = [(s, [s]) for s in open_syms]
        if open_syms:
            scopes.append(("ALL", open_syms))
        eq = self.equity()
        for scope, syms in scopes:
            for shock in shocks_pct:
                factor = 1 + Decimal(shock) / 100
                pnl = ZERO
                margin = ZERO
                liq: list[str] = []
                for s, p in sorted(self.positions.items()):
                    if p.is_flat:
                        continue
                    mark = self.marks.get(s, p.entry_price)
                    new = mark * factor if s in syms else mark
                    pnl += p.unrealized_pnl(new) - p.unrealized_pnl(mark)
                    margin += p.margin(new)
                    lp = p.liquidation_price(self._instrument(s).maintenance_rate)
                    if lp is not None and ((p.size > 0 and new <= lp) or (p.size < 0 and new >= lp)):
                        liq.append(s)
                rows.append(StressRow(scope, int(shock), pnl, eq + pnl, margin, tuple(liq)))
        return rows

    def historical_var(self, closes: Mapping[str, Sequence[float]]) -> VarResult:
        """1-day historical VaR (95/99) of the current positions from daily closes per symbol.

        Each past day's return per symbol is applied to today's notional; the series are
        aligned on their most recent days (the shortest history decides the window).
        """
        import numpy as np

        syms = tuple(s for s, p in sorted(self.positions.items()) if not p.is_flat)
        if not syms:
            return VarResult(0, 0.0, 0.0, 0.0, ())
        missing = [s for s in syms if len(closes.get(s, ())) < 3]
        if missing:
            raise ValidationError(
                f"not enough daily candles for VaR: {', '.join(missing)}",
                hint="import or fetch candles first (`cashup data fetch SYMBOL --timeframe 1d`)",
            )
        n = min(len(closes[s]) for s in syms)
        pnl = np.zeros(n - 1)
        for s in syms:
            c = np.asarray(closes[s][-n:], dtype=float)
            if not np.all(np.isfinite(c)) or np.any(c <= 0):
                raise ValidationError(f"daily closes for {s} contain non-positive or non-finite values")
            rets = c[1:] / c[:-1] - 1.0
            p = self.positions[s]
            signed_notional = float(p.size * p.quanto_multiplier * self.marks.get(s, p.entry_price))
            pnl += signed_notional * rets
        var95 = float(max(0.0, -np.percentile(pnl, 5)))
        var99 = float(max(0.0, -np.percentile(pnl, 1)))
        return VarResult(int(n - 1), var95, var99, float(max(0.0, -pnl.min())), syms)


def replay(instruments: Mapping[str, Instrument], cash: Decimal, fills: Iterable[Fill]) -> Portfolio:
    """Rebuild a portfolio from persisted fills (restart): same fills -> same positions."""
    pf = Portfolio.with_cash(instruments, cash)
    for f in sorted(fills, key=lambda f: (f.ts_ms, f.trade_id)):
        pf.apply_fill(f)
    return pf


def daily_closes(bars: Iterable[object]) -> list[float]:
    """Last close of each UTC day from bars with `open_ms` and `close` (any timeframe <= 1d)."""
    by_day: dict[int, tuple[int, float]] = {}
    for b in bars:
        ts = int(b.open_ms)  # type: ignore[attr-defined]
        day = ts - ts % DAY_MS
        prev = by_day.get(day)
        if prev is None or ts >= prev[0]:
            by_day[day] = (ts, float(b.close))  # type: ignore[attr-defined]
    return [by_day[d][1] for d in sorted(by_day)]
