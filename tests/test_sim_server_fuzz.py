"""Hypothesis: any request text a client sends gets a frame back (ack, pong or error), never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashup_tui.adapters.sim.contracts import build_contracts
from cashup_tui.adapters.sim.faults import Faults
from cashup_tui.adapters.sim.market import SyntheticMarket
from cashup_tui.adapters.sim.state import SimState
from cashup_tui.adapters.sim.ws import Conn, WsHub

_market = SyntheticMarket(["BTC_USDT"], seed=1, start_ms=1_700_000_000_000, backfill=10)
_inst, _contracts = build_contracts(["BTC_USDT"])
_state = SimState(_inst, _contracts, _market, None, Faults(), {"k": "s"}, 7, lambda: 1_700_000_000_000)  # type: ignore[arg-type]
_hub = WsHub(_state, _market)


class _Sink(Conn):
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sent.append(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
channels = st.sampled_from(
    ["futures.tickers", "futures.trades", "futures.book_ticker", "futures.order_book_update", "futures.order_book",
     "futures.candlesticks", "futures.orders", "futures.balances", "futures.ping", "futures.nope", ""]
)  # fmt: skip
requests = st.fixed_dictionaries(
    {"channel": channels | json_values, "event": st.sampled_from(["subscribe", "unsubscribe", "api", "x"]) | json_values},
    optional={"payload": json_values | st.lists(st.sampled_from(["BTC_USDT", "100ms", "20", "1m", "7", "!all"]) | json_values, max_size=4),
              "time": json_values, "id": json_values, "auth": json_values},
)  # fmt: skip


def _check(text: str) -> None:
    conn = _Sink()
    _hub.on_text(conn, text)
    assert len(conn.sent) == 1
    frame: dict[str, Any] = json.loads(conn.sent[0])
    assert {"time", "time_ms", "channel", "event"} <= set(frame)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
def test_structured_garbage_gets_one_frame(req: dict[str, Any]) -> None:
    _check(json.dumps(req))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_raw_garbage_gets_one_frame(text: str) -> None:
    _check(text)
