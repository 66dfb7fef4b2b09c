"""Portfolio runs are stored like one-symbol runs (issue 15): `backtest list/show` list them with their
fingerprint and per-symbol table; the HTML report has a per-symbol section (shared with sleeves); bad
input stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_backtest_cli import cli  # noqa: F401 (fixture)
from tests.test_backtest_portfolio_cli import _data, three  # noqa: F401 (fixture)

ARGS = ("--param", "lookback=12", "--to", "2025-04-15")


def _runs(cli, db: Path) -> list[dict]:  # noqa: F811
    r = cli("backtest", "list", "--json", db=db)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["runs"]


def test_a_portfolio_run_is_stored_listed_shown_and_reported(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    db, html = tmp_path / "db.sqlite", tmp_path / "r.html"
    r = cli("backtest", "run", "xsec_momentum", *_data(three), *ARGS, "--json", "--report", str(html), db=db)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert run["stored"] is True and run["run_id"] == 1
    again = json.loads(cli("backtest", "run", "xsec_momentum", *_data(three), *ARGS, "--json", db=db).stdout)
    assert again["fingerprint"] == run["fingerprint"] and again["run_id"] == 2  # same inputs, same fingerprint
    event = json.loads(cli("backtest", "run", "xsec_momentum", *_data(three), *ARGS, "--json", "--engine", "event",
                           db=db).stdout)
    assert event["fingerprint"] != run["fingerprint"]  # the engine is part of it, as for one symbol
    listed = _runs(cli, db)
    assert [x["id"] for x in listed] == [3, 2, 1]
    first = listed[-1]
    assert first["symbol"] == "BTC_USDT,ETH_USDT,SOL_USDT" and first["timeframe"] == "1h"
    assert first["fingerprint"] == run["fingerprint"] and first["status"] == "done"
    assert first["metrics"]["final_equity"] == run["final_equity"]
    assert [s["symbol"] for s in first["metrics"]["per_symbol"]] == ["BTC_USDT", "ETH_USDT", "SOL_USDT"]
    shown = cli("backtest", "show", "1", db=db)
    assert shown.returncode == 0, shown.stderr
    for word in ("per symbol", "SOL_USDT", "correlation of the symbols' bar returns", run["fingerprint"]):
        assert word in shown.stdout, word
    eq = json.loads(cli("backtest", "show", "1", "--json", db=db).stdout)["equity"]
    assert eq[-1][1] == run["final_equity"]
    page = html.read_text()
    for word in ("Per symbol", "final weight", "turnover", "Correlation of symbol close-to-close returns",
                 "ETH_USDT", "SOL_USDT", run["fingerprint"], "run 1"):
        assert word in page, word
    corr = run["correlation"]
    assert abs(corr["BTC_USDT"]["BTC_USDT"] - 1.0) < 1e-12 and -1 <= corr["BTC_USDT"]["ETH_USDT"] <= 1


def test_bad_input_stores_nothing(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "db.sqlite"
    for extra, code, msg in ((["--param", "short=true"], 1, "short weight -0.5 for"),
                             (["--data", "BTC_USDT=nope.csv"], 1, "BTC_USDT is given twice"),
                             (["--no-store"], 0, "")):
        r = cli("backtest", "run", "xsec_momentum", *_data(three), *ARGS, *extra, db=db)
        assert r.returncode == code and msg in r.stderr, (extra, r.stderr)
    assert _runs(cli, db) == []


def test_sleeves_report_has_the_same_per_symbol_section(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    html = tmp_path / "s.html"
    r = cli("backtest", "run", "sma_cross", *_data(three[:2]), "--to", "2025-04-15", "--no-store", "--report",
            str(html), db=tmp_path / "db.sqlite")
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    for word in ("Per symbol", "final weight", "Correlation of sleeve bar returns", "ETH_USDT", "Trades ("):
        assert word in page, word
