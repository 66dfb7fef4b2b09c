"""A venue (or a proxy in front of it) answering HTTP 200 with a body that is not JSON: a clear
TemporaryError (reads retried, orders "outcome unknown"), never an AttributeError escaping (exit 70)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from cashup_tui.adapters.gateio.rest import GateRest
from cashup_tui.domain.enums import Side
from cashup_tui.domain.errors import TemporaryError
from cashup_tui.domain.ids import ClientOrderId
from cashup_tui.domain.orders import Order
from tests.conftest import FAKE_API_KEY, FAKE_API_SECRET
from tests.notify_helpers import http_sink


@pytest.fixture
async def rest() -> AsyncIterator[GateRest]:
    """Our adapter against a loopback server answering every request 200 with the text "ok"."""
    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)

    async with http_sink() as sink:
        client = GateRest(f"http://127.0.0.1:{sink.port}", api_key=FAKE_API_KEY, api_secret=FAKE_API_SECRET,
                          rate_limit_ms=1, timeout_s=3, sleep=sleep)
        try:
            yield client
        finally:
            await client.close()


async def test_reads_get_a_clear_temporary_error(rest: GateRest) -> None:
    for call in (rest.load_instruments, rest.positions, rest.balances, rest.open_orders):
        with pytest.raises(TemporaryError, match="not JSON") as info:
            await call()
        assert "'ok'" in str(info.value)


async def test_an_order_answered_with_garbage_has_an_unknown_outcome(rest: GateRest) -> None:
    o = Order(client_id=ClientOrderId("t-nj1"), symbol="BTC_USDT", side=Side.BUY, size=Decimal(1), price=Decimal(100))
    with pytest.raises(TemporaryError, match="not JSON") as info:
        await rest.create_order(o)
    assert "outcome is unknown" in str(info.value)
