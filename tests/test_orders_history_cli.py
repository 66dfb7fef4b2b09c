"""`cashup orders list --all`: the order history in time order, each line with when the order was created
(and last changed), as the workstation's Fills tab shows it."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(60)
ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)  (t-\S+) .*?(?: updated (\S+))?$")  # always ms


def test_orders_history_in_time_order_with_times(capsys: pytest.CaptureFixture[str]) -> None:
    for cid, side in (("t-h1", "buy"), ("t-h2", "sell")):
        rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", side, "2", "--type", "market", "--client-id", cid)
        assert rc == 0, err
    rc, out, err = cashup(capsys, "orders", "list", "--all")
    assert rc == 0, err
    lines = [ISO.match(ln) for ln in out.splitlines()]
    assert all(lines) and [m[2] for m in lines] == ["t-h1", "t-h2"], out
    assert [m[1] for m in lines] == sorted(m[1] for m in lines)  # one width: text order is time order
    rc, out, _ = cashup(capsys, "orders", "list", "--all", "--json")
    rows = json.loads(out)
    assert [r["client_id"] for r in rows] == ["t-h1", "t-h2"] and all(r["created_ms"] > 0 for r in rows)
