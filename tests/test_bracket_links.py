"""Bracket legs are linked to their entry by id (issue 10: `orders place --stop-loss/--take-profit` listed
every open reduce-only order on the symbol as a leg). Against `cashup sim serve` in testnet mode."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cashup_tui.app.panes.orders import open_rows
from cashup_tui.domain.orders import Order
from tests.test_runtime_cli import cashup
from tests.test_runtime_cli_sim import serve_sim

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def sim_serve(monkeypatch: pytest.MonkeyPatch):
    yield from serve_sim(monkeypatch)


def test_only_the_linked_exits_are_a_brackets_legs(capsys: pytest.CaptureFixture[str], sim_serve) -> None:
    t = ("--mode", "testnet", "--json")
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "3", "--type", "market", *t)
    assert rc == 0, err
    px = Decimal(json.loads(out)["order"]["avg_fill_price"])
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "sell", "1", "--reduce-only", "--client-id", "t-own1",
                          "--price", str((px * Decimal("1.03")).quantize(Decimal("0.1"))), *t)
    assert rc == 0 and json.loads(out)["order"]["status"] == "open", err
    sl, tp = (px * Decimal("0.97")).quantize(Decimal("0.1")), (px * Decimal("1.02")).quantize(Decimal("0.1"))
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "2", "--type", "market", "--client-id", "t-br1",
                          "--stop-loss", str(sl), "--take-profit", str(tp), *t)
    assert rc == 0, err
    legs = json.loads(out)["bracket"]
    assert sorted(x["type"] for x in legs) == ["stop_market", "take_profit"]  # not the unrelated t-own1
    assert all(x["reduce_only"] and x["size"] == "2" for x in legs)
    rc, out, err = cashup(capsys, "orders", "list", *t)
    rows = {o["client_id"]: o for o in json.loads(out)}
    assert rows["t-own1"]["bracket"] is None
    assert sorted((rows[x["client_id"]]["bracket"]["entry"], rows[x["client_id"]]["bracket"]["leg"]) for x in legs) == [
        ("t-br1", "SL"), ("t-br1", "TP")]
    rc, out, _ = cashup(capsys, "orders", "list", "--mode", "testnet")
    lines = {ln.split()[1]: ln for ln in out.splitlines()}  # after the created time
    assert "leg of" not in lines["t-own1"] and all("leg of t-br1]" in lines[x["client_id"]] for x in legs)


def test_the_orders_pane_marks_only_linked_legs() -> None:
    from cashup_tui.domain.enums import Side
    from tests.engine_fakes import order

    own = order(cid="t-own", side=Side.SELL, reduce_only=True)
    leg = order(cid="t-leg", side=Side.SELL, reduce_only=True)
    rows = dict(open_rows([own, leg], {"t-leg": ("t-entry", "SL")}))
    assert rows["t-own"][3] == "limit RO" and rows["t-leg"][3] == "limit RO SL leg of t-entry"
    assert isinstance(own, Order)
