"""Sleeves: a one-symbol strategy over several symbols with the cash split once (issue 15).

The identity: the whole equals the one-symbol runs with their share of the cash, trade for trade, on
both engines, on real Gate BTC and ETH 1h candles. Bad input exits 2 naming the symbol, nothing stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MARKET_DIR, need_shared
from tests.test_backtest_cli import cli  # noqa: F401  (the in-process CLI fixture)

BTC = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
ETH = "gateio_usdt_perp_ETH_USDT_1h_2025-02-25_2026-02-25.csv"
SPAN = ("--from", "2025-06-01", "--to", "2025-09-01")  # ~2,200 bars: the event engine stays quick


@pytest.fixture
def files() -> tuple[Path, Path]:
    btc, eth = need_shared(MARKET_DIR / BTC), need_shared(MARKET_DIR / ETH)
    return btc, eth


def _trades(rows: list[dict]) -> list[tuple]:
    return [(t["entry_time"], t["exit_time"], t["side"], t["exit_reason"]) for t in rows]


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_sleeves_equal_the_one_symbol_runs_on_both_engines(cli, files, engine: str) -> None:  # noqa: F811
    btc, eth = files
    common = ["sma_cross", *SPAN, "--engine", engine, "--no-store", "--json", "--allow-short"]
    for alloc, shares in (("equal", {"BTC_USDT": 10_000.0, "ETH_USDT": 10_000.0}),
                          ("weights:BTC_USDT=0.6,ETH_USDT=0.4", {"BTC_USDT": 12_000.0, "ETH_USDT": 8_000.0})):
        out = cli("backtest", "run", *common, "--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={eth}",
                  "--allocation", alloc, "--cash", "20000")
        assert out.returncode == 0, out.stderr
        whole = json.loads(out.stdout)
        assert whole["engine"] == engine and whole["allocation"] == {s: c / 20_000 for s, c in shares.items()}
        finals = 0.0
        for sym, path in (("BTC_USDT", btc), ("ETH_USDT", eth)):
            one = cli("backtest", "run", *common, "--data", str(path), "--cash", str(shares[sym]))
            assert one.returncode == 0, one.stderr
            single = json.loads(one.stdout)
            mine = [t for t in whole["trades"] if t["symbol"] == sym]
            assert single["trade_count"] > 5
            assert _trades(mine) == _trades(single["trades"])  # trade for trade
            assert [t["qty"] for t in mine] == [t["qty"] for t in single["trades"]]
            assert [t["pnl"] for t in mine] == [t["pnl"] for t in single["trades"]]
            row = next(r for r in whole["sleeves"] if r["symbol"] == sym)
            assert row["final_equity"] == single["final_equity"]
            assert row["trade_count"] == single["trade_count"]
            assert row["cash"] == shares[sym]
            finals += single["final_equity"]
        assert whole["final_equity"] == pytest.approx(finals, rel=1e-12)
        assert whole["trade_count"] == len(whole["trades"])
        assert sum(r["contribution"] for r in whole["sleeves"]) == pytest.approx(whole["total_return"], abs=1e-12)
        assert whole["correlation"]["BTC_USDT"]["BTC_USDT"] == pytest.approx(1.0)
        assert -1 <= whole["correlation"]["BTC_USDT"]["ETH_USDT"] <= 1


def test_whole_equity_is_the_sum_of_the_sleeves_at_every_bar(files) -> None:
    from cashup_tui.engine.backtest.data import load_csv, slice_bars
    from cashup_tui.engine.backtest.fast import run_fast
    from cashup_tui.engine.backtest.model import RunConfig
    from cashup_tui.engine.backtest.sleeves import combine
    from cashup_tui.engine.strategy import load_strategy

    cls = load_strategy("sma_cross")
    res = {sym: run_fast(cls(), slice_bars(load_csv(p), *SPAN[1::2]), RunConfig(cash=5_000.0))
           for sym, p in zip(("BTC_USDT", "ETH_USDT"), files, strict=True)}
    sl = combine(res, {"BTC_USDT": 0.5, "ETH_USDT": 0.5}, 10_000.0)
    np.testing.assert_array_equal(sl.whole.equity, res["BTC_USDT"].equity + res["ETH_USDT"].equity)
    assert sl.whole.trades.size == res["BTC_USDT"].trades.size + res["ETH_USDT"].trades.size


def _cut(src: Path, dst: Path, skip_rows: slice) -> Path:
    lines = src.read_text().splitlines()
    body = lines[1:2000]
    del body[skip_rows]
    dst.write_text("\n".join([lines[0], *body]) + "\n")
    return dst


def _listed(cli, db: Path) -> int:  # noqa: F811
    out = cli("backtest", "list", "--json", db=db)
    return len(json.loads(out.stdout)["runs"])


def test_bad_input_exits_2_naming_the_symbol_and_runs_nothing(cli, files, tmp_path: Path) -> None:  # noqa: F811
    btc, eth = files
    db = tmp_path / "s.db"
    both = ["--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={eth}"]
    late = _cut(eth, tmp_path / "eth_late.csv", slice(0, 10))  # starts 10 bars later
    holed = _cut(eth, tmp_path / "eth_hole.csv", slice(500, 503))  # three bars missing inside
    btc_cut = _cut(btc, tmp_path / "btc.csv", slice(0, 0))  # the same 1999 bars, none missing
    lines = eth.read_text().splitlines()[:300]
    shifted = tmp_path / "eth_shift.csv"  # on the half hour: no time in common with BTC
    shifted.write_text("\n".join([lines[0], *[str(int(r.split(",")[0]) + 1_800_000) + r[r.index(","):]
                                              for r in lines[1:]]]) + "\n")
    cases = [
        ([*both, "--allocation", "weights:BTC_USDT=0.6,ETH_USDT=0.3"], "sum to 0.9"),
        ([*both, "--allocation", "weights:BTC_USDT=0.5,ETH_USDT=0.4,SOL_USDT=0.1"], "SOL_USDT has a weight but no data"),
        ([*both, "--allocation", "weights:BTC_USDT=1"], "ETH_USDT has data but no weight"),
        ([*both, "--allocation", "halves"], "bad --allocation"),
        (["--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={late}"], "ETH_USDT: its bars are not on BTC_USDT's"),
        (["--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={late}", "--align", "sideways"], "bad --align"),
        (["--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={holed}"], "ETH_USDT: "),
        (["--data", f"BTC_USDT={btc_cut}", "--data", f"ETH_USDT={holed}", "--allow-gaps"],
         "ETH_USDT: its bars are not on BTC_USDT's time grid (1996 bars vs 1999"),
        (["--data", f"BTC_USDT={btc}", "--data", f"ETH_USDT={shifted}", "--align", "inner"],
         "ETH_USDT shares no bar time with BTC_USDT"),
        (["--symbols", "BTC_USDT,NOPE_USDT", "--timeframe", "1h"], "no BTC_USDT 1h candles"),
        (["--data", f"BTC_USDT={btc}", "--data", f"BTC_USDT={eth}"], "BTC_USDT is given twice"),
        (["--data", str(btc), "--data", str(eth)], "give each file as SYM=FILE"),
        ([*both, "--funding", str(btc)], "--funding is one symbol's rates"),
        ([*both, "--symbols", "BTC_USDT", "--timeframe", "1h"], "give either --data SYM=FILE"),
    ]
    for args, msg in cases:
        out = cli("backtest", "run", "sma_cross", *args, db=db)
        assert out.returncode == 2, (args, out.stderr)
        assert msg in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert _listed(cli, db) == 0  # nothing was run or stored


def test_store_symbols_and_alignment(cli, files, tmp_path: Path) -> None:  # noqa: F811
    btc, eth = files
    db = tmp_path / "s.db"
    for sym, path in (("BTC_USDT", btc), ("ETH_USDT", _cut(eth, tmp_path / "eth_late.csv", slice(0, 10)))):
        assert cli("data", "import", str(path), "--symbol", sym, "--timeframe", "1h", db=db).returncode == 0
    out = cli("backtest", "run", "sma_cross", "--symbols", "BTC_USDT,NOPE_USDT", "--timeframe", "1h", db=db)
    assert out.returncode == 2 and "no NOPE_USDT 1h candles in the store" in out.stderr
    out = cli("backtest", "run", "sma_cross", "--symbols", "BTC_USDT,ETH_USDT", "--timeframe", "1h", db=db)
    assert out.returncode == 2 and "ETH_USDT: its bars are not on BTC_USDT's time grid" in out.stderr
    bars = {}
    for mode in ("inner", "outer"):
        out = cli("backtest", "run", "sma_cross", "--symbols", "BTC_USDT,ETH_USDT", "--timeframe", "1h",
                  "--align", mode, "--json", db=db)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert [r["symbol"] for r in doc["sleeves"]] == ["BTC_USDT", "ETH_USDT"]
        assert all(r["run_id"] is not None for r in doc["sleeves"])
        bars[mode] = doc["bars"]
    assert bars == {"inner": 1989, "outer": 8769}  # the common times vs all times (BTC has the year)
    assert _listed(cli, db) == 4  # each sleeve stored as its own run


def test_contracts_round_each_sleeve_to_its_own_contract(cli, files) -> None:  # noqa: F811
    btc, eth = files
    out = cli("backtest", "run", "sma_cross", *SPAN, "--no-store", "--json", "--contracts", "--data",
              f"BTC_USDT={btc}", "--data", f"ETH_USDT={eth}")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["settings"]["contracts"] == ["BTC_USDT", "ETH_USDT"]
    for t in doc["trades"]:  # whole contracts: BTC 0.0001, ETH 0.01 per contract
        step = {"BTC_USDT": 0.0001, "ETH_USDT": 0.01}[t["symbol"]]
        assert abs(t["qty"] / step - round(t["qty"] / step)) < 1e-6


def test_text_output_has_the_per_symbol_table(cli, files) -> None:  # noqa: F811
    btc, eth = files
    out = cli("backtest", "run", "sma_cross", *SPAN, "--no-store", "--data", f"BTC_USDT={btc}",
              "--data", f"ETH_USDT={eth}", "--allocation", "weights:BTC_USDT=0.75,ETH_USDT=0.25")
    assert out.returncode == 0, out.stderr
    for text in ("per symbol", "contribution", "turnover", "correlation of sleeve bar returns", "ETH_USDT: last"):
        assert text in out.stdout
