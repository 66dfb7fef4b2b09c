"""The trading CLI in process: `cashup orders|positions|risk|trade` in demo mode, clean errors, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cashup_tui.cli.main import run

pytestmark = pytest.mark.timeout(60)


def cashup(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        run(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_place_is_idempotent_by_client_id_and_lists(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "3", "--type", "market",
                          "--client-id", "t-cli1", "--json")
    assert rc == 0, err
    first = json.loads(out)
    assert not first["existed"] and first["order"]["status"] == "filled" and first["order"]["filled"] == "3"
    rc, out, _ = cashup(capsys, "positions", "--json")
    assert rc == 0 and json.loads(out)["positions"][0]["size"] == "3"
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "3", "--type", "market",
                          "--client-id", "t-cli1", "--json")
    again = json.loads(out)
    assert rc == 0 and again["existed"] and again["order"]["client_id"] == "t-cli1"
    rc, out, _ = cashup(capsys, "orders", "list", "--all", "--json")
    assert rc == 0 and [o["client_id"] for o in json.loads(out)] == ["t-cli1"]
    rc, out, _ = cashup(capsys, "positions", "--json")  # each demo run has a fresh simulator: flat again
    assert rc == 0 and json.loads(out)["positions"] == []


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (("orders", "place", "BTC_USDT", "buy", "abc"), "SIZE 'abc' is not a number", 2),
        (("orders", "place", "BTC_USDT", "up", "1"), "must be buy or sell", 2),
        (("orders", "place", "BTC_USDT", "buy", "1", "--client-id", "x y"), "client order id", 2),
        (("orders", "place", "BTC_USDT", "buy", "NaN", "--type", "market"), "SIZE 'NaN' is not a number", 2),
        (("orders", "place", "BTC_USDT", "buy", "0", "--type", "market"), "risk: input_sanity", 1),
        (("orders", "place", "BTC_USDT", "buy", "1", "--price", "1"), "risk: price_band", 1),
        (("orders", "place", "BTC_USDT", "buy", "1", "--mode", "moon"), "'moon' is not one of 'demo', 'paper', 'testnet', 'live'", 2),
        (("risk", "kill", "7"), "kill level 7 is not 1..4", 2),
        (("orders", "cancel"), "give a client id or --all", 2),
    ],
)
def test_bad_input_is_one_clean_line(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str,
                                     code: int) -> None:
    rc, out, err = cashup(capsys, *args)
    assert rc == code, (rc, out, err)
    assert needle in err and "Traceback" not in err + out


def test_kill_switch_and_resume_persist(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = cashup(capsys, "risk", "kill", "1", "--reason", "lunch", "--json")
    assert rc == 0 and json.loads(out)["state"] == "reducing"
    rc, out, _ = cashup(capsys, "risk", "status", "--json")
    st = json.loads(out)
    assert st["state"] == "reducing" and st["kill_level"] == 1 and st["reason"] == "lunch"
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "1", "--type", "market")
    assert rc == 1 and "risk: trading_state" in err
    rc, out, _ = cashup(capsys, "risk", "kill", "4", "--json")
    assert rc == 0 and json.loads(out)["state"] == "halted"
    rc, out, _ = cashup(capsys, "risk", "resume", "--json")
    assert rc == 0 and json.loads(out) == {"mode": "demo", "state": "active", "previous_kill_level": 4}
    rc, out, _ = cashup(capsys, "risk", "report", "--json")
    assert rc == 0 and "stress" in json.loads(out)


def test_sync_and_trade_headless(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    strat = tmp_path / "always_long.py"
    strat.write_text(
        "from cashup_tui.engine.strategy import Strategy\n\n"
        "class AlwaysLong(Strategy):\n"
        "    \"\"\"Long on every tick.\"\"\"\n"
        "    vectorised = False\n\n"
        "    def on_ticker(self, ctx, t):\n"
        "        ctx.target(1.0)\n"
    )
    rc, out, err = cashup(capsys, "trade", "--strategy", str(strat), "--symbol", "BTC_USDT", "--duration", "2",
                          "--notional", "300", "--warmup", "0", "--status-every", "0", "--json")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["strategy"]["orders"] >= 1 and summary["position"] != "0"
    assert summary["strategy"]["error"] == ""
    rc, out, _ = cashup(capsys, "orders", "sync", "--json")
    assert rc == 0 and json.loads(out)["mode"] == "demo"  # a fresh demo simulator: the venue is flat again
    rc, _, err = cashup(capsys, "trade", "--strategy", "no_such_strategy", "--symbol", "BTC_USDT")
    assert rc == 1 and "unknown strategy" in err


def test_bracket_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "4", "--type", "market",
                          "--stop-loss", "26000", "--take-profit", "27500", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["order"]["status"] == "filled"
    legs = sorted((x["type"], x["trigger_price"], x["size"], x["reduce_only"]) for x in res["bracket"])
    assert legs == [("stop_market", "26000", "4", True), ("take_profit", "27500", "4", True)]
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "4", "--stop-loss", "25000")
    assert rc == 2 and "needs both" in err
    rc, _, err = cashup(capsys, "orders", "place", "BTC_USDT", "buy", "4", "--type", "market",
                        "--stop-loss", "20000", "--take-profit", "27500")
    assert rc == 1 and "risk: price_band: stop_price 20000" in err
    rc, out, _ = cashup(capsys, "orders", "list", "--all", "--json")
    assert len(json.loads(out)) == 3  # the refused bracket sent nothing: not even its entry


def test_risk_report_with_stored_candles(capsys: pytest.CaptureFixture[str], market_dir: Path) -> None:
    """VaR 95/99 from a year of real BTC_USDT 1h candles in the store, stress rows, exposure."""
    import csv
    from decimal import Decimal

    from cashup_tui.domain.positions import Position
    from cashup_tui.paths import default_db_path
    from cashup_tui.store import open_store
    from cashup_tui.store.candles import upsert_candles
    from cashup_tui.store.journal import StoreJournal

    path = market_dir / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared data")
    with path.open() as fh:
        rows = [(int(r["open_time_ms"]), float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]))
                for r in csv.DictReader(fh)]
    store = open_store(str(default_db_path("demo")))
    try:
        upsert_candles(store, "BTC_USDT", "1h", rows)
        j = StoreJournal(store, "demo")
        j.save_positions([Position("BTC_USDT", Decimal("0.0001"), size=Decimal(1000), entry_price=Decimal(60000),
                                   leverage=Decimal(5))])
    finally:
        store.close()
    rc, out, err = cashup(capsys, "risk", "report", "--json")
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["var"]["days"] > 300 and 0 < rep["var"]["var95"] <= rep["var"]["var99"]
    assert rep["exposure"]["BTC_USDT"]["long"] != "0"
    shocks = {(r["scope"], r["shock_pct"]): r for r in rep["stress"]}
    assert shocks[("BTC_USDT", -30)]["liquidated"] == ["BTC_USDT"] and shocks[("BTC_USDT", 5)]["liquidated"] == []
    rc, out, _ = cashup(capsys, "risk", "report")
    assert rc == 0 and "1-day historical VaR" in out

