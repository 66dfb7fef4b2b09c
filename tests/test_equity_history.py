"""Equity and PnL history (service/equity.py): the account's equity sampled from the status reads, a
strategy's cumulative net PnL from the journal's fills; and both drawn on the workstation."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.domain.enums import OrderType, Side
from cashup_tui.service.equity import EquitySampler, pnl_series
from cashup_tui.service.views import OrderRequest
from tests.campaign import examples
from tests.tui_support import demo_app, press, wait_text, wait_until, watch_prices

D = Decimal


def test_sampler_keeps_one_point_per_interval_and_ignores_a_clock_stepping_back() -> None:
    s = EquitySampler(every_ms=1_000, capacity=3)
    for ts, eq in ((0, 100), (500, 101), (1_000, 102), (900, 99), (2_500, 103), (4_000, 104)):
        s.sample(ts, D(eq))
    assert s.series() == ([1_000, 2_500, 4_000], [102.0, 103.0, 104.0])  # the oldest dropped at capacity 3


def test_pnl_series_is_net_of_fees_per_strategy_in_time_order() -> None:
    fills = [{"ts_ms": 3, "realised_pnl": D("5"), "fee": D("0.5"), "strategy": "a"},
             {"ts_ms": 1, "realised_pnl": D("0"), "fee": D("0.25"), "strategy": "a"},
             {"ts_ms": 2, "realised_pnl": D("-2"), "fee": D("0.1"), "strategy": ""}]
    assert pnl_series(fills, "a") == ([1, 3], [-0.25, 4.25])
    assert pnl_series(fills) == ([1, 2, 3], [-0.25, -2.35, 2.15])


@settings(max_examples=examples(50))
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(-10**4, 10**4)), max_size=40))
def test_sampled_times_never_go_back(points: list[tuple[int, int]]) -> None:
    s = EquitySampler(every_ms=100)
    for ts, eq in points:
        s.sample(ts, eq)
    times, _ = s.series()
    assert all(b - a >= 100 for a, b in itertools.pairwise(times))


@pytest.mark.timeout(180)
async def test_risk_shows_the_equity_history_and_strategies_the_pnl_history(tmp_path: Path) -> None:
    app, node = demo_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: node.started and bool(watch_prices(app))
                         and all(v not in ("—", "") for v in watch_prices(app).values()), timeout=30, what="prices")
        inst, book = node.instruments["BTC_USDT"], node.cache.book("BTC_USDT")
        await app.node.submit(OrderRequest("BTC_USDT", Side.BUY, D(7), OrderType.LIMIT,
                                           inst.round_price(book.best_ask.price * D("1.003"), "up")))
        await wait_until(pilot, lambda: bool(app.node.positions()), timeout=30, what="the fill")
        await press(pilot, "5")
        await wait_text(pilot, "kill level 0")
        await press(pilot, "end")
        text = await wait_text(pilot, "account equity (USDT), time UTC")
        assert re.search(r"\d{2,3},\d{3}\.\d\d┤", text), text  # the equity axis, with separators
        await press(pilot, "4")
        await wait_text(pilot, "net PnL of every fill")  # no strategy traded: every fill's, titled so
        await wait_text(pilot, "-0.01┤")  # the taker fee of the one fill (7 cont of BTC), after fees
        app.exit(0)
