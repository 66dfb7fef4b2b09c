"""A venue (or a proxy in front of it) answering HTTP 200 with a body that is not JSON: a clear
TemporaryError (reads retried, orders "outcome unknown"), never an AttributeError escaping (exit 70)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web

from cashup_tui.adapters.ccxt_rest import GateRest
from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import TemporaryError
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Order
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET


@pytest.fixture
async def rest() -> AsyncIterator[GateRest]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(status=200, text="<html>down for maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)

    client = GateRest(f"http://127.0.0.1:{port}", api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET, rate_limit_ms=1,
                      timeout_s=3, sleep=sleep)
    try:
        yield client
    finally:
        await client.close()
        await runner.cleanup()


async def test_reads_get_a_clear_temporary_error(rest: GateRest) -> None:
    for call in (rest.load_instruments, rest.positions, rest.balances, rest.open_orders):
        with pytest.raises(TemporaryError, match="not JSON") as info:
            await call()
        assert "maintenance" in str(info.value)


async def test_an_order_answered_with_garbage_has_an_unknown_outcome(rest: GateRest) -> None:
    o = Order(client_id=ClientOrderId("t-nj1"), symbol="BTC_USDT", side=Side.BUY, size=Decimal(1), price=Decimal(100))
    with pytest.raises(TemporaryError, match="not JSON") as info:
        await rest.create_order(o)
    assert "outcome is unknown" in str(info.value)
