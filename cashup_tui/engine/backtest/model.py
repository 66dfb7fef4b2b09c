"""What a backtest run is configured with and what it produces (shared by every engine)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.instruments import Instrument

ENGINE_VERSION = "fast-3"  # bump when results for the same inputs would change (part of the fingerprint)


@dataclass(frozen=True, slots=True)
class Sizer:
    """How many units a new position gets. kind: all-in | percent | notional | atr."""

    kind: str = "all-in"
    value: float = 100.0  # percent of equity, USDT notional, or risk % for atr
    atr_mult: float = 2.0
    atr_period: int = 14

    @property
    def proportional(self) -> bool:
        """Units proportional to equity (lets the fast engine compound with a cumulative product)."""
        return self.kind in ("all-in", "percent")

    def text(self) -> str:
        if self.kind == "all-in":
            return "all-in"
        if self.kind == "atr":
            return f"atr:{self.value:g}:{self.atr_mult:g}:{self.atr_period}"
        return f"{self.kind}:{self.value:g}"


def parse_sizer(spec: str) -> Sizer:
    """`all-in`, `percent:50`, `notional:1000`, `atr:1` / `atr:1:2:14` (risk %, ATR multiple, ATR length)."""
    raw = (spec or "all-in").strip().lower()
    hint = "use all-in, percent:P (0-100], notional:N (USDT), or atr:RISK%[:MULT[:PERIOD]]"
    kind, _, rest = raw.partition(":")
    if kind in ("all-in", "allin", "all"):
        return Sizer()
    parts = rest.split(":") if rest else []
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ValidationError(f"bad --sizer {spec!r}", hint=hint) from None
    if kind == "percent" and len(nums) == 1 and 0 < nums[0] <= 100:
        return Sizer("percent", nums[0])
    if kind == "notional" and len(nums) == 1 and nums[0] > 0 and math.isfinite(nums[0]):
        return Sizer("notional", nums[0])
    if kind == "atr" and 1 <= len(nums) <= 3 and 0 < nums[0] <= 100:
        mult = nums[1] if len(nums) > 1 else 2.0
        period = nums[2] if len(nums) > 2 else 14
        if mult > 0 and period >= 1 and float(period).is_integer():
            return Sizer("atr", nums[0], mult, int(period))
    raise ValidationError(f"bad --sizer {spec!r}", hint=hint)


@dataclass(frozen=True, slots=True)
class Funding:
    """Funding settlements: times (epoch ms) and rates (fraction, + means longs pay)."""

    time_ms: np.ndarray
    rate: np.ndarray
    source: str = ""


def funding_rates(time_ms: np.ndarray, funding: Funding | None) -> np.ndarray:
    """Summed funding rate charged at each bar's close: a settlement at T is charged on the bar that
    opened before T (settlements after the last bar's end are dropped). One mapping for both engines."""
    n = time_ms.size
    rate = np.zeros(n)
    if funding is None or funding.time_ms.size == 0 or n == 0:
        return rate
    b = np.searchsorted(time_ms, funding.time_ms, side="left") - 1
    tf = int(np.median(np.diff(time_ms))) if n > 1 else 0
    ok = (b >= 0) & (funding.time_ms <= time_ms[-1] + tf)
    np.add.at(rate, b[ok], funding.rate[ok])
    return rate


@dataclass(frozen=True)
class RunConfig:
    cash: float = 10_000.0
    fee_bps: float = 5.0
    slippage_bps: float = 0.0
    leverage: float = 1.0
    allow_short: bool = False
    sizer: Sizer = field(default_factory=Sizer)
    instrument: Instrument | None = None  # set = round to whole contracts (--contracts)
    funding: Funding | None = None

    def check(self) -> None:
        """Refuse nonsense before any work is done (each message says which flag and why)."""
        rules = [
            (math.isfinite(self.cash) and 0 < self.cash <= 1e12, "--cash must be a positive amount of USDT up to 1e12",
             f"{self.cash}"),
            (math.isfinite(self.fee_bps) and 0 <= self.fee_bps < 1000, "--fee-bps must be in [0, 1000)", f"{self.fee_bps}"),
            (math.isfinite(self.slippage_bps) and 0 <= self.slippage_bps < 1000,
             "--slippage-bps must be in [0, 1000)", f"{self.slippage_bps}"),
            (math.isfinite(self.leverage) and 0 < self.leverage <= 125, "--leverage must be in (0, 125]", f"{self.leverage}"),
        ]
        for ok, msg, got in rules:
            if not ok:
                raise ValidationError(f"{msg}, got {got}")

    @property
    def fee(self) -> float:
        return self.fee_bps / 10_000.0

    @property
    def slip(self) -> float:
        return self.slippage_bps / 10_000.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cash": self.cash, "fee_bps": self.fee_bps, "slippage_bps": self.slippage_bps,
            "leverage": self.leverage, "allow_short": self.allow_short, "sizer": self.sizer.text(),
            "contracts": self.instrument.symbol if self.instrument else None,
            "funding": self.funding.source if self.funding else None,
        }


# Gate contract specs (GET /futures/usdt/contracts, captured 2023-05-24) for --contracts when the
# store has no instrument table. Symbols not listed here need the store's instruments.
_KNOWN_CONTRACTS: dict[str, dict[str, Any]] = {
    "BTC_USDT": {"name": "BTC_USDT", "quanto_multiplier": "0.0001", "order_price_round": "0.1", "order_size_min": 1},
    "ETH_USDT": {"name": "ETH_USDT", "quanto_multiplier": "0.01", "order_price_round": "0.05", "order_size_min": 1},
    "SOL_USDT": {"name": "SOL_USDT", "quanto_multiplier": "1", "order_price_round": "0.0001", "order_size_min": 1},
    "XRP_USDT": {"name": "XRP_USDT", "quanto_multiplier": "10", "order_price_round": "0.0001", "order_size_min": 1},
    "DOGE_USDT": {"name": "DOGE_USDT", "quanto_multiplier": "10", "order_price_round": "0.000001", "order_size_min": 1},
}


def known_instrument(symbol: str) -> Instrument:
    from cashup_tui.domain.instruments import instrument_from_gate

    spec = _KNOWN_CONTRACTS.get(symbol.upper())
    if spec is None:
        raise ValidationError(
            f"--contracts: no contract spec known for {symbol or '(unknown symbol)'}",
            hint=f"known: {', '.join(_KNOWN_CONTRACTS)}; put the contract in the CSV file name (e.g. BTC_USDT_1h.csv) or use --symbol with stored candles",
        )
    return instrument_from_gate(spec)


def max_units(equity: float, price: float, leverage: float, fee: float) -> float:
    """The largest position `equity` can open at `price`: the venue's margin rule above 1x (initial
    margin notional / L plus the entry fee must fit in the equity), L * equity / (price * (1 + fee))
    at or below 1x (the venue's leverage is then 1; the size is scaled down)."""
    if leverage > 1:
        return equity / (price * (1.0 / leverage + fee))
    return leverage * equity / (price * (1.0 + fee))


# Without --contracts positions are fractional coins, but the venue still has a size step: the event
# engine's default instrument trades in steps of UNIT_STEP coins (size step = minimum size) and an
# order below one step is not placed; both engines then skip that entry's segment (as with contracts).
UNIT_STEP = Decimal("1e-24")
# Above this many coins flooring to the step changes a size by < 1e-12 (relative): the fast engine's
# vectorised path may ignore it; below, it sizes trade by trade with `floor_units`.
UNIT_FLOOR_MATTERS = float(UNIT_STEP) * 1e12


def floor_units(units: float) -> float:
    """Fractional coins rounded toward zero to `UNIT_STEP` as the venue does (0.0 below one step);
    the float's shortest text is rounded, so a size the step does not cut comes back unchanged."""
    if not units > 0:
        return 0.0
    return float((Decimal(repr(float(units))) / UNIT_STEP).to_integral_value(ROUND_DOWN) * UNIT_STEP)


def maintenance_rate(inst: Instrument | None) -> float:
    """The venue's maintenance margin rate for the run's contract (the instrument default without one)."""
    default: Any = Instrument.__dataclass_fields__["maintenance_rate"].default
    return float(inst.maintenance_rate if inst is not None else default)


def liquidation_prices(entry: Any, side: Any, leverage: float, mm: float) -> np.ndarray:
    """The venue's liquidation price of a position opened at `entry` (isolated margin = entry notional /
    max(L, 1), the `Position.liquidation_price` rule); 0 where it cannot be liquidated (a long at 1x)."""
    per = 1.0 / max(leverage, 1.0)
    entry, side = np.asarray(entry, dtype=np.float64), np.asarray(side, dtype=np.float64)
    liq = np.where(side > 0, entry * (1.0 - per) / (1.0 - mm), entry * (1.0 + per) / (1.0 + mm))
    out: np.ndarray = np.maximum(liq, 0.0)
    return out


def round_units(units: float, inst: Instrument) -> float:
    """Coins -> whole contracts (toward zero, by the instrument's step) -> coins; 0 below the minimum size."""
    qm = float(inst.quanto_multiplier)
    step = float(inst.size_step)
    contracts = math.floor(units / qm / step + 1e-9) * step
    if contracts < float(inst.min_size):
        return 0.0
    return float(Decimal(str(contracts)) * inst.quanto_multiplier)


# Trade records: a numpy structured array (fast to build, easy to turn into JSON rows).
TRADE_DTYPE = np.dtype([
    ("entry_idx", np.int64), ("exit_idx", np.int64), ("side", np.int8), ("entry_price", np.float64),
    ("exit_price", np.float64), ("qty", np.float64), ("pnl", np.float64), ("fees", np.float64),
    ("funding", np.float64), ("reason", "U8"), ("eq_after", np.float64),
])
TRADE_KEYS = ("entry_time", "exit_time", "side", "entry_price", "exit_price", "qty", "pnl", "fees", "funding",
              "exit_reason")  # Result.trade_rows() / trade_columns()
# reason: signal | stop | take | end (still open, marked to the last close) | liquid
# eq_after: equity once the trade is closed (or marked); kept per trade so a long compounding run does
# not lose precision summing pnl (after 20k fee-paying trades equity can be 1e-8 of the start)


@dataclass
class Result:
    """A finished run: per-bar equity and position, the trades, and what produced them."""

    strategy: str
    params: dict[str, Any]
    config: RunConfig
    time_ms: np.ndarray
    close: np.ndarray
    equity: np.ndarray  # at each bar's close
    position: np.ndarray  # int8 side held during each bar (-1, 0, +1)
    trades: np.ndarray  # TRADE_DTYPE
    engine: str = "fast"
    timeframe_ms: int = 0
    symbol: str = ""
    timeframe: str = ""
    rejected: int = 0  # orders the venue refused (event engine)
    notes: list[str] = field(default_factory=list)  # strategy log lines / rejects (first few)

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if self.equity.size else self.config.cash

    def trade_columns(self) -> dict[str, list[Any]]:
        """The trades column by column as Python lists (the keys of `trade_rows`)."""
        tr = self.trades
        t = self.time_ms
        if tr.size == 0:
            return {k: [] for k in TRADE_KEYS}
        cols = (
            t[tr["entry_idx"]].tolist(), t[np.minimum(tr["exit_idx"], t.size - 1)].tolist(),
            np.where(tr["side"] > 0, "long", "short").tolist(), tr["entry_price"].tolist(),
            tr["exit_price"].tolist(), tr["qty"].tolist(), tr["pnl"].tolist(), tr["fees"].tolist(),
            tr["funding"].tolist(), tr["reason"].tolist(),
        )
        return dict(zip(TRADE_KEYS, cols, strict=True))

    def trade_rows(self) -> list[dict[str, Any]]:
        """Trades as JSON-ready dicts (times are epoch ms: entry at the fill bar's open, exit at the exit bar)."""
        if self.trades.size == 0:
            return []
        cols = self.trade_columns()
        return [dict(zip(TRADE_KEYS, row, strict=True)) for row in zip(*cols.values(), strict=True)]
