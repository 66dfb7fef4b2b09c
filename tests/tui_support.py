"""Helpers for the workstation tests: screen text, polling with a deadline, the real demo app, and a
deterministic read-model node fed by a seeded SyntheticMarket (for snapshots).

Why a read-model node for snapshots: the real demo node runs on the wall clock and a live socket, so
its screen is never the same twice. `SeededMarketNode` steps the simulator's own seeded market a fixed
number of times at a fixed test clock and serves its books, trades, tickers and candles (converted by
the same Gate parsers the websocket client uses), so the pixels depend only on the seed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console

from cashup_tui.domain.enums import Mode, OrderStatus, OrderType, Side, TimeInForce, TradingState
from cashup_tui.domain.errors import ValidationError
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.instruments import Instrument
from cashup_tui.domain.market import Bar, BookLevel, BookSnapshot, Ticker, Trade
from cashup_tui.domain.orders import Order
from cashup_tui.domain.ports import StreamHealth
from cashup_tui.domain.positions import Position
from cashup_tui.service.funding import FundingView
from cashup_tui.service.margin import AccountView
from cashup_tui.service.toasts import Toast
from cashup_tui.service.views import (
    HeaderStatus,
    LimitUsage,
    LogLine,
    NotificationView,
    OrderRequest,
    PositionView,
    RiskView,
    StrategyView,
    StressRow,
    TicketPreview,
)

D = Decimal
SNAP_T0 = 1_763_942_400_000  # 2025-11-24 00:00:00 UTC: the fixed test clock
SNAP_SYMBOLS = ("BTC_USDT", "ETH_USDT", "SOL_USDT")
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


# -- the deterministic read-model node ------------------------------------------------------------------
class SeededMarketNode:
    """A `WorkstationNode` over a seeded `SyntheticMarket` stepped `steps` times from SNAP_T0 at `tick_ms`.

    Market data is the simulator's own (Gate JSON -> our Gate parsers -> domain values). Orders and
    positions are a small fixed book priced off that market (one resting bid below the touch, one long
    position entered at the first trade) so the Orders, Positions, side panel and Risk views have rows.
    Nothing reads the wall clock or opens a socket; actions are accepted and recorded, not simulated.
    """

    mode = Mode.DEMO

    def __init__(self, symbols: Sequence[str] = SNAP_SYMBOLS, *, seed: int = 7, steps: int = 300,
                 tick_ms: int = 100, start_ms: int = SNAP_T0) -> None:
        from cashup_tui.adapters.sim.contracts import build_contracts
        from cashup_tui.adapters.sim.market import SyntheticMarket

        self.instruments, contracts = build_contracts(list(symbols))
        self.market = SyntheticMarket(list(symbols), seed=seed, start_ms=start_ms, tick_ms=tick_ms,
                                      contracts=contracts, backfill=200)
        ts = start_ms
        self.frames = 0
        for _ in range(steps):
            ts += tick_ms
            for r in self.market.step(ts):
                self.frames += 2 + bool(r.trades)  # ticker + book + trades frames the server would send
        self.now_ms = ts
        self.elapsed_s = steps * tick_ms / 1000
        self._tickers = {t.symbol: t for t in self._parse_tickers()}
        self._books = {s: self._book(s) for s in symbols}
        self._trades = {s: self._parse_trades(s) for s in symbols}
        self.submitted: list[OrderRequest] = []
        self.actions: list[str] = []
        self.kill_level = 0
        self.state = TradingState.ACTIVE
        self._orders, self._positions = self._fixed_book(symbols[0])

    # market data, through the same parsers the websocket client uses
    def _parse_tickers(self) -> list[Ticker]:
        from cashup_tui.adapters.gateio.parse import parse_tickers, to_domain

        raw = msgspec.json.encode(self.market.tickers())
        return [to_domain(t) for t in parse_tickers(raw, self.now_ms)]

    def _parse_trades(self, symbol: str) -> list[Trade]:
        from cashup_tui.adapters.gateio.parse import parse_trades, to_domain

        sm = self.market.get(symbol)
        raw = msgspec.json.encode(sm.trade_rows(list(sm.trades)[-200:], False))
        return [to_domain(t) for t in parse_trades(raw, self.now_ms)]

    def _book(self, symbol: str) -> BookSnapshot:
        sm = self.market.get(symbol)
        bids, asks = sm.levels_decimal(20)
        return BookSnapshot(symbol, self.now_ms, sm.view_id, tuple(BookLevel(p, s) for p, s in bids),
                            tuple(BookLevel(p, s) for p, s in asks), True)

    def _fixed_book(self, symbol: str) -> tuple[list[Order], list[PositionView]]:
        inst = self.instruments[symbol]
        book = self._books[symbol]
        assert book.best_bid is not None
        bid = inst.round_price(book.best_bid.price * D("0.99"), "down")
        resting = Order(ClientOrderId("t-snap-0001"), symbol, Side.BUY, D(12), OrderType.LIMIT, bid, TimeInForce.GTC,
                        status=OrderStatus.OPEN, created_ms=self.now_ms - 60_000, updated_ms=self.now_ms - 60_000)
        entry = D(str(self._trades[symbol][0].price))
        mark = D(str(self._tickers[symbol].mark_price))
        pos = Position(symbol, inst.quanto_multiplier, D(40), entry, leverage=D(5))
        unreal = pos.unrealized_pnl(mark)
        margin = abs(pos.size) * inst.quanto_multiplier * entry / pos.leverage
        liq = pos.liquidation_price(inst.maintenance_rate)
        dist = abs(mark - liq) / mark * 100 if liq is not None else None
        view = PositionView(pos, mark, unreal, unreal / margin * 100, liq, dist, margin)
        return [resting], [view]

    # lifecycle
    async def start(self) -> None: ...

    async def stop(self, *, disarm_dead_man: bool = True) -> None: ...

    # reads
    def status(self) -> HeaderStatus:
        streams = (StreamHealth("mkt", True, 100, round(self.frames / self.elapsed_s, 1), 0),
                   StreamHealth("priv", True, None, 0.0, 0))
        equity = D(100_000) + sum((v.unrealized for v in self._positions), D(0))
        return HeaderStatus(self.mode, equity, D(0), self.state, streams, None, 0.0, self.now_ms, self.kill_level)

    def watchlist(self) -> Sequence[str]:
        return list(self.market.symbols)

    def symbols(self) -> Sequence[str]:
        return sorted(self.market.symbols)

    def instrument(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)

    def ticker(self, symbol: str) -> Ticker | None:
        return self._tickers.get(symbol)

    def funding(self, symbol: str) -> FundingView | None:
        return None  # the snapshots predate the funding countdown (a pilot test covers it)

    def book(self, symbol: str) -> BookSnapshot | None:
        return self._books.get(symbol)

    def trades(self, symbol: str) -> Sequence[Trade]:
        return self._trades.get(symbol, [])

    def bars(self, symbol: str, timeframe: str) -> Sequence[Bar]:
        rows = self.market.candles(symbol, timeframe, limit=200)
        return [Bar(symbol, timeframe, int(r["t"]) * 1000, float(r["o"]), float(r["h"]), float(r["l"]),
                    float(r["c"]), float(r["v"])) for r in rows]

    def open_orders(self) -> Sequence[Order]:
        return [o for o in self._orders if o.is_open]

    def order_history(self, limit: int = 200) -> Sequence[Order]:
        return [o for o in self._orders if not o.is_open][:limit]

    def bracket_legs(self) -> dict[str, tuple[str, str]]:
        return {}

    def positions(self) -> Sequence[PositionView]:
        return list(self._positions)

    def strategies(self) -> Sequence[StrategyView]:
        return [StrategyView("sma_cross", "sma_cross", "", "stopped", {"fast": 10, "slow": 30}),
                StrategyView("breakout", "breakout", "", "stopped", {"lookback": 20})]

    def risk(self) -> RiskView:
        gross = sum((abs(v.position.size) * v.position.quanto_multiplier * v.mark for v in self._positions), D(0))
        limits = (LimitUsage("gross exposure", float(gross), 250_000.0),
                  LimitUsage("largest position", float(gross), 100_000.0),
                  LimitUsage("open orders", float(len(self.open_orders())), 50.0, ""),
                  LimitUsage("daily loss", 0.0, 2_000.0))
        exposure = tuple((v.position.symbol, "long" if v.position.size > 0 else "short",
                          abs(v.position.size) * v.position.quanto_multiplier * v.mark) for v in self._positions)
        stress = tuple(StressRow(f"all {pct:+d}%", gross * pct / 100, D(100_000) + gross * pct / 100, ())
                       for pct in (-10, -5, 5, 10))
        upnl = sum((v.unrealized for v in self._positions), D(0))
        pm = sum((v.margin for v in self._positions), D(0))
        account = AccountView(D(100_000), D(100_000) - pm, pm, pm, D(0), gross * D("0.005"),
                              gross * D("0.005") / (D(100_000) + upnl) * 100, upnl, D(100_000) + upnl)
        return RiskView(self.state, self.kill_level, limits, exposure, None, None, stress, account)

    def notifications(self, limit: int = 200) -> Sequence[NotificationView]:
        return []

    def logs(self, limit: int = 500) -> Sequence[LogLine]:
        return []

    def channels(self) -> Sequence[str]:
        return []

    def alert_rules(self) -> Sequence[str]:
        return []

    def drain_alerts(self) -> Sequence[Toast]:
        return []

    # actions: recorded so a test can check what the UI asked for
    async def preview(self, req: OrderRequest) -> TicketPreview:
        inst = self.instruments.get(req.symbol)
        if inst is None:
            raise ValidationError(f"unknown symbol {req.symbol}")
        ref = req.price or D(str(self._tickers[req.symbol].mark_price))
        notional = inst.notional(req.size, ref)
        return TicketPreview(notional, notional / 5, notional * inst.taker_fee_rate, None, ())

    async def submit(self, req: OrderRequest) -> Order:
        self.submitted.append(req)
        return Order(ClientOrderId(f"t-snap-{len(self.submitted) + 1:04d}"), req.symbol, req.side, req.size,
                     req.order_type, req.price, req.tif, status=OrderStatus.OPEN)

    async def cancel(self, client_id: str) -> Order:
        self.actions.append(f"cancel {client_id}")
        return self._orders[0]

    async def amend(self, client_id: str, *, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        self.actions.append(f"amend {client_id}")
        return self._orders[0]

    async def cancel_all(self, symbol: str | None = None) -> int:
        self.actions.append("cancel_all")
        return 0

    async def close_position(self, symbol: str, fraction: Decimal = D(1)) -> Order | None:
        self.actions.append(f"close {symbol} {fraction}")
        return None

    async def kill(self, level: int, reason: str) -> None:
        self.kill_level = level
        self.state = TradingState.HALTED if level >= 4 else TradingState.REDUCING

    async def resume(self, passphrase: str | None = None) -> None:
        self.kill_level = 0
        self.state = TradingState.ACTIVE

    async def start_strategy(self, name: str, symbol: str, params: dict[str, object]) -> str:
        self.actions.append(f"start {name}")
        return name

    async def stop_strategy(self, strategy_id: str) -> None:
        self.actions.append(f"stop {strategy_id}")

    async def pause_strategy(self, strategy_id: str) -> None:
        self.actions.append(f"pause {strategy_id}")

    async def test_notification(self) -> bool:
        return True


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
