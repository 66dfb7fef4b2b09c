"""PostgreSQL reads a series' columns through binary COPY (store.candle_arrays): the same rows, bits and
dtypes as the cursor, in the caller's transaction; a stream of another layout falls back to the cursor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cashup_tui.store import candle_arrays, candles, open_store
from cashup_tui.store.candle_arrays import COLUMNS, Columns, columns_from_cursor, read_candle_columns
from cashup_tui.store.engine import transaction
from tests.test_candle_cache import TF, bars, same

ODD = [-0.0, float("nan"), float("inf"), -float("inf"), 5e-324, 1.7976931348623157e308, 0.1, -123.456]


def by_cursor(conn: object, symbol: str, lo: int | None = None, hi: int | None = None) -> Columns:
    raw = conn.connection.dbapi_connection  # type: ignore[attr-defined]
    with raw.cursor() as cur:
        cur.execute(candle_arrays.candle_sql("%s", lo, hi), candle_arrays._params(symbol, TF, lo, hi))
        return columns_from_cursor(cur)


def test_binary_copy_reads_what_the_cursor_reads(pg: object, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg.create_database()  # type: ignore[attr-defined]
    cols = bars(0, 300, 1.0)
    for i, v in enumerate(ODD):
        cols["close"][i * 7] = v
        cols["volume"][i * 5 + 1] = v
    cols["open_ms"][-1] = 2**62  # past float64's exact integers
    with open_store(url) as db:
        candles.import_candles(db, "A", TF, cols)
        with transaction(db) as conn:
            t = cols["open_ms"]
            for lo, hi in ((None, None), (int(t[10]), int(t[20])), (int(t[-1]) + 1, None)):
                got = read_candle_columns(conn, "A", TF, lo, hi)
                assert same(got, by_cursor(conn, "A", lo, hi)), (lo, hi)
            got = read_candle_columns(conn, "A", TF)
            assert len(got["open_ms"]) == 300 and int(got["open_ms"][-1]) == 2**62
            assert np.signbit(got["close"][0]) and np.isnan(got["close"][7])
            assert same(read_candle_columns(conn, "nothing", TF), by_cursor(conn, "nothing"))
            assert candle_arrays._copy_binary(conn.connection.dbapi_connection, candle_arrays.candle_sql("%s", None, None),
                                              ("A", TF)) is not None  # the COPY path really served
            monkeypatch.setattr(candle_arrays, "PG_COPY_HEAD", b"not PGCOPY")  # an unexpected stream
            assert same(read_candle_columns(conn, "A", TF), by_cursor(conn, "A"))
            assert all(got[c].flags.c_contiguous and got[c].flags.writeable for c in COLUMNS)
