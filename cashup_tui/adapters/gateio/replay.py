"""Replay a recorded Gate.io websocket capture through the real parser and book sync.

Why: recorded captures are the only real Gate frames we have; replaying
them (frames and REST snapshots merged by receive time, exactly as they happened) is how we
prove the parser and the book sync recipe on real ids, and it backs `cashup feed replay`.

Capture layout (JSONL): {"recv_ts": float, "dir": "open"|"out"|"in", "url"?, "msg"?: {...}};
snapshots (JSONL): {"recv_ts", "url", "symbol", "body": {"id", "asks", "bids", ...}}.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from cashup_tui.adapters.gateio import book as B
from cashup_tui.adapters.gateio.book import BookDelta, OrderBook
from cashup_tui.adapters.gateio.frames import BookTickerMsg
from cashup_tui.adapters.gateio.parse import BAD, ERROR, UPDATE, FrameParser, parse_rest_book
from cashup_tui.domain.errors import DataError


@dataclass
class BookReport:
    symbol: str
    synced: bool = False
    last_id: int = 0
    deltas: int = 0
    applied: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0
    snapshots: int = 0
    snapshot_behind: int = 0
    never_crossed: bool = True
    best_bid: tuple[float, float] | None = None
    best_ask: tuple[float, float] | None = None
    ticker_checks: int = 0  # book_ticker frames at the same update id as the book
    ticker_mismatches: int = 0


@dataclass
class ReplayReport:
    frames: int = 0
    parse_errors: int = 0
    error_frames: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    books: dict[str, BookReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # gaps, resyncs, problems, in order


def _read_jsonl(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror}", hint="check the path") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise DataError(
                    f"{path}:{n}: not a JSON line",
                    hint=f"{what} files are JSONL (one JSON object per line), like "
                    "futures_usdt_ws_frames_2023-05-24.jsonl",
                ) from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{n}: expected a JSON object per line, got {type(obj).__name__}")
            yield n, obj


def load_capture(frames: Path, snapshots: Path | None = None) -> list[tuple[float, str, Any]]:
    """Merge frames and snapshots into [(recv_ts, kind, data)] in receive order.
    kind: "in" (frame bytes) or "snapshot" ((symbol, body bytes))."""
    items: list[tuple[float, int, str, Any]] = []
    seq = 0
    for n, obj in _read_jsonl(frames, "capture"):
        if obj.get("dir") != "in":
            continue
        if "msg" not in obj:
            raise DataError(f"{frames}:{n}: an 'in' line without 'msg'", hint="is this a Gate capture file?")
        seq += 1
        items.append((float(obj.get("recv_ts") or 0), seq, "in", msgspec.json.encode(obj["msg"])))
    if snapshots is not None:
        for n, obj in _read_jsonl(snapshots, "snapshot"):
            if "symbol" not in obj or "body" not in obj:
                raise DataError(
                    f"{snapshots}:{n}: a snapshot line needs 'symbol' and 'body'",
                    hint="use the *_rest_order_book_with_id_*.jsonl file that goes with the capture",
                )
            seq += 1
            items.append((float(obj.get("recv_ts") or 0), seq, "snapshot", (obj["symbol"], msgspec.json.encode(obj["body"]))))
    if seq == 0:
        raise DataError(f"{frames}: no received frames found", hint="expected lines with \"dir\": \"in\"")
    items.sort(key=lambda x: (x[0], x[1]))
    return [(ts, kind, data) for ts, _, kind, data in items]


def replay(
    frames: Path,
    snapshots: Path | None = None,
    *,
    depth: int = 100,
    on_value: Callable[[str, Any], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ReplayReport:
    """Replay a capture. `on_value(channel, value)` sees every normalised value in order."""
    rep = ReplayReport()
    parser = FrameParser()
    books: dict[str, OrderBook] = {}

    def note(text: str) -> None:
        rep.notes.append(text)
        if on_note is not None:
            on_note(text)

    def get_book(symbol: str) -> tuple[OrderBook, BookReport]:
        if symbol not in books:
            books[symbol] = OrderBook(symbol, depth=depth)
            rep.books[symbol] = BookReport(symbol)
        return books[symbol], rep.books[symbol]

    def check(book: OrderBook, br: BookReport, result: str) -> None:
        if result == B.GAP:
            note(f"{book.symbol}: sequence gap ({book.last_reason}); book discarded, resync needed")
        elif result == B.CROSSED:
            br.crossed += 1
            br.never_crossed = False
            note(f"{book.symbol}: crossed book; discarded, resync needed")
        elif result == B.REJECTED:
            note(f"{book.symbol}: bad levels ({book.last_reason}); book discarded")
        if book.synced:
            bb, ba = book.best_bid(), book.best_ask()
            if bb and ba and bb[0] >= ba[0]:  # belt and braces: the book never serves a cross
                br.never_crossed = False

    for _ts, kind, data in load_capture(frames, snapshots):
        if kind == "snapshot":
            symbol, body = data
            book, br = get_book(symbol)
            try:
                sid, bids, asks, ts_ms = parse_rest_book(body)
            except Exception as exc:
                note(f"{symbol}: unreadable snapshot ({type(exc).__name__}: {exc})")
                continue
            br.snapshots += 1
            was_synced_before = book.syncs > 0
            result = book.apply_snapshot(sid, bids, asks, ts_ms)
            if result == B.SNAPSHOT_BEHIND:
                br.snapshot_behind += 1
                note(f"{symbol}: {book.last_reason}; would fetch again")
            elif book.synced:
                what = "resynced" if was_synced_before else "synced"
                extra = (
                    "snapshot as new as the stream: next update must start at id+1"
                    if book.replayed_on_sync == 0
                    else f"{book.replayed_on_sync} buffered update(s) replayed"
                )
                note(
                    f"{symbol}: {what} from snapshot id {sid} -> id {book.last_id} "
                    f"({book.dropped_on_sync} buffered update(s) dropped, {extra})"
                )
            check(book, br, result)
            continue
        channel, k, payload = parser.parse(data)
        rep.channels[channel or "<unreadable>"] += 1
        if k == BAD:
            note(f"parse error on {channel or 'frame'}: {payload.reason}")
            continue
        if k == ERROR:
            rep.error_frames += 1
            note(f"error frame on {channel}: code {payload.code}: {payload.message}")
            continue
        if k != UPDATE:
            continue
        for value in payload:
            if isinstance(value, BookDelta):
                book, br = get_book(value.symbol)
                br.deltas += 1
                check(book, br, book.on_delta(value))
            elif isinstance(value, BookTickerMsg) and value.symbol in books:
                book = books[value.symbol]
                br = rep.books[value.symbol]
                if book.synced and book.last_id == value.update_id:
                    br.ticker_checks += 1
                    bb, ba = book.best_bid(), book.best_ask()
                    if not (bb and ba and bb[0] == value.bid and ba[0] == value.ask):
                        br.ticker_mismatches += 1
                        note(f"{value.symbol}: book_ticker disagrees with the book at id {value.update_id}")
            if on_value is not None:
                on_value(channel, value)
    rep.frames = parser.frames
    rep.parse_errors = parser.parse_errors
    for symbol, book in books.items():
        br = rep.books[symbol]
        br.synced = book.synced
        br.last_id = book.last_id
        br.applied = book.applied
        br.gaps = book.gaps
        br.resyncs = book.resyncs
        br.best_bid = book.best_bid()
        br.best_ask = book.best_ask()
        if not book.synced:
            note(f"{symbol}: not in sync at the end ({book.last_reason})")
    return rep
