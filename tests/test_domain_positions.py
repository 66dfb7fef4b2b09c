"""Position/PnL arithmetic: long, short, flip, partial close, fees, funding; equity invariant."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.account import Account
from cashup_tui.domain.enums import Side
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position

D = Decimal
QM = D("0.0001")  # BTC_USDT contract = 0.0001 BTC


def f(n: int, side: Side, size: str, price: str, fee: str = "0") -> Fill:
    return Fill(trade_id=str(n), client_id=ClientOrderId("t-x"), symbol="BTC_USDT", side=side,
                size=D(size), price=D(price), fee=D(fee), ts_ms=n)


def test_long_open_add_and_close() -> None:
    p = Position("BTC_USDT", QM)
    assert p.apply_fill(f(1, Side.BUY, "100", "30000")) == 0
    p.apply_fill(f(2, Side.BUY, "100", "31000"))
    assert p.size == 200 and p.entry_price == D("30500")
    assert p.unrealized_pnl(D("31500")) == D("200") * QM * D("1000")
    r = p.apply_fill(f(3, Side.SELL, "50", "32000"))
    assert r == D("50") * QM * D("1500")
    assert p.size == 150 and p.entry_price == D("30500")
    p.apply_fill(f(4, Side.SELL, "150", "30000"))
    assert p.is_flat and p.entry_price == 0
    assert p.realized_pnl == D("7.5") - D("7.5")


def test_short_and_flip() -> None:
    p = Position("BTC_USDT", QM)
    p.apply_fill(f(1, Side.SELL, "10", "30000"))
    assert p.size == -10 and p.side is Side.SELL
    assert p.unrealized_pnl(D("29000")) == D("1")  # 10 * 0.0001 * 1000
    r = p.apply_fill(f(2, Side.BUY, "25", "29000"))  # close 10, open 15 long
    assert r == D("1")
    assert p.size == 15 and p.entry_price == D("29000")


def test_fees_and_funding() -> None:
    p = Position("BTC_USDT", QM)
    p.apply_fill(f(1, Side.BUY, "100", "30000", fee="0.225"))
    amount = p.apply_funding(D("0.0001"), D("30000"))
    assert amount == D("-0.03")  # longs pay when the rate is positive
    assert p.net_pnl == D("-0.255")
    p2 = Position("BTC_USDT", QM, size=D("-100"), entry_price=D("30000"))
    assert p2.apply_funding(D("0.0001"), D("30000")) == D("0.03")


def test_liquidation_price_long_short() -> None:
    long = Position("BTC_USDT", QM, size=D("100"), entry_price=D("30000"), leverage=D("10"))
    liq = long.liquidation_price(D("0.005"))
    assert liq is not None and D("27000") < liq < D("27200")
    short = Position("BTC_USDT", QM, size=D("-100"), entry_price=D("30000"), leverage=D("10"))
    sliq = short.liquidation_price(D("0.005"))
    assert sliq is not None and D("32800") < sliq < D("33000")


prices = st.decimals(min_value=D("100"), max_value=D("100000"), places=1)
sizes = st.integers(min_value=1, max_value=500)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), sizes, prices, st.integers(0, 3), prices), min_size=1, max_size=40))
def test_equity_equals_cash_plus_unrealized_at_every_step(steps) -> None:
    """Cash moves only by realised PnL, fees and funding; equity = cash + uPnL; and equity
    equals starting cash plus total PnL computed independently from the fill ledger."""
    start = D("10000")
    acct = Account(cash=start)
    pos = Position("BTC_USDT", QM)
    acct.positions["BTC_USDT"] = pos
    ledger_qty = D(0)
    ledger_cost = D(0)  # signed cost of all fills: sum(side * size * price * qm)
    fees = D(0)
    funding = D(0)
    for n, (buy, size, price, fee_bp, mark) in enumerate(steps):
        fee = D(size) * QM * price * D(fee_bp) / D(10000)
        fill = f(n, Side.BUY if buy else Side.SELL, str(size), str(price), str(fee))
        realized = pos.apply_fill(fill)
        acct.cash += realized - fee
        fees += fee
        signed = D(size) if buy else -D(size)
        ledger_qty += signed
        ledger_cost += signed * price * QM
        if n % 3 == 0:
            amt = pos.apply_funding(D("0.0001"), mark)
            acct.cash += amt
            funding += amt
        marks = {"BTC_USDT": mark}
        assert pos.size == ledger_qty
        equity = acct.equity(marks)
        assert equity == acct.cash + pos.unrealized_pnl(mark)
        # independent: mark-to-market of the whole fill ledger
        independent = start + ledger_qty * mark * QM - ledger_cost - fees + funding
        # average-entry division can leave a residue far below any currency unit (28-digit context)
        assert abs(equity - independent) < D("1e-18")


def test_snapshot_copies_every_field_and_is_independent() -> None:
    import dataclasses

    p = Position("BTC_USDT", Decimal("0.0001"), Decimal(3), Decimal("26000.5"), Decimal("1.5"), Decimal("0.2"),
                 Decimal("-0.1"), Decimal(5), 42)
    q = p.snapshot()
    assert q == p and q is not p
    assert [f.name for f in dataclasses.fields(Position)] == ["symbol", "quanto_multiplier", "size", "entry_price",
                                                              "realized_pnl", "fees", "funding", "leverage",
                                                              "updated_ms"]  # a new field must join snapshot()
    q.size = Decimal(0)
    assert p.size == 3
