"""`cashup fills`: the journal's executions with fees and realised PnL, as text, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from tests.test_runtime_cli import cashup

pytestmark = pytest.mark.timeout(60)
D = Decimal


def test_fills_list_every_execution_with_fees_and_realised_pnl(capsys: pytest.CaptureFixture[str]) -> None:
    for side, size in (("buy", "3"), ("sell", "1")):
        rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", side, size, "--type", "market")
        assert rc == 0, err
    rc, out, _ = cashup(capsys, "orders", "list", "--all", "--json")
    orders = {o["client_id"]: o for o in json.loads(out)}
    rc, out, err = cashup(capsys, "fills", "--json")
    assert rc == 0, err
    fills = json.loads(out)["fills"]
    assert [(f["side"], f["size"]) for f in fills] == [("buy", "3"), ("sell", "1")]
    for f in fills:  # each fill is its order's (one fill per market order here)
        o = orders[f["client_id"]]
        assert D(f["fee"]) == D(o["fees"]) and D(f["price"]) == D(o["avg_fill_price"]) and f["ts_ms"] > 0
    buy, sell = (D(f["price"]) for f in fills)
    assert D(fills[0]["realised_pnl"]) == 0
    assert D(fills[1]["realised_pnl"]) == 1 * D("0.0001") * (sell - buy)  # BTC_USDT: 0.0001 BTC a contract
    rc, out, _ = cashup(capsys, "fills", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and [r["client_id"] for r in rows] == [f["client_id"] for f in fills]
    rc, out, _ = cashup(capsys, "fills")
    assert rc == 0 and out.strip().splitlines()[-1].startswith("2 fills; fees ")
    rc, out, _ = cashup(capsys, "fills", "--symbol", "ETH_USDT", "--json")
    assert rc == 0 and json.loads(out)["fills"] == []
    rc, out, _ = cashup(capsys, "fills", "--since", str(fills[1]["ts_ms"]), "--json")
    assert [f["side"] for f in json.loads(out)["fills"]] == ["sell"]
    rc, out, _ = cashup(capsys, "fills", "--until", str(fills[1]["ts_ms"]), "--json")
    assert [f["side"] for f in json.loads(out)["fills"]] == ["buy"]
    # closing the rest makes one round trip: long 3, its realised PnL the fills' sum
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "sell", "2", "--type", "market")
    assert rc == 0, err
    rc, out, _ = cashup(capsys, "fills", "--json")
    fills = json.loads(out)["fills"]
    rc, out, _ = cashup(capsys, "fills", "--round-trips", "--json")
    (trip,) = json.loads(out)["round_trips"]
    assert (trip["side"], trip["size"], trip["fills"]) == ("long", "3", 3)
    assert D(trip["realised_pnl"]) == sum(D(f["realised_pnl"]) for f in fills)
    assert D(trip["fees"]) == sum(D(f["fee"]) for f in fills)
    rc, out, _ = cashup(capsys, "fills", "--round-trips", "--csv")
    assert rc == 0 and out.splitlines()[0].startswith("symbol,side,size,entry_price,exit_price")


@pytest.mark.parametrize(("args", "needle"), [
    (("--since", "yesterdayy"), "--since: cannot read"),
    (("--since", "2026-01-02", "--until", "2026-01-01"), "must be after --since"),
    (("--json", "--csv"), "not both"),
])
def test_bad_fills_options_are_one_clean_error(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                               needle: str) -> None:
    rc, out, err = cashup(capsys, "fills", *args)
    assert rc == 2 and needle in err and "Traceback" not in err and out == ""
