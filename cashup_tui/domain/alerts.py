"""User alert rules: price crosses, percent move, funding rate, liquidation distance.

Pure and clock-free (the caller passes timestamps), so the same rules run on live ticks,
in a backtest replay and in tests. Each rule fires once per crossing and re-arms only
after the condition clears (with hysteresis for liquidation distance), so a price hovering
around a level does not produce a notification storm.

Text form (for the CLI/TUI):
    BTC_USDT price above 70000      BTC_USDT price below 60000      BTC_USDT price crosses 65000
    BTC_USDT move 5% 1h             BTC_USDT funding above 0.01%    BTC_USDT funding abs 0.05%
    BTC_USDT liq below 10%
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.instruments import to_decimal
from cashup_tui.domain.timeframes import timeframe_ms

HUNDRED = Decimal(100)


class AlertKind(StrEnum):
    PRICE_CROSS = "price"
    PERCENT_MOVE = "move"
    FUNDING_RATE = "funding"
    LIQUIDATION_DISTANCE = "liq"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """`threshold`: a price (price), a percent (move, liq) or a funding rate as a fraction (funding)."""

    id: str
    symbol: str
    kind: AlertKind
    threshold: Decimal
    direction: str = "any"  # price: above|below|any; funding: above|below|abs; liq: below
    window_ms: int = 0  # move only

    def __post_init__(self) -> None:
        if not self.threshold.is_finite():
            raise ValidationError(f"alert {self.id}: threshold must be a finite number", hint="e.g. 70000 or 5%")
        if self.kind is not AlertKind.FUNDING_RATE and self.threshold <= 0:
            raise ValidationError(
                f"alert {self.id}: threshold must be > 0, got {self.threshold}", hint="use a positive price or percent"
            )
        if self.kind is AlertKind.PERCENT_MOVE and self.window_ms <= 0:
            raise ValidationError(f"alert {self.id}: a percent move needs a window", hint="e.g. 'BTC_USDT move 5% 1h'")

    def describe(self) -> str:
        if self.kind is AlertKind.PRICE_CROSS:
            return f"{self.symbol} price {self.direction} {self.threshold}"
        if self.kind is AlertKind.PERCENT_MOVE:
            return f"{self.symbol} move {self.threshold}% in {self.window_ms // 1000}s"
        if self.kind is AlertKind.FUNDING_RATE:
            return f"{self.symbol} funding {self.direction} {self.threshold * HUNDRED}%"
        return f"{self.symbol} liquidation distance below {self.threshold}%"


@dataclass(frozen=True, slots=True)
class AlertFired:
    rule: AlertRule
    ts_ms: int
    value: Decimal  # the observed price / move % / funding rate / distance %
    message: str


@dataclass(slots=True)
class _State:
    last: Decimal | None = None
    armed: bool = True
    window: deque[tuple[int, Decimal]] = field(default_factory=deque)


class AlertEngine:
    """Holds rules and their state; `on_*` feed observations and return the alerts that fired."""

    def __init__(self, rules: list[AlertRule] | tuple[AlertRule, ...] = ()) -> None:
        self._rules: dict[str, AlertRule] = {}
        self._state: dict[str, _State] = {}
        self._by_symbol: dict[tuple[str, AlertKind], list[str]] = {}
        for r in rules:
            self.add(r)

    @property
    def rules(self) -> list[AlertRule]:
        return list(self._rules.values())

    def add(self, rule: AlertRule) -> None:
        if rule.id in self._rules:
            raise ValidationError(f"alert id {rule.id!r} already exists", hint="remove it first or pick another id")
        self._rules[rule.id] = rule
        self._state[rule.id] = _State()
        self._by_symbol.setdefault((rule.symbol, rule.kind), []).append(rule.id)

    def remove(self, rule_id: str) -> bool:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            return False
        del self._state[rule_id]
        self._by_symbol[(rule.symbol, rule.kind)].remove(rule_id)
        return True

    def _ids(self, symbol: str, kind: AlertKind) -> list[str]:
        return self._by_symbol.get((symbol, kind), [])

    def on_price(self, symbol: str, price: Decimal, ts_ms: int) -> list[AlertFired]:
        out: list[AlertFired] = []
        for rid in self._ids(symbol, AlertKind.PRICE_CROSS):
            rule, st = self._rules[rid], self._state[rid]
            last, st.last = st.last, price
            if last is None:
                continue
            level = rule.threshold
            up = last < level <= price
            down = last > level >= price
            if (up and rule.direction in ("above", "any")) or (down and rule.direction in ("below", "any")):
                word = "rose above" if up else "fell below"
                out.append(AlertFired(rule, ts_ms, price, f"{symbol} {word} {level} (now {price})"))
        for rid in self._ids(symbol, AlertKind.PERCENT_MOVE):
            rule, st = self._rules[rid], self._state[rid]
            w = st.window
            w.append((ts_ms, price))
            while w and w[0][0] < ts_ms - rule.window_ms:
                w.popleft()
            base = w[0][1]
            if base <= 0:
                continue
            move = (price / base - 1) * HUNDRED
            if abs(move) >= rule.threshold:
                secs = rule.window_ms // 1000
                out.append(
                    AlertFired(rule, ts_ms, move, f"{symbol} moved {move:+.2f}% within {secs}s ({base} -> {price})")
                )
                w.clear()  # the next alert needs a fresh move of the same size
                w.append((ts_ms, price))
        return out

    def on_funding(self, symbol: str, rate: Decimal, ts_ms: int) -> list[AlertFired]:
        out: list[AlertFired] = []
        for rid in self._ids(symbol, AlertKind.FUNDING_RATE):
            rule, st = self._rules[rid], self._state[rid]
            t = rule.threshold
            hit = {"above": rate >= t, "below": rate <= t, "abs": abs(rate) >= abs(t)}.get(rule.direction, False)
            if hit and st.armed:
                st.armed = False
                out.append(AlertFired(rule, ts_ms, rate, f"{symbol} funding rate {rate * HUNDRED:.4f}% ({rule.describe()})"))
            elif not hit:
                st.armed = True
        return out

    def on_position(self, symbol: str, mark: Decimal, liq_price: Decimal | None, ts_ms: int) -> list[AlertFired]:
        """Liquidation distance = |mark - liq| / mark in percent; re-arms above 1.25x the threshold."""
        out: list[AlertFired] = []
        for rid in self._ids(symbol, AlertKind.LIQUIDATION_DISTANCE):
            rule, st = self._rules[rid], self._state[rid]
            if liq_price is None or mark <= 0:
                st.armed = True  # flat position: the next one starts armed
                continue
            dist = abs(mark - liq_price) / mark * HUNDRED
            if dist <= rule.threshold and st.armed:
                st.armed = False
                out.append(
                    AlertFired(rule, ts_ms, dist, f"{symbol} is {dist:.2f}% from liquidation (mark {mark}, liq {liq_price})")
                )
            elif dist > rule.threshold * Decimal("1.25"):
                st.armed = True
        return out


_GRAMMAR = (
    "write e.g. 'BTC_USDT price above 70000', 'BTC_USDT price crosses 65000', 'BTC_USDT move 5% 1h', "
    "'BTC_USDT funding above 0.01%', 'BTC_USDT funding abs 0.05%' or 'BTC_USDT liq below 10%'"
)
_OPS = {">": "above", ">=": "above", "above": "above", "<": "below", "<=": "below", "below": "below",
        "crosses": "any", "cross": "any", "abs": "abs"}


def _num(text: str, what: str, src: str) -> Decimal:
    try:
        return to_decimal(text, what)
    except ValidationError as exc:
        raise ValidationError(f"alert {src!r}: {exc.args[0]}", hint=_GRAMMAR) from None


def parse_rule(text: str, rule_id: str | None = None) -> AlertRule:
    """Parse the text form (see module doc); raises ValidationError showing the grammar."""
    src = " ".join(text.split())
    parts = src.split(" ")
    if len(parts) < 3:
        raise ValidationError(f"alert {src!r}: too short", hint=_GRAMMAR)
    symbol, kind_word = parts[0].upper(), parts[1].lower()
    if not re.fullmatch(r"[A-Z0-9]+_[A-Z0-9]+", symbol):
        raise ValidationError(f"alert {src!r}: {parts[0]!r} is not a contract like BTC_USDT", hint=_GRAMMAR)
    rid = rule_id or re.sub(r"[^A-Za-z0-9_.%-]+", "-", src)
    try:
        kind = AlertKind(kind_word)
    except ValueError:
        raise ValidationError(f"alert {src!r}: unknown kind {kind_word!r} (price, move, funding, liq)", hint=_GRAMMAR) from None
    if kind is AlertKind.PERCENT_MOVE:
        if len(parts) != 4 or not parts[2].endswith("%"):
            raise ValidationError(f"alert {src!r}: a move needs a percent and a window", hint=_GRAMMAR)
        return AlertRule(rid, symbol, kind, _num(parts[2][:-1], "percent", src), window_ms=timeframe_ms(parts[3]))
    if len(parts) != 4:
        raise ValidationError(f"alert {src!r}: expected SYMBOL KIND OP VALUE", hint=_GRAMMAR)
    direction = _OPS.get(parts[2].lower())
    allowed = {AlertKind.PRICE_CROSS: ("above", "below", "any"), AlertKind.FUNDING_RATE: ("above", "below", "abs"),
               AlertKind.LIQUIDATION_DISTANCE: ("below",)}[kind]
    if direction not in allowed:
        raise ValidationError(f"alert {src!r}: {parts[2]!r} does not apply to {kind.value}", hint=_GRAMMAR)
    raw = parts[3]
    if kind is AlertKind.PRICE_CROSS:
        return AlertRule(rid, symbol, kind, _num(raw, "price", src), direction=direction)
    if not raw.endswith("%"):
        raise ValidationError(f"alert {src!r}: write the {kind.value} threshold as a percent, e.g. 10%", hint=_GRAMMAR)
    value = _num(raw[:-1], "percent", src)
    if kind is AlertKind.FUNDING_RATE:
        return AlertRule(rid, symbol, kind, value / HUNDRED, direction=direction)
    return AlertRule(rid, symbol, kind, value, direction="below")
