"""`cashup feed ...`: watch Gate.io streams headless, replay recorded captures.

Light at import time (stdlib + typer only): aiohttp, msgspec and the Gate adapter load
inside the commands so `cashup --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import typer

from cashup_tui.cli.choices import Channel
from cashup_tui.cli.common import discard_stdout, fail, settings_from

app = typer.Typer(
    name="feed",
    help="Watch live Gate.io streams headless; replay captures.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

WATCH_CHANNELS = ("tickers", "trades", "book")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]+_[A-Z0-9]+$")


@app.callback()
def _group() -> None:
    """Watch live Gate.io streams headless; replay captures."""


# -- formatting ---------------------------------------------------------------------------------------
def _hms(ts_ms: int) -> str:
    if not ts_ms:
        return "--:--:--.---"
    t = time.gmtime(ts_ms / 1000)
    return f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ts_ms % 1000:03d}"


def _num(x: float) -> str:
    return f"{x:.10g}"


def value_to_dict(channel: str, v: Any) -> dict[str, Any]:
    """A JSON-ready view of a normalised value (BookDelta, domain dataclasses, notices)."""
    from cashup_tui.adapters.gateio.book import BookDelta
    from cashup_tui.adapters.gateio.parse import to_domain

    v = to_domain(v)
    if isinstance(v, BookDelta):
        return {
            "type": "book_delta", "channel": channel, "symbol": v.symbol, "ts_ms": v.ts_ms, "U": v.first_id,
            "u": v.last_id, "bids": [[repr(x.p), x.s] for x in v.bids], "asks": [[repr(x.p), x.s] for x in v.asks],
            "full": v.full,
        }
    import msgspec

    if isinstance(v, msgspec.Struct):
        d = msgspec.structs.asdict(v)
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        d = dataclasses.asdict(v)
    else:
        d = {"value": repr(v)}
    return {"type": type(v).__name__.lower(), "channel": channel, **d}


def value_to_line(channel: str, v: Any) -> str:
    """One human line per normalised value."""
    from cashup_tui.adapters.gateio.book import BookDelta
    from cashup_tui.adapters.gateio.parse import to_domain
    from cashup_tui.domain.market import Bar, BookTicker, Ticker, Trade

    v = to_domain(v)
    if isinstance(v, Ticker):
        return (f"{_hms(v.ts_ms)} {v.symbol:<12} ticker  last {_num(v.last)}  mark {_num(v.mark_price)}  "
                f"chg {v.change_pct:+.2f}%  funding {v.funding_rate:+.6f}")
    if isinstance(v, Trade):
        side = "BUY " if v.size > 0 else "SELL"
        extra = "  (internal)" if v.is_internal else ""
        return f"{_hms(v.ts_ms)} {v.symbol:<12} trade   {side} {_num(abs(v.size))} @ {_num(v.price)}  #{v.trade_id}{extra}"
    if isinstance(v, BookTicker):
        return (f"{_hms(v.ts_ms)} {v.symbol:<12} bbo     bid {_num(v.bid)} x {_num(v.bid_size)}  |  "
                f"ask {_num(v.ask)} x {_num(v.ask_size)}  (u {v.update_id})")
    if isinstance(v, BookDelta):
        return (f"{_hms(v.ts_ms)} {v.symbol:<12} delta   U {v.first_id} u {v.last_id}  "
                f"bids {len(v.bids)} asks {len(v.asks)}{'  full' if v.full else ''}")
    if isinstance(v, Bar):
        return (f"{_hms(v.open_ms)} {v.symbol:<12} candle  {v.timeframe} o {_num(v.open)} h {_num(v.high)} "
                f"l {_num(v.low)} c {_num(v.close)} v {_num(v.volume)}{'  closed' if v.closed else ''}")
    return f"{channel}: {v!r}"


def _event_line(e: Any) -> str:
    name = type(e).__name__
    fields = {k: getattr(e, k) for k in getattr(e, "__slots__", ()) if k != "ts_ms"}
    if name == "FeedDisconnected" and "failed" in str(fields.get("reason", "")):
        return f"feed: {fields['reason']} (retrying; is the URL right? for the simulator run `cashup sim serve`)"
    return f"feed: {name} " + " ".join(f"{k}={v}" for k, v in fields.items())


# -- watch ----------------------------------------------------------------------------------------------
@app.command("watch")
def watch(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Contract, e.g. BTC_USDT."),
    channel: Channel = typer.Option("tickers", "--channel", help="What to stream."),
    ws_url: str = typer.Option(None, "--ws-url", help="Websocket URL (default: settings gate.ws_url / CASHUP_GATE_WS_URL)."),
    rest_url: str = typer.Option(None, "--rest-url", help="REST URL for book snapshots (default: gate.rest_url / CASHUP_GATE_REST_URL)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    count: int = typer.Option(0, "--count", help="Stop after N updates (0 = until Ctrl-C)."),
    depth: int = typer.Option(None, "--depth", help="Book depth: 20, 50 or 100 (default: settings gate.book_depth)."),
    levels: int = typer.Option(5, "--levels", help="Book levels to print per side."),
) -> None:
    """Stream one contract's tickers, trades or book live (against Gate or the simulator). Ctrl-C stops."""
    symbol = symbol.strip().upper()
    if not _SYMBOL_RE.match(symbol):
        fail(f"'{symbol}' is not a Gate contract name", hint="use the BASE_QUOTE form, e.g. BTC_USDT")
    if channel not in WATCH_CHANNELS:
        fail(f"--channel {channel!r} is not supported", hint=f"use one of: {', '.join(WATCH_CHANNELS)}")
    if count < 0:
        fail("--count must be >= 0", hint="0 means run until Ctrl-C")
    settings = settings_from(ctx)
    ws = ws_url or settings.gate.ws_url
    rest = rest_url or settings.gate.rest_url
    if not re.match(r"^(wss?|https?)://", ws):
        fail(f"websocket URL {ws!r} must start with ws://, wss://, http:// or https://",
             hint="e.g. wss://fx-ws.gateio.ws/v4/ws/usdt, or the ws URL printed by `cashup sim serve`")
    if channel == "book" and not re.match(r"^https?://", rest):
        fail(f"REST URL {rest!r} must start with http:// or https://", hint="set --rest-url or gate.rest_url")
    depth = depth if depth is not None else settings.gate.book_depth
    if depth not in (20, 50, 100):
        fail(f"--depth {depth} is not a Gate book level", hint="use 20, 50 or 100")
    import asyncio

    shown, closed = asyncio.run(
        _watch(symbol, channel, ws, rest, as_json, count, depth, levels, settings.gate)
    )
    if not as_json and not closed:
        sys.stderr.write(f"feed: {shown} update(s) shown\n")


async def _watch(symbol: str, channel: str, ws: str, rest: str, as_json: bool, count: int, depth: int,
                 levels: int, gs: Any) -> tuple[int, bool]:
    """Stream until --count, a signal, or the reader closing stdout; (updates shown, stdout closed)."""
    import asyncio
    import signal

    from cashup_tui.adapters.gateio import constants as C
    from cashup_tui.adapters.gateio.market_data import GateMarketData, rest_snapshot_fetcher

    out = sys.stdout
    state: dict[str, Any] = {"n": 0, "closed": False}
    md: GateMarketData

    class Sink:
        def publish(self, e: Any) -> None:
            if as_json:
                d = {"type": "event", "event": type(e).__name__}
                d.update({k: getattr(e, k) for k in getattr(e, "__slots__", ())})
                sys.stderr.write(json.dumps(d, default=str) + "\n")
            else:
                sys.stderr.write(_event_line(e) + "\n")

    def emit(text: str) -> None:
        try:
            out.write(text + "\n")
            out.flush()
        except BrokenPipeError:  # `| head` has what it wanted: stop the feed and end quietly
            discard_stdout()
            if not state["closed"]:
                state["closed"] = True
                asyncio.get_running_loop().create_task(md.stop())
            return
        state["n"] += 1
        if count and state["n"] >= count:
            asyncio.get_running_loop().create_task(md.stop())

    def on_update(ch: str, v: Any) -> None:
        if state["closed"] or (count and state["n"] >= count):
            return
        if ch == C.BOOK_UPDATE:
            book = md.books.get(symbol)
            if book is None or not book.synced:
                return
            bids, asks = book.levels("bids", levels), book.levels("asks", levels)
            if as_json:
                emit(json.dumps({"type": "book", "symbol": symbol, "ts_ms": book.ts_ms, "id": book.last_id,
                                 "bids": [[book.price_text(p), s] for p, s in bids],
                                 "asks": [[book.price_text(p), s] for p, s in asks]}))
            else:
                top = "  |  ".join(
                    f"{b[0]:>12.10g} x {b[1]:<10.10g} {a[0]:>12.10g} x {a[1]:<10.10g}" if b and a else ""
                    for b, a in [(bids[0] if bids else None, asks[0] if asks else None)]
                )
                depth_line = " ".join(f"{p:.10g}:{s:.10g}" for p, s in bids[1:]) + " || " + " ".join(
                    f"{p:.10g}:{s:.10g}" for p, s in asks[1:])
                emit(f"{_hms(book.ts_ms)} {symbol:<12} book    {top}  id {book.last_id}  [{depth_line}]")
            return
        if getattr(v, "symbol", symbol) != symbol:
            return
        emit(json.dumps(value_to_dict(ch, v), default=str) if as_json else value_to_line(ch, v))

    md = GateMarketData(
        ws, rest_snapshot_fetcher(rest, settle=gs.settle, timeout_s=gs.request_timeout_s), sink=Sink(),
        depth=depth, freq=gs.book_freq, on_update=on_update, ping_interval_s=gs.ping_interval_s,
        dead_after_s=gs.stale_after_s,
    )
    await md.subscribe([symbol], [channel])
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, lambda: loop.create_task(md.stop()))
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / Windows
            pass
    try:
        await md.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
    return state["n"], state["closed"]


# -- replay -----------------------------------------------------------------------------------------------
def _guess_snapshots(frames: Path) -> Path | None:
    name = frames.name.replace("ws_frames", "rest_order_book_with_id")
    cand = frames.with_name(name)
    return cand if name != frames.name and cand.is_file() else None


@app.command("replay")
def replay_cmd(
    file: Path = typer.Argument(..., help="Capture JSONL (layout of futures_usdt_ws_frames_2023-05-24.jsonl)."),
    snapshots: Path = typer.Option(None, "--snapshots", help="REST order-book snapshots JSONL that go with it "
                                   "(default: the *_rest_order_book_with_id_* file beside it, if any)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line (events, notes, summary)."),
    depth: int = typer.Option(100, "--depth", help="Book depth to keep (the 2023 captures use 100)."),
    summary_only: bool = typer.Option(False, "--summary", help="Print only notes and the final summary."),
) -> None:
    """Replay a recorded capture through the real parser and book sync: normalised events, gaps and
    resyncs as they happen, then a top-of-book per symbol."""
    from cashup_tui.adapters.gateio.replay import replay

    if not file.is_file():
        fail(f"capture file {file} does not exist", hint="give the path of a Gate frames capture, e.g. futures_usdt_ws_frames_2023-05-24.jsonl")
    if snapshots is None:
        snapshots = _guess_snapshots(file)
        if snapshots is not None and not as_json:
            sys.stderr.write(f"feed: using snapshots {snapshots}\n")
    elif not snapshots.is_file():
        fail(f"snapshot file {snapshots} does not exist", hint="pass the *_rest_order_book_with_id_*.jsonl file")
    if depth <= 0:
        fail("--depth must be > 0")
    out = sys.stdout

    def on_value(channel: str, v: Any) -> None:
        if summary_only:
            return
        out.write((json.dumps(value_to_dict(channel, v), default=str) if as_json else value_to_line(channel, v)) + "\n")

    def on_note(text: str) -> None:
        out.write((json.dumps({"type": "note", "text": text}) if as_json else f"** {text}") + "\n")

    rep = replay(file, snapshots, depth=depth, on_value=on_value, on_note=on_note)
    books: dict[str, dict[str, Any]] = {
        s: {"synced": b.synced, "last_id": b.last_id, "deltas": b.deltas, "applied": b.applied, "gaps": b.gaps,
            "resyncs": b.resyncs, "crossed": b.crossed, "best_bid": b.best_bid, "best_ask": b.best_ask}
        for s, b in sorted(rep.books.items())
    }
    if as_json:
        out.write(json.dumps({"type": "summary", "frames": rep.frames, "parse_errors": rep.parse_errors,
                              "error_frames": rep.error_frames, "channels": dict(rep.channels), "books": books}) + "\n")
        return
    out.write(f"\nreplayed {rep.frames} frames: " + ", ".join(f"{c} {n}" for c, n in rep.channels.most_common())
              + f"; parse errors {rep.parse_errors}; error frames {rep.error_frames}\n")
    if books:
        out.write(f"{'symbol':<14}{'state':<9}{'best bid':>22}{'best ask':>22}{'last id':>14}{'deltas':>8}"
                  f"{'gaps':>6}{'resyncs':>9}\n")
    for s, b in books.items():
        bb = f"{b['best_bid'][0]:.10g} x {b['best_bid'][1]:.10g}" if b["best_bid"] else "-"
        ba = f"{b['best_ask'][0]:.10g} x {b['best_ask'][1]:.10g}" if b["best_ask"] else "-"
        out.write(f"{s:<14}{'in sync' if b['synced'] else 'OUT':<9}{bb:>22}{ba:>22}{b['last_id']:>14}"
                  f"{b['deltas']:>8}{b['gaps']:>6}{b['resyncs']:>9}\n")
    if books and not snapshots:
        out.write("note: no snapshot file, so books could not sync (pass --snapshots)\n")
