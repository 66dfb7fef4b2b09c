"""Loading bars for backtests: the real files, other time formats, and clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cashup_tui.domain.errors import DataError, ValidationError
from cashup_tui.engine.backtest.data import load_csv, load_funding, parse_when, slice_bars
from tests.conftest import MARKET_DIR, need_shared


def test_real_files_load_with_symbol_and_timeframe() -> None:
    b = load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_ETH_USDT_5m_2026-01-26_2026-02-25.csv"))
    assert (len(b), b.symbol, b.timeframe) == (8749, "ETH_USDT", "5m")
    assert b.time_ms[0] == 1769385600000 and b.close[0] == 2819.39 and b.volume[0] == 1426419
    ftx = load_csv(need_shared(MARKET_DIR / "ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv"))  # ISO text times
    assert (len(ftx), ftx.timeframe) == (45031, "1m")
    assert ftx.time_ms[0] == parse_when("2021-12-31 23:01")
    f = load_funding(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_funding_2025-02-25_2026-02-25.csv"))
    assert f.time_ms.size == 1097 and f.rate[0] == 0.0001


def test_epoch_seconds_and_no_volume(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("time,open,high,low,close\n1700000000,1,2,0.5,1.5\n1700000060,1.5,2,1,1.8\n")
    b = load_csv(p)
    assert b.time_ms.tolist() == [1700000000000, 1700000060000] and b.timeframe == "1m"
    assert (b.volume == 0).all()


@pytest.mark.parametrize("rows,msg", [
    (["1000,1,2,0.5,1", "1000,1,2,0.5,1"], "duplicate time at row 3"),
    (["2000,1,2,0.5,1", "1000,1,2,0.5,1"], "out-of-order time at row 3"),
    (["1000,1,2,0.5,1", "2000,1,0.5,2,1"], "row 3: high 0.5 is below low 2.0"),
    (["1000,1,2,0.5,1", "2000,1,2,x,1"], "1 row(s) with missing, NaN or non-numeric values, first at row 3"),
])
def test_bad_rows_are_named(tmp_path: Path, rows: list[str], msg: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("open_time_ms,open,high,low,close\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=re.escape(msg)):
        load_csv(p)


def test_empty_files_and_bad_funding(tmp_path: Path) -> None:
    e = tmp_path / "e.csv"
    e.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_csv(e)
    h = tmp_path / "h.csv"
    h.write_text("open_time_ms,open,high,low,close\n")
    with pytest.raises(DataError, match="no rows"):
        load_csv(h)
    f = tmp_path / "f.csv"
    f.write_text("time,rate\n1,0.1\n")
    with pytest.raises(DataError, match="funding_time_ms,funding_rate"):
        load_funding(f)


def test_slicing_and_dates(tmp_path: Path) -> None:
    b = load_csv(need_shared(MARKET_DIR / "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"))
    s = slice_bars(b, "2025-03-01", "2025-03-02")
    assert len(s) == 24 and s.time_ms[0] == parse_when("2025-03-01T00:00:00Z")
    assert np.all(np.diff(s.time_ms) == 3_600_000)
    with pytest.raises(ValidationError, match="must be after"):
        slice_bars(b, "2025-03-02", "2025-03-01")
    assert parse_when("1740441600000") == 1740441600000
