"""Property tests for the two doors user input comes through: candle files (`data import`,
`backtest run --data`) and settings (TOML file and CASHUP_* variables). Every outcome is success or a
clean CashupError; never an unexpected exception; a failed import writes nothing."""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import fields
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cashup_tui.adapters.candle_files import read_candle_file
from cashup_tui.cli.main import app
from cashup_tui.domain.errors import CashupError, ConfigError
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.settings import SECTIONS, Settings, load_settings
from tests.campaign import examples

T0 = 1_672_531_200_000
H = 3_600_000
HEADERS = [
    "open_time_ms,open,high,low,close,volume",
    "t,o,h,l,c,v",
    "date,open,high,low,close,volume",
    "timestamp,open,high,low,close",
    "Date,Open,High,Low,Close,Volume,extra",
    None,  # headerless
    "time,open,low,close",  # a column missing
]

good_time = st.integers(0, 40).map(lambda i: T0 + i * H)
time_cell = st.one_of(
    good_time.map(str),
    good_time.map(lambda t: str(t // 1000)),
    good_time.map(lambda t: str(t * 1000)),
    st.sampled_from(["2023-01-01T00:00:00Z", "2023-01-01 05:00:00+08:00", "2023-01-01", "2023-01-01 03:00 UTC"]),
    st.sampled_from(["", "nan", "yesterday", "99999999999999999999", "-5", "1e400", "2023-13-45", "inf"]),
    st.text(max_size=8).map(lambda s: s.replace(",", "").replace("\n", "").replace("\r", "")),
)
number_cell = st.one_of(
    st.floats(1, 1e6, allow_nan=False).map(lambda x: f"{x:.4f}"),
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e308", "-1", "0", "abc", "1e16", "null"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def candle_file(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(HEADERS))
    width = len(header.split(",")) if header else draw(st.integers(5, 6))
    n = draw(st.integers(0, 12))
    rows = []
    for i in range(n):
        if draw(st.booleans()):  # a plausible row, maybe broken later
            t = T0 + i * H
            rows.append([str(t), "100", "101", "99", "100.5", "3"][:width] + ["x"] * max(0, width - 6))
        else:
            rows.append([draw(time_cell)] + [draw(number_cell) for _ in range(width - 1)])
        if draw(st.integers(0, 9)) == 0:
            rows[-1] = rows[-1][: draw(st.integers(0, width))]  # a short row
    lines = ([header] if header else []) + [",".join(r) for r in rows]
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=candle_file())
def test_any_csv_reads_cleanly_or_fails_cleanly_in_both_readers(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "c.csv"
        f.write_text(text)
        for read in (lambda: read_candle_file(f), lambda: load_csv(f, allow_gaps=True)):
            try:
                data = read()
            except CashupError:
                continue
            times = data.open_ms if hasattr(data, "open_ms") else data.time_ms
            assert ((times >= 0) & (times < 253_402_300_800_000)).all()
            for col in ("open", "high", "low", "close", "volume"):
                arr = getattr(data, col)
                assert len(arr) == 0 or bool(np.isfinite(arr).all())


@settings(max_examples=examples(30, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=candle_file())
def test_import_cli_exits_cleanly_and_a_failed_import_writes_nothing(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        f, db = Path(d) / "c.csv", Path(d) / "s.sqlite"
        f.write_text(text)
        r = CliRunner().invoke(app, ["--db", str(db), "data", "import", str(f), "--symbol", "BTC_USDT", "--json"])
        assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
        assert r.exit_code in (0, 1, 2), r.output
        stored = 0
        if db.exists():
            with closing(sqlite3.connect(db)) as conn:
                stored = conn.execute("SELECT count(*) FROM candles").fetchone()[0]
        if r.exit_code == 0:
            assert stored == json.loads(r.stdout)["rows"]
        else:
            assert stored == 0 and "error:" in r.output


# -- settings ---------------------------------------------------------------------------------------------------
KEYS = [(sec, f.name) for sec in SECTIONS for f in fields(getattr(Settings(), sec))]
toml_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: "nan" if math.isnan(x) else
                                                         ("inf" if x == math.inf else "-inf" if x == -math.inf
                                                          else repr(x))),
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.sampled_from(["true", "false", '"x"', '""', "[]", '["a", "b"]', "[1, 2]", "1e400", "-0.0", '"nan"']),
    st.text(max_size=10).map(json.dumps),
)
env_value = st.one_of(st.sampled_from(["nan", "inf", "-1", "0", "1e308", "abc", "", "true", "a,b", "3"]),
                      st.text(max_size=10).map(lambda s: s.replace("\x00", "")))
env_name = st.one_of(
    st.sampled_from(KEYS).map(lambda k: f"CASHUP_{k[0]}_{k[1]}".upper()),
    st.sampled_from(["CASHUP_RISK_MAX_LEVRAGE", "CASHUP_RIKS_MAX_LEVERAGE", "CASHUP_DB", "CASHUP_VAULT_X",
                     "CASHUP_", "CASHUP_GATE", "NOT_CASHUP"]),
)


@settings(max_examples=examples(80), deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(KEYS), toml_value), max_size=4, unique_by=lambda e: e[0]),
       env=st.dictionaries(env_name, env_value, max_size=3))
def test_settings_load_or_fail_with_a_config_error(entries: list[tuple[tuple[str, str], str]],
                                                    env: dict[str, str]) -> None:
    by_section: dict[str, list[str]] = {}
    for (sec, key), value in entries:
        by_section.setdefault(sec, []).append(f"{key} = {value}")
    text = "".join(f"[{sec}]\n" + "\n".join(lines) + "\n" for sec, lines in by_section.items())
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "cashup.toml"
        f.write_text(text)
        try:
            s = load_settings(f, environ=env)
        except ConfigError as exc:
            msg = str(exc)
            assert str(f) in msg or "environment variable" in msg, msg
            return
    for sec in SECTIONS:
        for field in fields(getattr(s, sec)):
            v = getattr(getattr(s, sec), field.name)
            if isinstance(v, float):
                assert math.isfinite(v) and v >= 0, (sec, field.name, v)
