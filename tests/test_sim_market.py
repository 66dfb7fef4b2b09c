"""The seeded synthetic market: determinism, book invariants, trades walking the book, candles, funding,
contract specs, and the U/u id chain that the documented sync recipe relies on."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cashup_tui.adapters.sim.contracts import REAL_SPECS, build_contracts, contract_spec, parse_symbols
from cashup_tui.adapters.sim.market import SyntheticMarket
from cashup_tui.adapters.sim.market_values import INTERVALS, PriceFormat
from cashup_tui.domain.errors import ValidationError

T0 = 1_700_000_000_000


def _run(seed: int, steps: int, symbols: tuple[str, ...] = ("BTC_USDT", "ETH_USDT")) -> list:
    m = SyntheticMarket(list(symbols), seed=seed, start_ms=T0)
    out = []
    for i in range(steps):
        for r in m.step(T0 + (i + 1) * 100):
            sm = m.symbols[r.symbol]
            out.append((r.symbol, r.first_id, r.last_id, [(t.id, t.size, t.price) for t in r.trades], sm.bid_view[:5], sm.ask_view[:5]))
    return out


def test_same_seed_same_sequence_and_different_seed_differs() -> None:
    a = _run(7, 300)
    b = _run(7, 300)
    c = _run(8, 300)
    assert a == b
    assert a != c


def test_history_is_deterministic_too() -> None:
    m1 = SyntheticMarket(["BTC_USDT"], seed=3, start_ms=T0)
    m2 = SyntheticMarket(["BTC_USDT"], seed=3, start_ms=T0)
    assert m1.candles("BTC_USDT", "1m", limit=500) == m2.candles("BTC_USDT", "1m", limit=500)
    assert m1.funding_history("BTC_USDT") == m2.funding_history("BTC_USDT")


def test_book_never_crossed_deep_enough_and_ids_chain() -> None:
    m = SyntheticMarket(["BTC_USDT", "SOL_USDT", "NEWCOIN_USDT"], seed=11, start_ms=T0)
    last = {s: m.symbols[s].view_id for s in m.symbols}
    for i in range(3000):
        for r in m.step(T0 + (i + 1) * 100):
            sm = m.symbols[r.symbol]
            assert r.first_id == last[r.symbol] + 1 and r.last_id >= r.first_id
            last[r.symbol] = r.last_id
            assert sm.bid_view[0][0] < sm.ask_view[0][0], f"crossed at step {i}"
            assert len(sm.bid_view) >= 20 and len(sm.ask_view) >= 20
            assert all(s > 0 for _, s in sm.bid_view) and all(s > 0 for _, s in sm.ask_view)


def test_trades_walk_the_book_and_build_the_candles() -> None:
    m = SyntheticMarket(["BTC_USDT"], seed=5, start_ms=T0)
    sm = m.symbols["BTC_USDT"]
    multi_level_sweeps = 0
    for i in range(2000):
        before_asks = dict(sm.asks)
        before_bids = dict(sm.bids)
        (r,) = m.step(T0 + (i + 1) * 100)
        prices_by_side: dict[int, set[int]] = {1: set(), -1: set()}
        for t in r.trades:
            book = before_asks if t.size > 0 else before_bids
            assert t.price in book, "every print happens at a price that was resting on the book"
            prices_by_side[1 if t.size > 0 else -1].add(t.price)
        multi_level_sweeps += any(len(v) > 1 for v in prices_by_side.values())
    assert multi_level_sweeps > 10, "takers should walk several levels in some steps"
    # bars agree with the trades they were built from: last closed 1m bars bracket their trades
    bars = {b[0]: b for b in [*sm.bars["1m"], tuple(sm.cur["1m"])]}
    checked = 0
    for t in sm.trades:
        bucket = t.ts_ms // 1000 - (t.ts_ms // 1000) % 60
        if bucket in bars:
            h, lo = bars[bucket][2], bars[bucket][3]
            assert lo <= t.price <= h
            checked += 1
    assert checked > 0


def test_candles_rest_shape_limits_and_intervals() -> None:
    m = SyntheticMarket(["ETH_USDT"], seed=1, start_ms=T0)
    for iv in INTERVALS:
        rows = m.candles("ETH_USDT", iv, limit=500)
        assert len(rows) == 500, iv
        ts = [r["t"] for r in rows]
        assert ts == sorted(ts) and len(set(ts)) == len(ts)
        for r in rows:
            assert set(r) == {"t", "o", "h", "l", "c", "v", "sum"}
            assert Decimal(r["l"]) <= min(Decimal(r["o"]), Decimal(r["c"])) <= max(Decimal(r["o"]), Decimal(r["c"])) <= Decimal(r["h"])
    # history for the chart: the last 500 1m candles end at the start time
    rows = m.candles("ETH_USDT", "1m", limit=500)
    assert rows[-1]["t"] == (T0 // 1000) - (T0 // 1000) % 60
    frm = rows[10]["t"]
    assert [r["t"] for r in m.candles("ETH_USDT", "1m", from_s=frm, to_s=frm + 120)] == [frm, frm + 60, frm + 120]
    with pytest.raises(ValidationError):
        m.candles("ETH_USDT", "2m")


def test_ticker_24h_stats_and_funding_settlement() -> None:
    m = SyntheticMarket(["BTC_USDT"], seed=2, start_ms=T0)
    sm = m.symbols["BTC_USDT"]
    t = m.tickers()[0]
    for key in ("last", "mark_price", "index_price", "funding_rate", "high_24h", "low_24h", "volume_24h", "change_percentage"):
        assert key in t
    assert Decimal(t["low_24h"]) <= Decimal(t["last"]) <= Decimal(t["high_24h"])
    assert int(t["volume_24h"]) > 0
    # jump to the next funding time: one settlement, appended to the history
    before = len(m.funding_history("BTC_USDT", 1000))
    (r,) = m.step(sm.next_funding_s * 1000)
    assert r.funding_rate is not None
    hist = m.funding_history("BTC_USDT", 1000)
    assert len(hist) == before + 1 and Decimal(hist[0]["r"]) == r.funding_rate


def test_volume_bursts_and_regimes_happen() -> None:
    m = SyntheticMarket(["BTC_USDT"], seed=9, start_ms=T0)
    sm = m.symbols["BTC_USDT"]
    regimes, bursts = set(), 0
    for i in range(6000):
        m.step(T0 + (i + 1) * 100)
        regimes.add(sm.regime)
        bursts += sm.burst > 0
    assert len(regimes) >= 3
    assert bursts > 0


def _apply(book: dict[str, dict[str, int]], upd: dict) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for lvl in upd[key]:
            if int(lvl["s"]) == 0:
                book[side].pop(lvl["p"], None)
            else:
                book[side][lvl["p"]] = int(lvl["s"])


@pytest.mark.parametrize("depth", [20, 50, 100])
def test_snapshot_plus_updates_reproduce_the_book(depth: int) -> None:
    """The documented recipe (REST with_id snapshot, then U/u deltas) rebuilds exactly the venue's book."""
    m = SyntheticMarket(["BTC_USDT"], seed=4, start_ms=T0)
    sm = m.symbols["BTC_USDT"]
    buffered = []
    for i in range(5):
        (r,) = m.step(T0 + (i + 1) * 100)
        buffered.append(sm.book_update(r.first_id, depth, False))
    snap = sm.order_book(depth)
    book = {"bids": {x["p"]: x["s"] for x in snap["bids"]}, "asks": {x["p"]: x["s"] for x in snap["asks"]}}
    local = snap["id"]
    for i in range(5, 400):
        (r,) = m.step(T0 + (i + 1) * 100)
        upd = sm.book_update(r.first_id, depth, False)
        assert upd["U"] == local + 1
        _apply(book, upd)
        local = upd["u"]
        expect = sm.order_book(depth)
        assert local == expect["id"]
        assert book["bids"] == {x["p"]: x["s"] for x in expect["bids"]}
        assert book["asks"] == {x["p"]: x["s"] for x in expect["asks"]}
    assert all(u["u"] < snap["id"] + 1 for u in buffered)  # the buffer is older than the snapshot


def test_size_churn_keeps_book_and_ids_consistent() -> None:
    m = SyntheticMarket(["BTC_USDT"], seed=4, start_ms=T0)
    sm = m.symbols["BTC_USDT"]
    snap = sm.order_book(20)
    book = {"bids": {x["p"]: x["s"] for x in snap["bids"]}, "asks": {x["p"]: x["s"] for x in snap["asks"]}}
    local = snap["id"]
    for u in sm.size_churn(500):
        res = sm.churn_result(u, 20, False)
        assert res["U"] == local + 1
        _apply(book, res)
        local = res["u"]
    assert local == sm.order_book(20)["id"]
    assert book["bids"] == {x["p"]: x["s"] for x in sm.order_book(20)["bids"]}
    (r,) = m.step(T0 + 100)  # normal steps continue the same chain
    assert r.first_id == local + 1


def test_decimal_sizes_are_strings() -> None:
    m = SyntheticMarket(["BTC_USDT"], seed=4, start_ms=T0)
    assert isinstance(m.order_book("BTC_USDT", 5, decimal_sizes=True)["bids"][0]["s"], str)
    assert isinstance(m.order_book("BTC_USDT", 5)["bids"][0]["s"], int)
    with pytest.raises(ValidationError):
        m.order_book("NOPE_USDT")


def test_price_format_is_exact() -> None:
    f = PriceFormat(Decimal("0.1"))
    assert f(266961) == "26696.1" and f(266960) == "26696" and f.to_ticks("26696.1") == 266961
    g = PriceFormat(Decimal("0.05"))
    assert g(36297) == "1814.85" and g(36296) == "1814.8"
    h = PriceFormat(Decimal("0.000001"))
    assert h(71033) == "0.071033"


def test_contract_specs_match_the_real_capture(gateio_dir) -> None:
    body = {c["name"]: c for c in json.loads((gateio_dir / "futures_usdt_rest_contracts_2023-05-24.json").read_text())["body"]}
    for name in REAL_SPECS:
        ours, real = contract_spec(name), body[name]
        for key in ("quanto_multiplier", "order_price_round", "mark_price_round", "leverage_max", "maintenance_rate",
                    "maker_fee_rate", "taker_fee_rate", "risk_limit_base", "last_price", "order_size_min",
                    "order_size_max", "funding_interval", "orders_limit", "type"):  # fmt: skip
            assert ours[key] == real[key], (name, key)


def test_synthesised_contracts_are_sane() -> None:
    instruments, contracts = build_contracts(["NEWCOIN_USDT", "BTC_USDT"])
    inst = instruments["NEWCOIN_USDT"]
    price = Decimal(contracts["NEWCOIN_USDT"]["last_price"])
    assert inst.price_tick <= price * Decimal("0.0002")
    assert Decimal(1) <= price * inst.quanto_multiplier <= Decimal(100)
    assert instruments["BTC_USDT"].quanto_multiplier == Decimal("0.0001")
    assert parse_symbols(" btc_usdt, eth_usdt ") == ["BTC_USDT", "ETH_USDT"]
    for bad in ("BTC", "BTC_USD", "", "B-TC_USDT"):
        with pytest.raises(ValidationError):
            parse_symbols(bad) if bad else parse_symbols(",")
    with pytest.raises(ValidationError):
        build_contracts(["BTC_USDT", "BTC_USDT"])
