"""The SQLite candle write (multi-row statements, `store.candle_import.write_rows`) stores exactly what stdlib
executemany of the same rows stores: every value bit for bit (extreme floats included), times as
integers, the newest value winning an upsert of a key seen twice, across statement and batch
boundaries and under a lowered parameter limit."""

from __future__ import annotations

import sqlite3
import struct
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from cashup_tui.store import candle_import, candles, open_store
from cashup_tui.store.candle_arrays import COLUMNS
from tests.campaign import examples

SYM, TF = "BTC_USDT", "1m"
_DUMP = (f"SELECT symbol, timeframe, open_ms, typeof(open_ms), {', '.join(COLUMNS[1:])} FROM candles "
         "ORDER BY symbol, timeframe, open_ms")

value_st = st.floats(allow_nan=False, width=64)  # nan is no value (NOT NULL); inf, -0.0, subnormals are
row_st = st.tuples(st.integers(0, 2**62), value_st, value_st, value_st, value_st, value_st)


def _dump(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every stored candle, floats as their 8 bytes (so -0.0 and 0.0 differ, and every last bit counts)."""
    return [(*r[:4], *(struct.pack("<d", x) if isinstance(x, float) else x for x in r[4:])) for r in con.execute(_DUMP)]


def _columns(rows: list[tuple[int, float, float, float, float, float]]) -> dict[str, np.ndarray]:
    return {c: np.asarray([r[i] for r in rows], dtype="int64" if i == 0 else "float64")
            for i, c in enumerate(COLUMNS)}


def _reference(store_file: Path, ref_file: Path, rows: list[tuple[Any, ...]], *, upsert: bool) -> list[tuple[Any, ...]]:
    """The rows through stdlib executemany (the write path before multi-row statements) into a table
    made by the same CREATE statement as the store's."""
    with sqlite3.connect(store_file) as src:
        ddl = src.execute("SELECT sql FROM sqlite_master WHERE name = 'candles'").fetchone()[0]
    con = sqlite3.connect(ref_file)
    try:
        con.execute(ddl)
        sql = (f"INSERT INTO candles (symbol, timeframe, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
               + (" ON CONFLICT (symbol, timeframe, open_ms) DO UPDATE SET "
                  + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:]) if upsert else ""))
        cols = _columns(rows)
        con.executemany(sql, zip(repeat(SYM), repeat(TF), *(cols[c].tolist() for c in COLUMNS)))
        con.commit()
        return _dump(con)
    finally:
        con.close()


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(row_st, max_size=40), upsert=st.booleans(), per=st.sampled_from([1, 3, 250]),
       batch=st.sampled_from([7, 20_000]), var_limit=st.sampled_from([0, 20]))
@example(rows=[(i * 60_000, 1.0, 2.0, 3.0, 4.0, 5.0) for i in range(10)], upsert=False, per=250, batch=20_000,
         var_limit=20)  # a statement of 250 rows would need more parameters than allowed
def test_multi_row_write_stores_what_executemany_stores(tmp_path_factory: pytest.TempPathFactory,
                                                        rows: list[tuple[Any, ...]], upsert: bool, per: int,
                                                        batch: int, var_limit: int) -> None:
    if not upsert:  # a plain insert of a key twice fails on both paths; keep the first of each
        rows = list({r[0]: r for r in reversed(rows)}.values())[::-1]
    d = tmp_path_factory.mktemp("w")
    db = open_store(str(d / "store.sqlite"))
    try:
        if var_limit:  # a build (or a caller) allowing fewer parameters: fewer rows per statement
            event.listen(db.engine, "connect", lambda raw, _rec: raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, var_limit))
            db.engine.dispose()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(candle_import, "ROWS_PER_STATEMENT", per)
            mp.setattr(candle_import, "BATCH", batch)
            write = candles.upsert_candles if upsert else candles.insert_candles
            assert write(db, SYM, TF, _columns(rows)) == len(rows)
    finally:
        db.close()
    with sqlite3.connect(d / "store.sqlite") as con:
        got = _dump(con)
    assert got == _reference(d / "store.sqlite", d / "ref.sqlite", rows, upsert=upsert)
    assert len(got) == len({r[0] for r in rows})


def test_a_key_twice_in_one_statement_fails_the_plain_insert_and_writes_nothing(tmp_path: Path) -> None:
    db = open_store(str(tmp_path / "store.sqlite"))
    try:
        with pytest.raises(Exception, match="UNIQUE"):
            candles.insert_candles(db, SYM, TF, _columns([(60_000, 1.0, 1.0, 1.0, 1.0, 1.0)] * 2))
        assert len(candles.load_candles(db, SYM, TF)) == 0
    finally:
        db.close()
