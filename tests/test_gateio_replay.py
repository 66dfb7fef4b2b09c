"""Replay of every real Gate.io frame in ../shared/data/gateio through the parser and book sync."""

from __future__ import annotations

import json
from pathlib import Path

from cashup_tui.adapters.gateio.book import BookDelta, OrderBook
from cashup_tui.adapters.gateio.parse import ACK, UPDATE, FrameParser, parse_rest_book, to_domain
from cashup_tui.adapters.gateio.replay import replay
from cashup_tui.domain.market import Bar, BookTicker, Ticker, Trade

FUT_FRAMES = "futures_usdt_ws_frames_2023-05-24.jsonl"
FUT_SNAPS = "futures_usdt_rest_order_book_with_id_2023-05-24.jsonl"
SPOT_FRAMES = "spot_ws_frames_2021-04-22.jsonl"
SPOT_SNAPS = "spot_rest_order_book_with_id_2021-04-22.jsonl"


def _in_frames(path: Path) -> list[dict]:
    return [o["msg"] for o in map(json.loads, path.read_text().splitlines()) if o.get("dir") == "in"]


def test_every_futures_frame_parses(gateio_dir: Path) -> None:
    parser = FrameParser()
    kinds: dict[str, int] = {}
    types: set[type] = set()
    for msg in _in_frames(gateio_dir / FUT_FRAMES):
        _, kind, payload = parser.parse(json.dumps(msg).encode())
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == UPDATE:
            assert payload, msg
            types |= {type(to_domain(v)) for v in payload}
    assert parser.parse_errors == 0
    assert kinds == {ACK: 22, UPDATE: 428}
    assert {BookDelta, BookTicker, Bar} <= types


def test_all_ten_futures_books_sync_without_gap_and_never_cross(gateio_dir: Path) -> None:
    rep = replay(gateio_dir / FUT_FRAMES, gateio_dir / FUT_SNAPS)
    assert rep.parse_errors == 0 and rep.error_frames == 0
    assert len(rep.books) == 10
    assert sum(b.deltas for b in rep.books.values()) == 352
    for b in rep.books.values():
        assert b.synced, (b.symbol, rep.notes)
        assert b.gaps == 0 and b.resyncs == 0 and b.crossed == 0 and b.snapshot_behind == 0
        assert b.never_crossed
        assert b.best_bid is not None and b.best_ask is not None and b.best_bid[0] < b.best_ask[0]
        assert b.ticker_mismatches == 0
    # book_ticker shares the book's id space: the equal-id cross-checks all agreed
    assert sum(b.ticker_checks for b in rep.books.values()) >= 2
    assert not any("not in sync" in n or "gap" in n for n in rep.notes)


def test_book_never_crosses_after_any_delta(gateio_dir: Path) -> None:
    """Stronger than the end state: check best bid < best ask after every single delta."""
    snaps = {o["symbol"]: o for o in map(json.loads, (gateio_dir / FUT_SNAPS).read_text().splitlines())}
    books: dict[str, OrderBook] = {}
    parser = FrameParser()
    checked = 0
    for msg in _in_frames(gateio_dir / FUT_FRAMES):
        _, kind, payload = parser.parse(json.dumps(msg).encode())
        if kind != UPDATE or not isinstance(payload[0], BookDelta):
            continue
        d = payload[0]
        if d.symbol not in books:  # snapshot first: every update then straddles or follows it
            book = books[d.symbol] = OrderBook(d.symbol)
            sid, bids, asks, ts = parse_rest_book(json.dumps(snaps[d.symbol]["body"]))
            book.apply_snapshot(sid, bids, asks, ts)
        book = books[d.symbol]
        book.on_delta(d)
        if book.synced:
            bb, ba = book.best_bid(), book.best_ask()
            assert bb and ba and bb[0] < ba[0], d
            checked += 1
    assert checked > 300


def test_dia_usdt_snapshot_as_new_as_the_stream(gateio_dir: Path) -> None:
    """DIA_USDT's snapshot id equals the newest `u` the stream sent: no update is left to apply
    (one arrives just after the snapshot and must be ignored as already covered)."""
    lines = [json.loads(x) for x in (gateio_dir / FUT_FRAMES).read_text().splitlines()]
    snap = next(o for o in map(json.loads, (gateio_dir / FUT_SNAPS).read_text().splitlines()) if o["symbol"] == "DIA_USDT")
    dia_ids = [
        o["msg"]["result"]["u"]
        for o in lines
        if o.get("dir") == "in"
        and o["msg"]["channel"] == "futures.order_book_update"
        and o["msg"]["event"] == "update"
        and o["msg"]["result"]["s"] == "DIA_USDT"
    ]
    assert len(dia_ids) == 2 and max(dia_ids) == snap["body"]["id"]  # the edge case really is in the data
    notes: list[str] = []
    rep = replay(gateio_dir / FUT_FRAMES, gateio_dir / FUT_SNAPS, on_note=notes.append)
    dia = rep.books["DIA_USDT"]
    assert dia.synced and dia.last_id == snap["body"]["id"] and dia.gaps == 0
    assert any(n.startswith("DIA_USDT: synced") and "as new as the stream" in n for n in notes)
    # and the next update must start exactly at id+1: U = id+1 applies, U = id+2 is a gap
    book = OrderBook("DIA_USDT")
    sid, bids, asks, ts = parse_rest_book(json.dumps(snap["body"]))
    book.apply_snapshot(sid, bids, asks, ts)
    assert book.on_delta(BookDelta("DIA_USDT", 0, sid + 2, sid + 3, [], [])) == "gap"
    assert book.snapshot() is None  # never served while out of sync
    # the same snapshot is now behind the buffered stream: it must be fetched again
    assert book.apply_snapshot(sid, bids, asks, ts) == "snapshot_behind" and not book.synced
    book = OrderBook("DIA_USDT")
    book.apply_snapshot(sid, bids, asks, ts)
    assert book.on_delta(BookDelta("DIA_USDT", 0, sid + 1, sid + 1, [], [])) == "applied"


def test_every_spot_frame_parses_and_spot_books_sync(gateio_dir: Path) -> None:
    parser = FrameParser()
    seen: set[type] = set()
    for msg in _in_frames(gateio_dir / SPOT_FRAMES):
        _, kind, payload = parser.parse(json.dumps(msg).encode())
        assert kind in (UPDATE, ACK), msg
        if kind == UPDATE:
            seen |= {type(to_domain(v)) for v in payload}
    assert parser.parse_errors == 0 and parser.frames == 239
    assert {BookDelta, Ticker, Trade, Bar} <= seen
    rep = replay(gateio_dir / SPOT_FRAMES, gateio_dir / SPOT_SNAPS)
    assert len(rep.books) == 10
    assert all(b.synced and b.gaps == 0 and b.never_crossed for b in rep.books.values())


def test_private_frames_keep_money_exact_and_ids_as_text() -> None:
    """No real private capture exists: these follow the documented shapes (§6)."""
    from decimal import Decimal

    from cashup_tui.adapters.gateio.parse import BalanceChange, OrderUpdate
    from cashup_tui.domain.events import PositionChanged
    from cashup_tui.domain.orders import Fill

    p = FrameParser()
    order = (
        b'{"time":1,"time_ms":1000,"channel":"futures.orders","event":"update","result":[{"id":299207900263708423,'
        b'"contract":"BTC_USDT","size":"-1.5","left":"0.5","price":"30000.1","fill_price":"30000.1","status":"open",'
        b'"finish_as":"_update","tif":"gtc","text":"t-abc","fee":0.1000000000000000055511,"update_time":1700000000123,'
        b'"update_id":3}]}'
    )
    _, kind, (o,) = p.parse(order)
    assert kind == UPDATE and isinstance(o, OrderUpdate)
    assert o.venue_order_id == "299207900263708423" and o.client_id == "t-abc"
    assert o.side.value == "sell" and o.size == Decimal("1.5") and o.filled == Decimal("1.0")
    assert o.fee == Decimal("0.1000000000000000055511") and not o.finished
    trade = (
        b'{"time":1,"channel":"futures.usertrades","event":"update","result":[{"id":"12345","order_id":"299207900263708423",'
        b'"contract":"BTC_USDT","create_time_ms":1700000000500,"size":2,"price":"30000.1","role":"maker","text":"web","fee":-0.003}]}'
    )
    _, _, (f,) = p.parse(trade)
    assert isinstance(f, Fill) and f.venue_order_id == "299207900263708423" and f.client_id == ""
    assert f.size == Decimal(2) and f.fee == Decimal("-0.003") and f.liquidity.value == "maker"
    pos = b'{"time":1,"channel":"futures.positions","event":"update","result":[{"contract":"BTC_USDT","size":"-3","entry_price":27000.5,"realised_pnl":-0.12,"time_ms":5}]}'
    _, _, (pc,) = p.parse(pos)
    assert isinstance(pc, PositionChanged) and pc.size == Decimal(-3) and pc.entry_price == Decimal("27000.5")
    bal = b'{"time":1,"channel":"futures.balances","event":"update","result":[{"balance":9.998739899488,"change":-0.000002074,"type":"fee","text":"BTC_USDT:1","currency":"USDT","time_ms":7}]}'
    _, _, (b,) = p.parse(bal)
    assert isinstance(b, BalanceChange) and b.balance == Decimal("9.998739899488") and b.change == Decimal("-0.000002074")
    assert p.parse_errors == 0
    # an order id that went through float is refused, not silently rounded
    _, kind, _ = p.parse(order.replace(b"299207900263708423", b"2.992079002637084e17"))
    assert kind == "bad" and p.parse_errors == 1
