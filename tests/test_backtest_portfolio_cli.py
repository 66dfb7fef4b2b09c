"""`cashup backtest run xsec_momentum --data SYM=FILE ...` (issue 15): the whole account's metrics and each
symbol's contribution, the same on both engines; bad input exits 1 or 2 with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.cli.data_specs import parse_specs
from cashup_tui.domain.errors import ValidationError
from tests.conftest import MARKET_DIR, need_shared
from tests.test_backtest_cli import cli  # noqa: F401 (fixture)

REAL = "gateio_usdt_perp_{}_1h_2025-02-25_2026-02-25.csv"


def _csv(path: Path, times: np.ndarray, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    c = 150 * np.exp(np.cumsum(rng.normal(0, 0.01, times.size)))
    o = np.r_[c[0], c[:-1]]
    rows = [f"{t},{a:.6f},{max(a, b) * 1.001:.6f},{min(a, b) * 0.999:.6f},{b:.6f},1" for t, a, b in
            zip(times.tolist(), o, c, strict=True)]
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def three(tmp_path: Path) -> list[str]:
    """Real Gate BTC and ETH 1h (first 1,500 bars) and a made-up SOL on the same grid."""
    specs = []
    for sym in ("BTC_USDT", "ETH_USDT"):
        src = need_shared(MARKET_DIR / REAL.format(sym))
        p = tmp_path / f"{sym.lower()}.csv"
        p.write_text("\n".join(src.read_text().splitlines()[:1501]) + "\n")
        specs.append(f"{sym}={p}")
    times = np.loadtxt(tmp_path / "btc_usdt.csv", delimiter=",", skiprows=1, usecols=[0]).astype(np.int64)
    specs.append(f"SOL_USDT={_csv(tmp_path / 'sol.csv', times, 1)}")
    return specs


def _data(specs: list[str]) -> list[str]:
    return [a for s in specs for a in ("--data", s)]


def test_run_prints_the_whole_and_each_symbol(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    r = cli("backtest", "run", "xsec_momentum", *_data(three), "--param", "lookback=12", db=tmp_path / "db.sqlite")
    assert r.returncode == 0, r.stderr
    for word in ("final equity", "Sharpe", "per symbol", "BTC_USDT", "ETH_USDT", "SOL_USDT", "turnover",
                 "stored as run 1", "correlation of the symbols' bar returns"):
        assert word in r.stdout, word
    outs = {}
    for engine in ("fast", "event"):
        r = cli("backtest", "run", "xsec_momentum", *_data(three), "--param", "lookback=12", "--engine", engine,
                "--json", db=tmp_path / "db.sqlite")
        assert r.returncode == 0, r.stderr
        outs[engine] = json.loads(r.stdout)
    fast, event = outs["fast"], outs["event"]
    assert fast["symbols"] == ["BTC_USDT", "ETH_USDT", "SOL_USDT"] and fast["bars"] == 1500 and fast["fills"] > 50
    assert fast["final_equity"] == pytest.approx(event["final_equity"], rel=1e-9)
    contrib = [s["contribution"] for s in fast["per_symbol"]]
    assert sum(contrib) == pytest.approx(fast["final_equity"] - 10_000, rel=1e-9)
    assert [s["contribution"] for s in event["per_symbol"]] == pytest.approx(contrib, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(("extra", "code", "msg"), [
    ([], 2, "give at least two symbols"),
    (["--contracts"], 2, "--contracts is not supported for portfolio strategies"),
    (["--param", "short=true"], 1, "short weight -0.5 for"),
    (["--param", "top=2", "--param", "short=true", "--allow-short"], 1, "top=2 needs 4 symbols, the panel has 3"),
    (["--to", "2025-02-26"], 1, "needs at least 26 bars, the data has 24"),
])
def test_bad_input_is_refused_clearly(three: list[str], cli, extra: list[str], code: int, msg: str,  # noqa: F811
                                      tmp_path: Path) -> None:
    specs = three[:1] if not extra else three
    r = cli("backtest", "run", "xsec_momentum", *_data(specs), *extra, db=tmp_path / "db.sqlite")
    assert r.returncode == code and msg in r.stderr and "Traceback" not in r.stderr, (r.returncode, r.stderr)


def test_misaligned_symbols_and_single_strategies(three: list[str], cli, tmp_path: Path) -> None:  # noqa: F811
    times = np.loadtxt(three[0].split("=", 1)[1], delimiter=",", skiprows=1, usecols=[0]).astype(np.int64)
    late = _csv(tmp_path / "late.csv", times[1:], 2)
    r = cli("backtest", "run", "xsec_momentum", *_data([*three[:2], f"DOGE_USDT={late}"]), db=tmp_path / "d.sqlite")
    assert r.returncode == 1 and "DOGE_USDT's time grid differs from BTC_USDT's (bar 0" in r.stderr, r.stderr
    # a one-symbol strategy over several SYM=FILE runs one sleeve per symbol (tests/test_backtest_sleeves.py)
    r = cli("backtest", "run", "sma_cross", *_data(three[:2]), "--json", db=tmp_path / "d.sqlite")
    assert r.returncode == 0, r.stderr


def test_one_parser_for_several_symbols() -> None:
    """Sleeves, portfolio runs, lookahead and optimize share `parse_specs` (issue 15)."""
    assert parse_specs(["btc_usdt=a.csv", " ETH_USDT = b.csv", "x/gateio_SOL_USDT_1h.csv"], file_names=True) == [
        ("BTC_USDT", "a.csv"), ("ETH_USDT", "b.csv"), ("", "x/gateio_SOL_USDT_1h.csv")]
    assert parse_specs(None, "btc_usdt, ETH_USDT", None, "1h") == [("BTC_USDT", None), ("ETH_USDT", None)]
    for bad, kw in ((["=a.csv"], {}), (["BTC_USDT="], {}), (["BTC_USDT=a.csv", "btc_usdt=b.csv"], {}),
                    (["BTC_USDT=-"], {}), (["a.csv"], {}), (["BTC_USDT=a.csv"], {"symbols": "ETH_USDT"}),
                    ([], {"symbols": "ETH_USDT"}), ([], {"symbols": " , ", "timeframe": "1h"}), ([], {})):
        with pytest.raises(ValidationError):
            parse_specs(bad, **kw)
