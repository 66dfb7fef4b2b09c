"""Round trips from fills: a hand-worked case and, for random fill sequences, the identities that must
hold whatever the order flow (trips add up to the Position's realised PnL and fees; sizes balance)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import Side
from cashup_tui.domain.orders import Fill
from cashup_tui.domain.positions import Position
from cashup_tui.domain.round_trips import round_trips
from tests.campaign import examples

D = Decimal
M = {"BTC_USDT": D("0.0001")}


def fill(i: int, side: Side, size: str, price: str, fee: str = "0.1") -> Fill:
    return Fill(f"T{i}", f"t-c{i}", "BTC_USDT", side, D(size), D(price), D(fee), ts_ms=1000 * i)  # type: ignore[arg-type]


def test_open_add_flip_close() -> None:
    fills = [fill(1, Side.BUY, "2", "100"), fill(2, Side.BUY, "2", "110"),  # long 4 @ 105
             fill(3, Side.SELL, "6", "120", "0.3"),  # closes 4 (+6.0 gross x 0.0001... in coins), opens short 2
             fill(4, Side.BUY, "2", "115")]  # closes the short
    closed, still_open = round_trips(fills, M)
    assert still_open == []
    long_, short = closed
    assert (long_.side, long_.size, long_.entry_price, long_.exit_price) == ("long", D(4), D(105), D(120))
    assert long_.realised_pnl == D(4) * D("0.0001") * 15 and long_.fees == D("0.1") + D("0.1") + D("0.2")
    assert (long_.open_ms, long_.close_ms, long_.duration_ms, long_.fills) == (1000, 3000, 2000, 3)
    assert (short.side, short.size, short.entry_price, short.exit_price) == ("short", D(2), D(120), D(115))
    assert short.realised_pnl == D(2) * D("0.0001") * 5 and short.fees == D("0.1") + D("0.1")
    assert short.open_ms == 3000 and short.close_ms == 4000


sides = st.sampled_from([Side.BUY, Side.SELL])
fills_st = st.lists(st.tuples(sides, st.integers(1, 50), st.integers(90, 110), st.integers(0, 9)), max_size=40)


@settings(max_examples=examples(200))
@given(fills_st)
def test_trips_add_up_to_the_position(rows: list[tuple[Side, int, int, int]]) -> None:
    fills = [fill(i, s, str(q), str(p), f"0.{fee}") for i, (s, q, p, fee) in enumerate(rows, 1)]
    closed, still_open = round_trips(fills, M)
    pos = Position("BTC_USDT", M["BTC_USDT"])
    for f in fills:
        pos.apply_fill(f)
    trips = closed + still_open
    # equal up to Decimal's 28 digits (an average entry is a division; sums associate differently)
    assert abs(sum((t.realised_pnl for t in trips), D(0)) - pos.realized_pnl) < D("1e-20")
    assert abs(sum((t.fees for t in trips), D(0)) - pos.fees) < D("1e-20")
    assert len(still_open) == (0 if pos.size == 0 else 1)
    assert all(t.close_ms is not None and t.close_ms >= t.open_ms for t in closed)
    assert all(t.size > 0 for t in trips)
