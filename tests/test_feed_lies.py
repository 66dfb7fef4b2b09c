"""A feed that lies: non-finite, negative and zero prices are dropped at the parser (counted and
reported, never raised), on both the fast typed path and the lenient path, for every hot channel."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.gateio.book import BookDelta
from cashup_tui.adapters.gateio.frames import BookTickerMsg, TickerMsg, TradeMsg
from cashup_tui.adapters.gateio.parse import BAD, UPDATE, FrameParser, parse_rest_book
from cashup_tui.domain.market import Bar
from tests.campaign import examples

LIES = ["NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf", "1e1000000", "-1", "-0.5", "0"]


def ticker(mark: Any, *, last: Any = "27000.1", index: Any = "27001") -> bytes:
    return json.dumps({"time": 1, "time_ms": 1000, "channel": "futures.tickers", "event": "update", "result": [
        {"contract": "BTC_USDT", "last": last, "mark_price": mark, "index_price": index, "t": 1000}]}).encode()


def test_a_sane_ticker_passes() -> None:
    kind, payload = FrameParser().parse(ticker("27000"))[1:]
    assert kind == UPDATE and payload[0].mark_price == 27000.0


def test_lying_marks_are_dropped_with_a_counted_reason() -> None:
    seen = []
    p = FrameParser(on_reject=seen.append)
    for lie in [*LIES[:-1], -5, "1e999"]:
        for body in (ticker(lie), ticker(lie).replace(b'"1000}', b'"1000, "extra": [1,2]}')):
            ch, kind, payload = p.parse(body)
            assert kind == BAD, (lie, payload)
            assert ch == "futures.tickers"
            assert "mark_price" in payload.reason
    assert p.parse_errors == len(seen) > 0
    # a raw JSON number overflowing to inf (not a string) is refused too
    raw = ticker("X").replace(b'"X"', b"1e400")
    assert p.parse(raw)[1] == BAD


def test_tiny_positive_mark_passes_the_parser_the_price_guard_catches_it() -> None:
    kind, payload = FrameParser().parse(ticker("1e-9"))[1:]
    assert kind == UPDATE and payload[0].mark_price == 1e-9


def test_zero_mark_means_absent_but_last_must_be_there() -> None:
    assert FrameParser().parse(ticker("0"))[1] == UPDATE  # empty mark: last is used
    assert FrameParser().parse(ticker("0", last="0"))[1] == BAD
    assert FrameParser().parse(ticker("", last=""))[1] == BAD


def _frame(channel: str, result: Any) -> bytes:
    return json.dumps({"time": 1, "channel": channel, "event": "update", "result": result}).encode()


def test_trades_books_and_candles_with_lying_numbers_are_dropped() -> None:
    p = FrameParser()
    for lie in ("NaN", "Infinity", "-3", "0"):
        assert p.parse(_frame("futures.trades", [{"id": 1, "create_time": 1, "contract": "BTC_USDT", "size": "1",
                                                  "price": lie}]))[1] == BAD, lie
        assert p.parse(_frame("futures.book_ticker", {"t": 1, "u": 5, "s": "BTC_USDT", "b": lie if lie != "0" else "-1",
                                                      "B": "1", "a": "2", "A": 1}))[1] == BAD, lie
        assert p.parse(_frame("futures.order_book_update", {"t": 1, "s": "BTC_USDT", "U": 1, "u": 2,
                                                            "b": [{"p": lie, "s": "2"}], "a": []}))[1] == BAD, lie
        assert p.parse(_frame("futures.candlesticks", [{"t": 1, "v": "1", "c": lie, "h": "2", "l": "1", "o": "1",
                                                        "n": "1m_BTC_USDT"}]))[1] == BAD, lie
    for size in ("NaN", "Infinity"):
        assert p.parse(_frame("futures.trades", [{"id": 1, "create_time": 1, "contract": "BTC_USDT", "size": size,
                                                  "price": "1"}]))[1] == BAD
        assert p.parse(_frame("futures.order_book_update", {"t": 1, "s": "BTC_USDT", "U": 1, "u": 2,
                                                            "b": [{"p": "1", "s": size}], "a": []}))[1] == BAD
    # a level of size 0 (delete) and an empty book-ticker side stay valid
    assert p.parse(_frame("futures.order_book_update", {"t": 1, "s": "BTC_USDT", "U": 1, "u": 2,
                                                        "b": [{"p": "1", "s": "0"}], "a": []}))[1] == UPDATE
    assert p.parse(_frame("futures.book_ticker", {"t": 1, "u": 5, "s": "BTC_USDT", "b": "", "B": 0, "a": "2",
                                                  "A": 1}))[1] == UPDATE


def test_rest_snapshot_with_a_lying_level_is_refused() -> None:
    ok = json.dumps({"id": 5, "current": 1.5, "bids": [{"p": "1", "s": "2"}], "asks": [{"p": "2", "s": "1"}]})
    assert parse_rest_book(ok)[0] == 5
    for lie in ("NaN", "-1", "Infinity", "0"):
        bad = ok.replace('"p": "1"', f'"p": "{lie}"')
        try:
            parse_rest_book(bad)
        except ValueError as exc:
            assert "bid level" in str(exc)
        else:
            raise AssertionError(lie)


def _numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([*LIES, "1e-9", "99999999", "3e-5", "", " ", "1_0", "١٢"]),
        st.text(max_size=8),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.decimals(allow_nan=True).map(str),
    )


def _ok(v: Any) -> bool:
    def price(x: float, optional: bool = False) -> bool:
        return math.isfinite(x) and (x > 0 or (optional and x == 0))

    if isinstance(v, TickerMsg):
        return all(price(getattr(v, n), True) for n in ("last", "mark_price", "index_price")) and (
            v.last > 0 or v.mark_price > 0)
    if isinstance(v, TradeMsg):
        return price(v.price) and math.isfinite(v.size)
    if isinstance(v, BookTickerMsg):
        return all(price(x, True) for x in (v.bid, v.ask, v.bid_size, v.ask_size))
    if isinstance(v, BookDelta):
        return all(price(lv.p) and math.isfinite(lv.s) and lv.s >= 0 for lv in v.bids + v.asks)
    if isinstance(v, Bar):
        return all(price(x) for x in (v.open, v.high, v.low, v.close))
    return True


def _json(x: Any) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return "1e999" if x > 0 else "-1e999" if x < 0 else "NaN"  # NaN is not JSON: a garbage frame
    return json.dumps(x)


@settings(max_examples=examples(150), deadline=None)
@given(ch=st.sampled_from(["tickers", "trades", "book_ticker", "order_book_update", "candlesticks"]),
       a=_numbers(), b=_numbers(), c=_numbers())
def test_adversarial_numbers_never_get_through(ch: str, a: Any, b: Any, c: Any) -> None:
    bodies = {
        "tickers": '[{"contract":"BTC_USDT","last":%s,"mark_price":%s,"index_price":%s}]',
        "trades": '[{"id":1,"create_time":1,"contract":"BTC_USDT","price":%s,"size":%s,"create_time_ms":%s}]',
        "book_ticker": '{"t":1,"u":5,"s":"BTC_USDT","b":%s,"B":%s,"a":%s,"A":1}',
        "order_book_update": '{"t":1,"s":"BTC_USDT","U":1,"u":2,"b":[{"p":%s,"s":%s}],"a":[{"p":%s,"s":1}]}',
        "candlesticks": '[{"t":1,"n":"1m_BTC_USDT","o":%s,"h":%s,"l":%s,"c":1,"v":1}]',
    }
    result = bodies[ch] % (_json(a), _json(b), _json(c))
    frame = f'{{"time":1,"channel":"futures.{ch}","event":"update","result":{result}}}'
    p = FrameParser()
    _, kind, payload = p.parse(frame.encode())
    if kind == UPDATE:
        assert all(_ok(v) for v in payload), payload
    else:
        assert kind == BAD and p.parse_errors == 1
