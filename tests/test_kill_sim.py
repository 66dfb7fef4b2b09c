"""Kill level 1 against `cashup sim serve` (testnet mode): a resting entry is cancelled at the venue, the exits stay."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.test_runtime_cli import cashup
from tests.test_runtime_cli_sim import serve_sim

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def sim_serve(monkeypatch: pytest.MonkeyPatch):
    yield from serve_sim(monkeypatch)


def test_kill_1_cancels_a_resting_entry_at_the_venue_and_keeps_the_reduce_only_exits(
        capsys: pytest.CaptureFixture[str], sim_serve) -> None:
    t = ("--mode", "testnet", "--json")
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "2", "--type", "market", *t)
    assert rc == 0, err
    px = Decimal(json.loads(out)["order"]["avg_fill_price"])
    below = (px * Decimal("0.98")).quantize(Decimal("0.1"))
    above = (px * Decimal("1.02")).quantize(Decimal("0.1"))
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--price", str(below),
                          "--client-id", "t-entry1", *t)
    assert rc == 0 and json.loads(out)["order"]["status"] == "open", err
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "sell", "1", "--price", str(above), "--reduce-only",
                          "--client-id", "t-exit1", *t)
    assert rc == 0 and json.loads(out)["order"]["status"] == "open", err
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "sell", "1", "--type", "take_profit",
                          "--trigger", str(above), "--reduce-only", "--client-id", "t-tp1", *t)
    assert rc == 0, err
    rc, out, err = cashup(capsys, "risk", "kill", "1", "--reason", "k1 test", *t)
    assert rc == 0, err
    k = json.loads(out)
    assert k["state"] == "reducing" and k["actions"] == ["cancelled t-entry1"]
    rc, out, err = cashup(capsys, "orders", "sync", *t)
    assert rc == 0 and json.loads(out)["changes"] == [], err  # the journal agrees with the venue
    rc, out, err = cashup(capsys, "orders", "list", "--all", *t)
    status = {o["client_id"]: o["status"] for o in json.loads(out)}
    assert status["t-entry1"] == "cancelled"
    assert status["t-exit1"] == "open" and status["t-tp1"] == "open"
