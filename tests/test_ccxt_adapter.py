"""Our ccxt REST adapter (cashup_tui.adapters.gateio.rest_translate) against the simulator: mapping to domain
objects, error translation, read retries, and the no-blind-retry rule for orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from ccxt.base import errors as cx

from cashup_tui.adapters.gateio.rest import GateRest
from cashup_tui.adapters.gateio.rest_translate import translate_error
from cashup_tui.adapters.sim.rest import REST_HITS
from cashup_tui.adapters.sim.server import SimServer
from cashup_tui.cli.data import gate_rest
from cashup_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from cashup_tui.domain.errors import (
    AuthenticationError,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TemporaryError,
    ValidationError,
)
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Order
from cashup_tui.settings import load_settings
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET

ORDERS = "POST /api/v4/futures/usdt/orders"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(["BTC_USDT", "ETH_USDT"], seed=11, run_loop=False, backfill=300,
                       api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET)  # fmt: skip
    await server.start()
    for _ in range(5):
        server.step()
    try:
        yield server
    finally:
        await server.stop()


class Sleeps:
    """Records backoff delays instead of sleeping (keeps the test fast and checks the policy)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, s: float) -> None:
        self.delays.append(s)


@pytest.fixture
async def rest(sim: SimServer) -> AsyncIterator[GateRest]:
    client = GateRest(sim.rest_url, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET, rate_limit_ms=1,
                      timeout_s=3, sleep=Sleeps())  # fmt: skip
    try:
        yield client
    finally:
        await client.close()


def limit_order(cid: str, price: Decimal, size: str = "2", side: Side = Side.BUY) -> Order:
    return Order(client_id=ClientOrderId(cid), symbol="BTC_USDT", side=side, size=Decimal(size), price=price)


def far_bid(sim: SimServer) -> Decimal:
    return Decimal(sim.state.market.order_book("BTC_USDT", 20)["bids"][-1]["p"])


async def test_instruments_book_candles_funding(sim: SimServer, rest: GateRest) -> None:
    inst = await rest.load_instruments()
    assert set(inst) == {"BTC_USDT", "ETH_USDT"}
    assert inst["BTC_USDT"].quanto_multiplier == Decimal(sim.state.contracts["BTC_USDT"]["quanto_multiplier"])
    assert inst["BTC_USDT"] == sim.state.instruments["BTC_USDT"]

    book = await rest.order_book("BTC_USDT", 10)
    assert book.update_id > 0 and len(book.bids) == 10 and book.bids[0].price < book.asks[0].price
    assert isinstance(book.bids[0].size, Decimal)

    rows = sim.state.market.candles("BTC_USDT", "1m", None, None, 300)
    first_ms, last_ms = rows[0]["t"] * 1000, rows[-1]["t"] * 1000
    pages: list = []
    rest.candle_page_points = 50  # force several pages
    candles = await rest.fetch_candles("BTC_USDT", "1m", first_ms, last_ms + 60_000, progress=pages.append)
    assert [c.open_ms for c in candles] == [r["t"] * 1000 for r in rows]
    assert candles[5].close == Decimal(rows[5]["c"]) and candles[5].volume == Decimal(rows[5]["v"])
    assert len(pages) == 6 and pages[-1].total_rows == len(rows) and pages[-1].done_ms >= last_ms
    assert sim.app[REST_HITS]["GET /api/v4/futures/usdt/candlesticks"] == 6
    with pytest.raises(ValidationError, match="timeframe"):
        await rest.fetch_candles("BTC_USDT", "2m", first_ms, last_ms)

    # the one "recent bars" read: closed bars only (warm-up, backtests), or with the forming one (charts)
    now = last_ms + 30_000  # half-way through the last stored bar
    closed = await rest.recent_bars("BTC_USDT", "1m", 10, now)
    assert [b.open_ms for b in closed] == [r["t"] * 1000 for r in rows[-11:-1]]
    assert closed[-1].close == float(rows[-2]["c"])
    forming = await rest.recent_bars("BTC_USDT", "1m", 10, now, closed_only=False)
    assert [b.open_ms for b in forming] == [r["t"] * 1000 for r in rows[-11:]]

    funding = await rest.funding_history("BTC_USDT", 5)
    assert all(isinstance(f.rate, Decimal) for f in funding)
    assert [f.ts_ms for f in funding] == sorted(f.ts_ms for f in funding)


async def test_order_lifecycle_maps_to_domain(sim: SimServer, rest: GateRest) -> None:
    await rest.load_instruments()
    price = far_bid(sim)
    placed = await rest.create_order(limit_order("t-life-1", price))
    assert placed.status is OrderStatus.OPEN and placed.client_id == "t-life-1" and placed.price == price
    assert placed.venue_order_id is not None and int(placed.venue_order_id) > 2**53
    assert [o.client_id for o in await rest.open_orders("BTC_USDT")] == ["t-life-1"]

    by_text = await rest.fetch_order("t-life-1")
    by_id = await rest.fetch_order(placed.venue_order_id)
    assert by_text == by_id

    tick = sim.state.instruments["BTC_USDT"].price_tick
    amended = await rest.amend_order("t-life-1", side=Side.BUY, price=price - tick, size=Decimal(3))
    assert amended.price == price - tick and amended.size == 3

    cancelled = await rest.cancel_order("t-life-1")
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.reason == "cancelled"
    with pytest.raises(OrderNotFound):
        await rest.cancel_order("t-life-1")

    market = Order(client_id=ClientOrderId("t-life-mkt"), symbol="BTC_USDT", side=Side.BUY, size=Decimal(4),
                   order_type=OrderType.MARKET, tif=TimeInForce.GTC)  # fmt: skip
    filled = await rest.create_order(market)  # tif forced to ioc (Gate's rule for price 0)
    assert filled.status is OrderStatus.FILLED and filled.filled == 4 and filled.avg_fill_price > 0

    fills = await rest.my_trades("BTC_USDT")
    assert sum(f.size for f in fills) == 4 and {f.client_id for f in fills} == {"t-life-mkt"}
    assert all(f.fee > 0 and f.side is Side.BUY for f in fills)
    assert await rest.my_trades("BTC_USDT", since_ms=fills[-1].ts_ms + 1000) == []

    positions = await rest.positions()
    assert [(p.symbol, p.size) for p in positions] == [("BTC_USDT", Decimal(4))]
    assert positions[0].quanto_multiplier == sim.state.instruments["BTC_USDT"].quanto_multiplier
    (bal,) = await rest.balances()
    assert bal.currency == "USDT" and 0 < bal.available < bal.total

    assert await rest.user_id() == sim.state.user_id
    lev = await rest.set_leverage("BTC_USDT", Decimal(7))
    assert lev["leverage"] == "7"
    assert (await rest.countdown_cancel_all(30)) > 0
    assert (await rest.countdown_cancel_all(0)) == 0


async def test_rejections_are_domain_errors(sim: SimServer, rest: GateRest) -> None:
    price = far_bid(sim)
    with pytest.raises(OrderRejected, match="SIZE_TOO_LARGE"):
        await rest.create_order(limit_order("t-too-big", price, size="100000000"))
    with pytest.raises(OrderRejected, match="CONTRACT_NOT_FOUND"):
        await rest.create_order(Order(client_id=ClientOrderId("t-nosym"), symbol="NOPE_USDT", side=Side.BUY,
                                      size=Decimal(1), price=price))  # fmt: skip
    with pytest.raises(OrderNotFound):
        await rest.fetch_order("t-never-sent")
    assert await rest.fetch_order_by_client_id("t-never-sent") is None


@pytest.mark.parametrize(
    ("cid", "ok"),
    [
        ("t-" + "a" * 27, True),
        ("t-" + "a" * 28, True),
        ("t-" + "a" * 29, False),
        ("tabc", False),
        ("t-has space", False),
        ("t-a/b", False),
        ("t-", False),
    ],
)
async def test_client_id_rules_checked_before_sending(sim: SimServer, rest: GateRest, cid: str, ok: bool) -> None:
    order = limit_order(cid, far_bid(sim), size="1")
    if ok:
        placed = await rest.create_order(order)
        assert placed.client_id == cid
        assert sim.app[REST_HITS][ORDERS] == 1
    else:
        with pytest.raises(ValidationError, match="not valid for Gate"):
            await rest.create_order(order)
        assert sim.app[REST_HITS][ORDERS] == 0  # refused locally: nothing went out


async def test_wrong_key_and_secret_are_clear_auth_errors(sim: SimServer) -> None:
    for key, secret, words in (("wrong-key", FAKE_API_SECRET, "INVALID_KEY"), (FAKE_API_KEY, "bad", "INVALID_SIGNATURE")):
        async with GateRest(sim.rest_url, api_key=key, api_secret=secret, rate_limit_ms=1) as bad:
            with pytest.raises(AuthenticationError, match=words) as info:
                await bad.balances()
            assert info.value.hint  # says what to check
    async with GateRest(sim.rest_url, api_key="", api_secret="", rate_limit_ms=1) as nokeys:
        with pytest.raises(AuthenticationError, match="no API key"):
            await nokeys.positions()
        assert len(await nokeys.load_instruments()) == 2  # public calls still work


async def test_clock_skew_is_reported_as_clock_problem(sim: SimServer, rest: GateRest) -> None:
    sim.faults.set("clock_skew_ms", -120_000)
    with pytest.raises(AuthenticationError) as info:
        await rest.positions()
    text = str(info.value)
    assert "clock" in text and "not a key problem" in text and "INVALID_KEY" not in text


async def test_429_on_reads_is_retried_with_backoff(sim: SimServer, rest: GateRest) -> None:
    sim.faults.set("http_429_next", 2)
    book = await rest.order_book("BTC_USDT", 5)
    assert book.bids
    assert sim.app[REST_HITS]["GET /api/v4/futures/usdt/order_book"] == 3
    sleeps = rest._sleep  # type: ignore[attr-defined]
    assert len(sleeps.delays) == 2 and all(0 < d <= rest.backoff_max_s * 1.5 for d in sleeps.delays)

    sim.faults.set("http_429_next", 10)  # more than the retry budget: the error surfaces, typed
    with pytest.raises(RateLimited):
        await rest.positions()
    assert sim.app[REST_HITS]["GET /api/v4/futures/usdt/positions"] == rest.read_retries + 1
    sim.faults.reset()

    sim.faults.set("http_5xx_next", 1)
    assert await rest.positions() == []  # 502 on a read: retried


async def test_5xx_on_create_is_not_retried_and_order_not_placed(sim: SimServer, rest: GateRest) -> None:
    sim.faults.set("http_5xx_next", 1)
    with pytest.raises(TemporaryError) as info:
        await rest.create_order(limit_order("t-5xx-1", far_bid(sim)))
    assert not isinstance(info.value, RateLimited) and "client id" in info.value.hint
    assert sim.app[REST_HITS][ORDERS] == 1  # sent once, never retried
    assert await rest.fetch_order_by_client_id("t-5xx-1") is None  # the gateway refused before the venue
    assert await rest.open_orders() == []


async def test_lost_ack_on_create_then_found_by_text_exactly_once(sim: SimServer, rest: GateRest) -> None:
    sim.faults.set("lose_next_acks", 1)
    with pytest.raises(TemporaryError):
        await rest.create_order(limit_order("t-lostack-1", far_bid(sim)))
    assert sim.app[REST_HITS][ORDERS] == 1
    found = await rest.fetch_order_by_client_id("t-lostack-1")
    assert found is not None and found.status is OrderStatus.OPEN and found.venue_order_id
    assert [o.client_id for o in await rest.open_orders("BTC_USDT")].count("t-lostack-1") == 1


async def test_delayed_ack_times_out_as_temporary_and_order_stands(sim: SimServer) -> None:
    sim.faults.set("ack_delay_ms", 1500)
    async with GateRest(sim.rest_url, api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET, rate_limit_ms=1,
                        timeout_s=0.4) as rest:  # fmt: skip
        with pytest.raises(TemporaryError):
            await rest.cancel_all("BTC_USDT")  # order ops: any ack may be late
        with pytest.raises(TemporaryError):
            await rest.create_order(limit_order("t-slow-1", far_bid(sim)))
        sim.faults.set("ack_delay_ms", 0)
        found = await rest.fetch_order_by_client_id("t-slow-1")
        assert found is not None and found.status is OrderStatus.OPEN
    assert sim.app[REST_HITS][ORDERS] == 1


def test_translate_error_table() -> None:
    body = '{"label":"%s","message":"m"}'
    cases = [
        (cx.AuthenticationError("gate " + body % "INVALID_KEY"), AuthenticationError),
        (cx.RateLimitExceeded("gate " + body % "TOO_MANY_REQUESTS"), RateLimited),
        (cx.DDoSProtection("gate 403"), TemporaryError),
        (cx.RequestTimeout("timeout"), TemporaryError),
        (cx.ExchangeNotAvailable("gate 502"), TemporaryError),
        (cx.NetworkError("reset"), TemporaryError),
        (cx.OrderNotFound("gate " + body % "ORDER_NOT_FOUND"), OrderNotFound),
        (cx.InsufficientFunds("gate " + body % "INSUFFICIENT_AVAILABLE"), OrderRejected),
        (cx.InvalidOrder("gate " + body % "ORDER_POC_IMMEDIATE"), OrderRejected),
    ]
    for exc, kind in cases:
        out = translate_error(exc, action="x")
        assert type(out) is kind, (exc, out)
    assert type(translate_error(cx.BadRequest("gate " + body % "INVALID_PARAM_VALUE"), action="read")) is ValidationError
    assert type(translate_error(cx.BadRequest("x"), action="place", order_op=True)) is OrderRejected
    with pytest.raises(KeyError):
        translate_error(KeyError("a bug"), action="x")  # not an exchange condition: not disguised


async def test_from_settings_uses_env_url_and_keys(monkeypatch: pytest.MonkeyPatch, sim: SimServer) -> None:
    monkeypatch.setenv("CASHUP_GATE_REST_URL", sim.rest_url)
    monkeypatch.setenv("CASHUP_GATE_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("CASHUP_GATE_API_SECRET", FAKE_API_SECRET)
    settings = load_settings()
    async with gate_rest(settings, rate_limit_ms=1) as rest:
        assert rest.rest_url == sim.rest_url
        assert rest.ccxt.urls["api"]["private"]["futures"] == sim.rest_url
        assert rest.ccxt.verbose is False
        assert (await rest.balances())[0].total > 0
    testnet = gate_rest(settings, testnet=True)
    try:
        assert testnet.rest_url == settings.gate.testnet_rest_url.rstrip("/")
    finally:
        await testnet.close()
    with pytest.raises(ValidationError, match="http"):
        GateRest("ftp://nowhere")


def test_ccxt_is_called_from_one_module_only() -> None:
    """The architecture rule: ccxt errors are translated in one place, so only the REST pair
    (adapters/gateio/rest_translate.py: translation and parsing, rest.py: the client) imports ccxt."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "cashup_tui"
    pattern = re.compile(r"^\s*(import ccxt|from ccxt)", re.MULTILINE)
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if str(p.relative_to(root)) not in ("adapters/gateio/rest_translate.py", "adapters/gateio/rest.py")
        and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
