"""Hypothesis fuzzing of the frame parser: garbage, truncated JSON, wrong types and huge
numbers are counted and reported (FrameRejected), never raised."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.gateio.book import BookDelta, Level, OrderBook
from cashup_tui.adapters.gateio.parse import (
    ACK,
    BAD,
    ERROR,
    IGNORED,
    PONG,
    UPDATE,
    FrameParser,
    parse_rest_book,
)
from tests.conftest import GATEIO_DIR

KINDS = {UPDATE, ACK, ERROR, PONG, BAD, IGNORED}

SYNTHETIC = [
    {"time": 1, "time_ms": 1000, "channel": "futures.tickers", "event": "update", "result": [
        {"contract": "BTC_USDT", "last": "27000.1", "mark_price": "27000", "index_price": "27001",
         "change_percentage": "1.2", "funding_rate": "0.0001", "total_size": "1234.5", "volume_24h_quote": "9",
         "high_24h": "27100", "low_24h": "26900", "t": 1000}]},
    {"time": 1, "channel": "futures.trades", "event": "update", "result": [
        {"id": 1, "create_time": 1, "create_time_ms": 1000, "contract": "BTC_USDT", "size": "-3", "price": "27000.1"}]},
    {"time": 1, "channel": "futures.book_ticker", "event": "update", "result": {
        "t": 1, "u": 5, "s": "BTC_USDT", "b": "1.5", "B": "10", "a": "1.6", "A": 3}},
    {"time": 1, "channel": "futures.order_book_update", "event": "update", "result": {
        "t": 1, "s": "BTC_USDT", "U": 10, "u": 12, "b": [{"p": "1.5", "s": "2"}], "a": [{"p": "1.6", "s": 0}]}},
    {"time": 1, "channel": "futures.candlesticks", "event": "update", "result": [
        {"t": 1684930140, "v": "10", "c": "0.29", "h": "0.3", "l": "0.28", "o": "0.29", "n": "1m_DIA_USDT"}]},
    {"time": 1, "channel": "futures.orders", "event": "update", "result": [
        {"id": 299207900263708423, "contract": "BTC_USDT", "size": "-2", "left": "1", "price": "27000",
         "status": "open", "text": "t-a", "fee": 0.01}]},
    {"time": 1, "channel": "futures.usertrades", "event": "update", "result": [
        {"id": "7", "order_id": "299207900263708423", "contract": "BTC_USDT", "size": "1", "price": "27000",
         "role": "taker", "fee": 0.02, "create_time_ms": 5}]},
    {"time": 1, "channel": "futures.positions", "event": "update", "result": [
        {"contract": "BTC_USDT", "size": "3", "entry_price": 27000.5, "realised_pnl": 0.1, "time_ms": 5}]},
    {"time": 1, "channel": "futures.balances", "event": "update", "result": [
        {"balance": 100.5, "change": -0.1, "type": "fee", "currency": "USDT", "time_ms": 5}]},
    {"time": 1, "channel": "futures.system", "event": "update", "result": {"type": "upgrade", "msg": "x"}},
    {"time": 1, "channel": "futures.pong", "event": "", "result": None},
    {"time": 1, "id": 3, "channel": "futures.orders", "event": "subscribe",
     "error": {"code": 4, "message": "INVALID_KEY"}, "result": {"status": "fail"}},
]


def _real_frames() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in ("futures_usdt_ws_frames_2023-05-24.jsonl", "spot_ws_frames_2021-04-22.jsonl"):
        p = GATEIO_DIR / name
        if p.exists():
            seen: set[str] = set()
            for line in p.read_text().splitlines():
                o = json.loads(line)
                if o.get("dir") == "in" and o["msg"].get("channel") not in seen:  # one of each channel/event
                    seen.add(o["msg"]["channel"])
                    out.append(o["msg"])
    return out


FRAMES = SYNTHETIC + _real_frames()
json_scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "", "-0", "0x10", "1_000"]),
)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=8)
HUGE = st.sampled_from(["1" + "0" * 400, "1e400", "-1e400", "9" * 30, "1e-400", '"1e400"', '"NaN"', '"inf"', "18446744073709551616"])


class Counter:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, e: Any) -> None:
        self.events.append(e)


def _check(parser: FrameParser, rejected: Counter, data: bytes | str) -> tuple[str, str, Any]:
    before = parser.parse_errors
    ch, kind, payload = parser.parse(data)
    assert kind in KINDS
    if kind == BAD:
        assert parser.parse_errors == before + 1 and rejected.events[-1] is payload
        assert payload.reason and isinstance(payload.sample, str)
    else:
        assert parser.parse_errors == before
    if kind == UPDATE:
        assert isinstance(payload, list)
        for v in payload:  # whatever got through feeds a book without raising
            if isinstance(v, BookDelta):
                OrderBook(v.symbol).on_delta(v)
    assert len(rejected.events) == parser.parse_errors
    return ch, kind, payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_garbage_bytes_never_raise(data: bytes) -> None:
    rejected = Counter()
    _check(FrameParser(rejected), rejected, data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_garbage_text_never_raises(data: str) -> None:
    rejected = Counter()
    _check(FrameParser(rejected), rejected, data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FRAMES), st.data())
def test_truncated_frames_are_counted(frame: dict[str, Any], data: st.DataObject) -> None:
    raw = json.dumps(frame).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    rejected = Counter()
    parser = FrameParser(rejected)
    _, kind, _ = _check(parser, rejected, raw[:cut])
    assert kind == BAD  # a strict prefix of a JSON object is never a complete JSON object


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in obj.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(obj)]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FRAMES), st.data(), json_values)
def test_wrong_types_anywhere_are_counted_never_raised(frame: dict[str, Any], data: st.DataObject, value: Any) -> None:
    path = data.draw(st.sampled_from(_paths(frame)))
    mutated = _replace(frame, path, value)
    rejected = Counter()
    _check(FrameParser(rejected), rejected, json.dumps(mutated).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FRAMES), st.data(), HUGE)
def test_huge_numbers_are_counted_never_raised(frame: dict[str, Any], data: st.DataObject, huge: str) -> None:
    """Splice raw number text (beyond float/int64 range, NaN/inf strings) into any field."""
    path = data.draw(st.sampled_from(_paths(frame)))
    marker = "__HUGE_MARKER__"
    text = json.dumps(_replace(frame, path, marker)).replace(f'"{marker}"', huge)
    rejected = Counter()
    _, kind, payload = _check(FrameParser(rejected), rejected, text.encode())
    if kind == UPDATE:  # money on private channels must stay finite and exact
        from decimal import Decimal

        for v in payload:
            for x in getattr(v, "__slots__", ()):
                val = getattr(v, x)
                if isinstance(val, Decimal):
                    assert val.is_finite()


def test_counts_across_a_mixed_stream() -> None:
    rejected = Counter()
    p = FrameParser(rejected)
    good = [json.dumps(f).encode() for f in SYNTHETIC]
    bad = [b"", b"{", b"[1,2]", b"null", b'{"channel":"futures.tickers","event":"update","result":[{"contract":1}]}',
           b'{"channel":"futures.order_book_update","event":"update","result":{"s":"X","U":"a","u":1}}', b"\xff\xfe"]
    kinds = [p.parse(x)[1] for x in good + bad]
    assert kinds[: len(good)].count(BAD) == 0
    assert kinds[len(good):] == [BAD] * len(bad)
    assert p.parse_errors == len(bad) == len(rejected.events) and p.frames == len(good) + len(bad)
    assert "ValidationError" in p.last_error or "DecodeError" in p.last_error


def test_book_rejects_non_finite_levels_instead_of_corrupting() -> None:
    book = OrderBook("X")
    book.apply_snapshot(1, [Level(1.0, 1.0)], [Level(2.0, 1.0)])
    for bad in ((math.inf, 1.0), (1.5, math.nan), (1.5, -3.0), (-1.0, 2.0)):
        result = book.on_delta(BookDelta("X", 0, 2, 2, [Level(*bad)], []))
        assert result == "rejected" and book.snapshot() is None
        book.apply_snapshot(1, [Level(1.0, 1.0)], [Level(2.0, 1.0)])


def test_rest_book_parses_futures_and_spot_layouts(gateio_dir: Path) -> None:
    for name in ("futures_usdt_rest_order_book_with_id_2023-05-24.jsonl", "spot_rest_order_book_with_id_2021-04-22.jsonl"):
        for line in (gateio_dir / name).read_text().splitlines():
            sid, bids, asks, _ = parse_rest_book(json.dumps(json.loads(line)["body"]))
            assert sid > 0 and bids and asks and bids[0].p < asks[0].p


def test_fast_and_lenient_paths_give_identical_values() -> None:
    """The one-pass typed decode and the lenient path must agree on every frame (real and synthetic)."""
    checked = 0
    for frame in FRAMES:
        compact = json.dumps(frame, separators=(",", ":"))
        spaced = json.dumps(frame)  # '"event": "update"' with a space: the peek misses, lenient path runs
        a = FrameParser().parse(compact.encode())
        b = FrameParser().parse(compact)
        c = FrameParser().parse(spaced.encode())
        assert a == b == c, (frame, a, c)
        checked += a[1] == UPDATE
    assert checked >= 10


def test_fast_path_is_not_fooled_by_a_nested_channel_key() -> None:
    frame = {"event": "update", "result": [{"channel": "futures.tickers", "contract": "BTC_USDT", "size": "1",
             "price": "2", "id": 1, "create_time_ms": 5}], "channel": "futures.trades", "time": 1}
    ch, kind, (t,) = FrameParser().parse(json.dumps(frame, separators=(",", ":")).encode())
    assert ch == "futures.trades" and kind == UPDATE and t.size == 1.0
