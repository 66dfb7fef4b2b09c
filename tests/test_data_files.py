"""Candle-file import: every shared market file, the supported layouts, and broken files that
must each name the row and the problem; gaps reported; nothing half-written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cashup_tui.adapters.candle_files import find_gaps, read_candle_file
from cashup_tui.domain.errors import DataError
from cashup_tui.store import candle_import, candles, open_store

H = 3_600_000
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z
HEADER = "open_time_ms,open,high,low,close,volume_contracts\n"


def _good_rows(n: int = 5, step: int = H, start: int = T0) -> list[str]:
    return [f"{start + i * step},{100 + i},{102 + i},{99 + i},{101 + i},{10 * (i + 1)}" for i in range(n)]


def _write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def db(tmp_path: Path):
    s = open_store(str(tmp_path / "db.sqlite"))
    yield s
    s.close()


def test_every_shared_market_file_imports(market_dir: Path, db) -> None:
    files = sorted(market_dir.glob("*.csv"))
    assert len(files) >= 15
    for f in files:
        d = read_candle_file(f)
        if "funding" in f.name:
            assert d.kind == "funding" and len(d.rates) == len(d) > 700
            sym = f.name.split("_perp_")[1][:8]
            res = candles.import_funding(db, sym, zip(d.open_ms.tolist(), d.rates, strict=True))
            assert res.inserted + res.unchanged == len(d)
            continue
        assert d.kind == "candles" and d.gaps.count == 0, (f.name, d.gaps)
        expected_tf = "1m" if "_1m_" in f.name else ("5m" if "_5m_" in f.name else "1h")
        assert d.timeframe == expected_tf, f.name
        assert d.has_volume == ("mark" not in f.name)
        sym = ("mark_" if "mark" in f.name else "") + (f.name.split("_perp_")[1][:8] if "gateio" in f.name else "FTX_BTC")
        key = f"{sym}-{f.name[-25:-4]}"  # each file its own series: the two 1h periods would otherwise share one
        res = candles.import_candles(db, key, d.timeframe, d.columns())
        assert res.inserted == len(d)
    by = {(s.symbol, s.timeframe): s for s in candles.list_series(db)}
    ftx = next(s for (sym, _), s in by.items() if sym.startswith("FTX_BTC"))
    assert ftx.rows == 45_031 and ftx.gaps == 0 and ftx.missing == 0
    assert by[("BTC_USDT", "funding")].rows == 793 + 1097
    # exact funding text survives (no float round trip)
    first = candles.load_funding(db, "BTC_USDT")[0]
    assert first == (1_672_531_200_000, Decimal("0.0001"))


def test_shared_values_round_trip(market_dir: Path, db) -> None:
    f = market_dir / "gateio_usdt_perp_BTC_USDT_1h_2023-01-01_2023-09-22.csv"
    d = read_candle_file(f, timeframe="1h")
    candles.import_candles(db, "BTC_USDT", "1h", d.columns())
    got = candles.load_candles(db, "BTC_USDT", "1h")
    ref = pd.read_csv(f)
    assert (got["open_ms"].to_numpy() == ref["open_time_ms"].to_numpy()).all()
    for c in ("open", "high", "low", "close"):
        assert (got[c].to_numpy() == ref[c].to_numpy()).all()
    assert (got["volume"].to_numpy() == ref["volume_contracts"].to_numpy()).all()


@pytest.mark.parametrize(
    ("header", "times", "unit"),
    [
        ("t,o,h,l,c,v", [str(T0 // 1000 + i * 3600) for i in range(3)], "epoch seconds"),
        ("date,open,high,low,close,volume", [str(T0 + i * H) for i in range(3)], "epoch milliseconds"),
        ("timestamp,open,high,low,close,volume", [str((T0 + i * H) * 1000) for i in range(3)], "epoch microseconds"),
        ("date,open,high,low,close,volume", ["2023-01-01T00:00:00Z", "2023-01-01T01:00:00Z", "2023-01-01T02:00:00Z"], "ISO"),
        ("date,open,high,low,close,volume",
         ["2023-01-01 01:00:00+01:00", "2023-01-01 02:00:00+01:00", "2023-01-01 03:00:00+01:00"], "ISO"),
        ("timestamp,open,high,low,close,volume",
         ["2023-01-01 00:00:00.000000", "2023-01-01 01:00:00.000000", "2023-01-01 02:00:00.000000"], "read as UTC"),
        ("Date,Open,High,Low,Close,Volume", ["2023-01-01", "2023-01-01T01:00", "2023-01-01T02:00"], "ISO"),
    ],
)
def test_layouts(tmp_path: Path, header: str, times: list[str], unit: str) -> None:
    rows = [f"{t},100,102,99,101,5" for t in times]
    d = read_candle_file(_write(tmp_path, header + "\n" + "\n".join(rows) + "\n"), timeframe="1h")
    assert d.open_ms.tolist() == [T0, T0 + H, T0 + 2 * H]
    assert unit in d.layout
    assert d.volume.tolist() == [5.0] * 3


def test_headerless_mark_parquet_feather_and_funding(tmp_path: Path) -> None:
    d = read_candle_file(_write(tmp_path, "\n".join(_good_rows(3)) + "\n\n\n"))  # trailing blank lines are fine
    assert len(d) == 3 and d.timeframe == "1h" and "no header" in d.layout
    mark = read_candle_file(_write(tmp_path, "open_time_ms,open,high,low,close\n" + f"{T0},1,2,0.5,1.5\n{T0 + H},1,2,1,2\n"))
    assert not mark.has_volume and mark.volume.tolist() == [0.0, 0.0]
    df = pd.DataFrame({
        "date": pd.to_datetime([T0, T0 + 300_000], unit="ms", utc=True),
        "open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.5], "close": [1.5, 2.5], "volume": [1.0, 2.0],
    })
    df.to_parquet(tmp_path / "x.parquet")
    df.to_feather(tmp_path / "x.feather")
    for name in ("x.parquet", "x.feather"):
        d = read_candle_file(tmp_path / name, timeframe="5m")
        assert d.open_ms.tolist() == [T0, T0 + 300_000] and d.close.tolist() == [1.5, 2.5]
    fund = read_candle_file(_write(tmp_path, "funding_time_ms,funding_rate\n" + f"{T0},0.000100000000000000001\n"
                                   f"{T0 + 8 * H},-0.00375\n"))
    assert fund.kind == "funding" and fund.rates == ["0.000100000000000000001", "-0.00375"]


def _broken(tmp_path: Path, rows: list[str], header: str = HEADER, timeframe: str | None = "1h") -> str:
    p = _write(tmp_path, header + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as ei:
        read_candle_file(p, timeframe=timeframe)
    msg = str(ei.value)
    assert "nothing was imported" in msg and str(p) in msg
    return msg


def _set(rows: list[str], i: int, col: int, value: str) -> list[str]:
    cells = rows[i].split(",")
    cells[col] = value
    rows = list(rows)
    rows[i] = ",".join(cells)
    return rows


G = _good_rows(6)


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        (_set(G, 2, 0, "yesterday"), "line 4: unparsable time 'yesterday'"),
        (_set(G, 1, 2, "90"), "line 3: high 90 < low 100"),
        (_set(G, 3, 1, "200"), "line 5: open 200 outside [low 102, high 105]"),
        (_set(G, 4, 4, "1"), "line 6: close 1 outside [low 103, high 106]"),
        (_set(G, 0, 3, "nan"), "line 2: low is NaN ('nan')"),
        (_set(G, 5, 4, ""), "line 7: close is empty"),
        (_set(G, 2, 2, "12,5".replace(",", ";")), "line 4: high '12;5' is not a number"),
        (_set(G, 2, 5, "-3"), "line 4: negative volume -3"),
        (_set(G, 3, 0, str(T0 + 2 * H)), "line 5: duplicate timestamp 2023-01-01 02:00:00Z (same as line 4)"),
        ([*G[:2], G[3], G[2], *G[4:]], "line 5: timestamp 2023-01-01 02:00:00Z is earlier than line 4"),
        (_set(G, 4, 0, str(T0 + 3 * H + 60_000)), "line 6: 2023-01-01 03:01:00Z is 1m after line 5, not a multiple of the 1h"),
        ([*G[:3], "", *G[3:]], "line 5: empty row"),
        (_set(G, 1, 3, "inf"), "line 3: low inf is not finite"),
        (_set(G, 1, 3, "0"), "line 3: low 0 is not a positive price"),
    ],
)
def test_broken_files_name_the_row_and_problem(tmp_path: Path, rows: list[str], expect: str) -> None:
    msg = _broken(tmp_path, rows)
    assert expect in msg, msg


def test_wrong_timeframe_and_alignment(tmp_path: Path) -> None:
    msg = _broken(tmp_path, _good_rows(6), timeframe="5m")
    assert "line 3: bars are 1h apart (5 of 5 steps) but --timeframe is 5m: pass --timeframe 1h" in msg
    msg = _broken(tmp_path, _good_rows(4, start=T0 + 60_000), timeframe="1h")
    assert "line 2: open time 2023-01-01 00:01:00Z is not on a 1h boundary" in msg


def test_many_problems_are_summarised(tmp_path: Path) -> None:
    rows = [_set(_good_rows(1, start=T0 + i * H), 0, 2, "1")[0] for i in range(300)]  # high < low everywhere
    msg = _broken(tmp_path, rows)
    assert "300 problem(s)" in msg and "line 2: high 1 < low 99" in msg and "... and 280 more" in msg
    assert "high < low x300" in msg


def test_unrecognised_layout_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unrecognised layout.*missing .*columns high"):
        read_candle_file(_write(tmp_path, "time,open,low,close\n1,2,3,4\n"))
    with pytest.raises(DataError, match="file not found"):
        read_candle_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no data rows"):
        read_candle_file(_write(tmp_path, HEADER))
    with pytest.raises(DataError, match="cannot read it as parquet"):
        read_candle_file(_write(tmp_path, HEADER + G[0], "bad.parquet"))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01garbage\x00\x00")
    with pytest.raises(DataError):
        read_candle_file(tmp_path / "bin.csv")


def test_gaps_are_reported_not_filled(tmp_path: Path) -> None:
    rows = _good_rows(3) + _good_rows(2, start=T0 + 6 * H) + _good_rows(1, start=T0 + 10 * H)
    d = read_candle_file(_write(tmp_path, HEADER + "\n".join(rows) + "\n"), timeframe="1h")
    assert len(d) == 6
    assert d.gaps.count == 2 and d.gaps.missing == 3 + 2
    assert d.gaps.ranges == [(T0 + 3 * H, T0 + 5 * H), (T0 + 8 * H, T0 + 9 * H)]
    assert find_gaps(np.array([0, 1, 2]), 1).count == 0


def test_import_is_idempotent_and_atomic(tmp_path: Path, db, monkeypatch: pytest.MonkeyPatch) -> None:
    d = read_candle_file(_write(tmp_path, HEADER + "\n".join(_good_rows(50)) + "\n"), timeframe="1h")
    assert candles.import_candles(db, "BTC_USDT", "1h", d.columns()).inserted == 50
    again = candles.import_candles(db, "BTC_USDT", "1h", d.columns())
    assert (again.inserted, again.unchanged) == (0, 50)
    changed = dict(d.columns())
    changed["close"] = changed["close"].copy()
    changed["close"][10] += 0.5
    with pytest.raises(DataError, match="1 bars of BTC_USDT 1h are already stored with different values"):
        candles.import_candles(db, "BTC_USDT", "1h", changed)
    assert candles.load_candles(db, "BTC_USDT", "1h")["close"].tolist() == d.close.tolist()
    res = candles.import_candles(db, "BTC_USDT", "1h", changed, replace=True)
    assert (res.inserted, res.replaced) == (50, 50)
    # a failure in the middle of a multi-batch write leaves the store exactly as before
    monkeypatch.setattr(candle_import, "BATCH", 7)
    more = read_candle_file(_write(tmp_path, HEADER + "\n".join(_good_rows(40, start=T0 + 100 * H)) + "\n"))
    calls = []

    def boom(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        candles.import_candles(db, "BTC_USDT", "1h", more.columns(), progress=boom)
    assert len(candles.load_candles(db, "BTC_USDT", "1h")) == 50
