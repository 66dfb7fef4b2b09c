"""The venue model's leverage and margin-mode changes (Gate `POST /positions/{contract}/leverage`): the
position margin and liquidation price follow the new leverage, cross margin (leverage 0 with a cross
leverage limit) is backed by the available balance, and a change that would leave the position under its
maintenance margin is refused with Gate's label."""

from __future__ import annotations

from decimal import Decimal as D

from cashup_tui.domain.positions import Position
from tests.test_venue import SYM, book, err, venue

MMR = D("0.005")


def _long(v, size: int = 50):
    v.place(SYM, size, 0, tif="ioc")
    return v.position(SYM)


def test_leverage_change_moves_margin_and_liquidation_price_isolated_and_cross() -> None:
    v = venue("300")
    v.set_leverage(SYM, 10)
    p = _long(v)
    coins = p.size * D("0.1")
    # isolated 10x -> 20x: half the margin, a nearer liquidation price, the difference back in available
    avail = v.account().available
    h = v.set_leverage(SYM, 20)
    assert h.margin == coins * p.entry_price / 20 == p.margin / 2
    assert h.liq_price == Position(SYM, D("0.1"), h.size, h.entry_price).liquidation_price(MMR, h.margin)
    assert h.liq_price > p.liq_price
    assert v.account().available == avail + p.margin / 2
    # cross at a 25x limit: the available balance stands behind the position
    q = v.set_leverage(SYM, 0, cross_leverage_limit=25)
    g = q.to_gate()
    assert (g["leverage"], g["cross_leverage_limit"], g["pos_margin_mode"]) == ("0", "25", "cross")
    assert q.leverage == 25 and q.margin == p.size * D("0.1") * p.entry_price / 25
    acc = v.account()
    backing = q.margin + acc.available
    expected = Position(SYM, D("0.1"), q.size, q.entry_price).liquidation_price(MMR, backing)
    assert q.liq_price == expected and expected < p.liq_price  # the account stands behind it
    # Gate's cross rule at that price: margin + available + uPnL = maintenance margin
    assert abs(backing + coins * (expected - q.entry_price) - MMR * coins * expected) < D("1e-18")
    # leverage 0 without a limit keeps the current cross limit
    assert v.set_leverage(SYM, 0).leverage == 25
    # a withdrawal shrinks what backs the position: the next mark sees the nearer liquidation price
    v.deposit(-100, ts_ms=2_000)
    book(v, 3_000)
    assert v.position(SYM).liq_price > expected
    # back to isolated
    r = v.set_leverage(SYM, 10)
    assert r.to_gate()["pos_margin_mode"] == "isolated" and r.margin == p.margin


def test_change_that_would_leave_the_position_under_maintenance_margin_is_refused() -> None:
    v = venue("120")
    v.set_leverage(SYM, 0, cross_leverage_limit=10)
    p = _long(v)  # ~501 notional, ~50 margin at 10x, ~70 available behind it in cross
    book(v, 2_000, bid="90.5", ask="90.6")  # a 10% fall: the cross position lives on the available balance
    assert v.position(SYM).size == p.size
    before = v.position(SYM)
    acc = v.account()
    with err("LIQUIDATE_IMMEDIATELY"):
        v.set_leverage(SYM, 10)  # isolated 10x: margin alone no longer covers the loss
    after = v.position(SYM)
    assert (after.leverage, after.margin, after.liq_price, after.to_gate()["pos_margin_mode"]) == (
        before.leverage, before.margin, before.liq_price, "cross")
    assert v.account().available == acc.available
    with err("LEVERAGE_TOO_HIGH"):
        v.set_leverage(SYM, 0, cross_leverage_limit=101)
    with err("INSUFFICIENT_AVAILABLE"):
        v.set_leverage(SYM, 0, cross_leverage_limit=1)  # 1x needs the whole notional as margin
