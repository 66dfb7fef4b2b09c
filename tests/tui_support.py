"""Helpers for the workstation tests: screen text, polling with a deadline, the real demo app, and the
real demo app made reproducible to the pixel (for snapshots).

Why the production factory for snapshots: a hand-written read-model node drifted from the real one (no
"priv" stream in the status bar). `snapshot_app` is `cashup tui --mode demo` (cli/tui.make_app) with a
fixed clock, the simulator's market held still and a fixed client-id namespace; `settle_snapshot_demo`
then moves that market a fixed number of steps and trades through the node's own commands, and waits
until every frame has reached the screen, so the pixels depend only on the seed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console

D = Decimal
SNAP_T0 = 1_763_942_400_000  # 2025-11-24 00:00:00 UTC: the fixed test clock (a minute boundary)
SNAP_SYMBOLS = ("BTC_USDT", "ETH_USDT", "SOL_USDT")
SNAP_STEPS = 300  # market steps of 100 ms: 30 s of market, inside one minute, ending on a whole second
SNAP_SESSION = "snap00"  # the client-id namespace (ids t-dsnap00-1, -2, ...)
KEY_HOPS = 12  # > the DOM depth from a focused table/input up to the app

# -- reading the screen ------------------------------------------------------------------------------
def screen_text(app: Any) -> str:
    """The composited terminal as plain text (active screen over the ones below it), as a user sees it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def wait_until(pilot: Any, predicate: Callable[[], object], *, timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` (letting the app run between polls) until it is truthy or the deadline passes;
    on timeout fail with the screen so the reason is visible."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        if predicate():
            return
        if loop.time() >= end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate!r}; screen:\n"
                                 f"{screen_text(pilot.app)}")
        await pilot.pause(0.05)


async def wait_text(pilot: Any, needle: str, *, timeout: float = 20.0) -> str:
    await wait_until(pilot, lambda: needle in screen_text(pilot.app), timeout=timeout, what=f"{needle!r} on screen")
    return screen_text(pilot.app)


def watch_prices(app: Any) -> dict[str, str]:
    """symbol -> the 'Last' cell of the watchlist as shown."""
    from cashup_tui.app.panes.market import Watchlist

    wl = app.query_one(Watchlist)
    out = {}
    for key in list(wl.rows):
        out[str(key.value)] = str(wl.get_cell(key, "Last"))
    return out


def table_keys(app: Any, table_id: str) -> list[str]:
    from cashup_tui.app.panes.tables import SyncTable

    t = app.query_one(f"#{table_id}", SyncTable)
    return [str(k.value) for k in t.rows]


def demo_app(tmp_path: Path, *, symbols: list[str] | None = None, refresh_hz: float = 10.0,
             environ: dict[str, str] | None = None) -> tuple[Any, Any]:
    """The real workstation on the real demo node (in-process Gate simulator on loopback, our websocket
    client, ccxt REST, the engine) with its journal in a SQLite file under `tmp_path`. `environ`: CASHUP_*
    settings overrides (the process environment is not read)."""
    from cashup_tui.app.app import CashupApp
    from cashup_tui.runtime import build_node
    from cashup_tui.service.workstation import EngineWorkstation
    from cashup_tui.settings import load_settings

    node = build_node(load_settings(environ=environ or {}), "demo", db_url=str(tmp_path / "t.sqlite"), symbols=symbols)
    return CashupApp(EngineWorkstation(node), refresh_hz=refresh_hz), node


# -- the real demo, reproducible ---------------------------------------------------------------------
def snapshot_app(tmp_path: Path, *, refresh_hz: float = 4.0) -> Any:
    """`cashup tui --mode demo` as the CLI builds it (make_app), on the seed-7 simulator with a clock that
    stands still at SNAP_T0 (node, simulator, websockets, loop-lag probe: no wall-clock text), the
    simulator's market moved only by `settle_snapshot_demo`, client ids in a fixed namespace."""
    from cashup_tui.cli.tui import make_app
    from cashup_tui.engine.clock import TestClock
    from cashup_tui.settings import load_settings

    settings = load_settings(environ={})
    settings.ui.refresh_hz = refresh_hz
    settings.sim.seed, settings.sim.tick_ms = 7, 100
    # Settings shows where an edit would be written: one fixed path (never created: nothing is edited here)
    settings.config_file = "/tmp/cashup-snapshot/cashup.toml"
    return make_app(settings, "demo", str(tmp_path / "snap.sqlite"), symbols=list(SNAP_SYMBOLS),
                    clock=TestClock(SNAP_T0), sim_running=False, id_session=SNAP_SESSION)


def _sim_subscribed(sim: Any, channels: tuple[str, ...], private: bool = False) -> bool:
    """The simulator has registered these public channels (and the private ones) for every symbol."""
    for c in sim.hub.conns:
        if c.closed:
            continue
        have = set(c.obu)
        for ch in channels:
            have &= set(c.simple.get(ch, ())) if ch != "candles" else {s for iv, s in c.candles if iv == "1m"}
        if have >= set(SNAP_SYMBOLS) and (not private or any(x.private for x in sim.hub.conns)):
            return True
    return False


def _market_caught_up(node: Any) -> bool:
    """Every frame of the last step is on the client and in the engine cache (the frames of one socket
    arrive in order: the last trade and candle of each symbol come after its book and ticker)."""
    md, sim = node.market, node.sim
    for sym in SNAP_SYMBOLS:
        sm = sim.market.symbols[sym]
        book, trades, bars = md.book(sym), md.trades(sym), md.live_bars(sym, "1m")
        if book is None or book.update_id != sm.view_id:
            return False
        if sm.trades and (not trades or trades[-1].trade_id != sm.trades[-1].id):
            return False
        if not bars or bars[-1].close != float(sm.ws_candle("1m")["c"]):
            return False
        cached = node.cache.book(sym)
        if cached is None or cached.update_id != book.update_id or node.cache.ticker(sym) != md.ticker(sym):
            return False
    return True


async def settle_snapshot_demo(pilot: Any) -> None:
    """Bring a `snapshot_app` to its one fixed picture: one market step while the node starts (it waits for
    a book and a mark), then through the node's own commands a resting bid 1% under the touch and a
    40-contract market buy on BTC_USDT, then SNAP_STEPS steps; wait until every frame and fill is shown."""
    from cashup_tui.app.panes.market import CandleChart
    from cashup_tui.app.panes.tables import SyncTable
    from cashup_tui.domain.enums import OrderType, Side, TimeInForce
    from cashup_tui.service.views import OrderRequest

    app = pilot.app
    ws = app.node
    await wait_until(pilot, lambda: ws.node is not None and ws.node.sim is not None and ws.node.sim.port
                     and _sim_subscribed(ws.node.sim, ("futures.tickers",)), timeout=60, what="the market stream")
    sim = ws.node.sim
    first = sim.step(SNAP_T0 + sim.tick_ms)
    assert all(r.book_changed for r in first), "seed 7's first step must move every book (the node waits for one)"
    await wait_until(pilot, lambda: app.node_ready, timeout=60, what="the node to start")
    await wait_until(pilot, lambda: _sim_subscribed(sim, ("futures.tickers", "futures.trades", "candles"),
                                                    private=True), what="the trades, candles and private streams")
    node = ws.node
    book = node.cache.book("BTC_USDT")
    inst = node.instruments["BTC_USDT"]
    bid = inst.round_price(book.best_bid.price * D("0.99"), "down")
    await ws.submit(OrderRequest("BTC_USDT", Side.BUY, D(12), OrderType.LIMIT, bid, tif=TimeInForce.GTC))
    await ws.submit(OrderRequest("BTC_USDT", Side.BUY, D(40), OrderType.MARKET, None, tif=None))
    for k in range(2, SNAP_STEPS + 1):
        sim.step(SNAP_T0 + k * sim.tick_ms)
    await wait_until(pilot, lambda: _market_caught_up(node), what="the market frames on screen")
    def booked() -> bool:
        pos = node.portfolio.positions.get("BTC_USDT")
        return pos is not None and pos.size == 40 and len(ws.open_orders()) == 1 and node.om.ready

    await wait_until(pilot, booked, what="the position and the resting order")
    await ws.margin.refresh()  # the venue's account after the last step (the standing clock never asks again)
    await wait_until(pilot, lambda: ("BTC_USDT", "1m") in ws._bars, what="the chart history")
    # every series a pane at any size asks for (the 240x60 second chart, Risk's daily bars for VaR), fetched
    # before the picture: a pane that asks only when shown would draw "—" or an empty chart first
    from cashup_tui.app.panes.market import CONTEXT_TIMEFRAME

    ws.risk()
    ws.bars("BTC_USDT", CONTEXT_TIMEFRAME.get("1m", "1h"))
    # and every series fetched again now, after the last step: one fetched while the steps ran (the
    # 240x60 context chart asks at mount) would show whichever step it met (the standing clock never
    # refetches), and which one that is depends on the speed of the machine
    ws._bars.clear()
    ws._bars_at.clear()
    await wait_until(pilot, lambda: ws._wanted <= set(ws._bars), timeout=60, what="every chart series")
    ws.risk()  # VaR from the daily bars now there
    ws.reread_history()  # the fills read before the market order's fill was journalled
    app.refresh_views()  # the fill's toast comes out now: cleared, so no toast times out mid-snapshot
    app.toasts.read_all()
    app.clear_notifications()
    for chart in app.query(CandleChart):  # a price-only redraw waits 2 s of wall time: draw the settled one
        chart._key = None  # (the 240x60 context chart too: it kept an earlier close now and then under load)
    for table in app.query(SyncTable):  # columns grown for a row seen mid-way (the market order, open for a
        table.set_columns(table._columns)  # moment) keep their width: size them to the settled rows
    app.refresh_views()
    await pilot.pause()


async def press(pilot: Any, *keys: str) -> None:
    """Like `pilot.press`, without waiting for the whole process to go CPU-idle after every key (a live
    demo node never does, so `pilot.press` costs up to a second a key): post each key the way Textual's
    driver does, then let the screen's widgets drain their queues several rounds. A key travels app ->
    focused widget -> bubbles up the DOM one message hop at a time -> app bindings; each `pause(0)`
    drains one hop, so the next key is sent only after this one has been fully handled (otherwise
    keys interleave: a digit can reach a freshly opened modal, or overtake a backspace)."""
    import unicodedata

    from textual import events
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    for key in keys:
        typed = key
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
        except KeyError:  # e.g. "_" (key "underscore", Unicode name LOW LINE): the character typed
            char = typed if len(typed) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app.post_message(event)
        for _ in range(KEY_HOPS):
            await pilot.pause(0)
