"""What a short `cashup` command loads, checked in a fresh process (structure, not a stopwatch).

`cashup data list` on a current SQLite store should cost little more than starting the interpreter
(issue 13): no pydantic (typer builds its coercion only for values that need it: `cli.main._defer_coercion`),
no numpy / pandas / SQLAlchemy, and none of the data commands' other helpers. The help screens load no pydantic
either. Values that need coercion still get typer's own checks (the last test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cashup_tui.cli.main import COERCION_DEFERRED, app

REPO = Path(__file__).resolve().parent.parent
HEAVY = {"pydantic", "pydantic_core", "numpy", "pandas", "sqlalchemy", "sqlmodel", "textual"}
# cashup modules a listing does not need (`store.lite` is the backtest writer; `sqlite_file` lives in candle_list)
NOT_FOR_LIST = {"cashup_tui.store.lite", "cashup_tui.logging_setup", "cashup_tui.cli.export",
                "cashup_tui.cli.data_fetch"}


def _cashup_loading(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `cashup ARGS` in a fresh interpreter; (the process, top-level packages + cashup modules loaded)."""
    probe = ("import atexit, sys\n"
             "def _dump():\n"
             "    mods = set(sys.modules)\n"
             "    names = {m.split('.')[0] for m in mods} | {m for m in mods if m.startswith('cashup_tui')}\n"
             "    sys.stderr.write('\\nLOADED:' + ','.join(sorted(names)) + '\\n')\n"
             "atexit.register(_dump)\n"
             "from cashup_tui.cli.main import run\n"
             f"run({args!r})\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
                       env={**os.environ, **env})
    return r, set(r.stderr.rpartition("LOADED:")[2].strip().split(","))


def _pydantic_free() -> set[str]:
    """pydantic is checked only where the deferral is installed: a typer with another layout runs the same
    commands, slower, and fails nothing (the skip below says so for the help screens)."""
    return {"pydantic", "pydantic_core"} if COERCION_DEFERRED else set()


def test_data_list_loads_no_pydantic_numpy_or_sqlalchemy(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    csv = tmp_path / "a.csv"
    csv.write_text("open_time_ms,open,high,low,close,volume\n"
                   + "".join(f"{1_672_531_200_000 + i * 60_000},{100 + i},{102 + i},{99 + i},{101 + i},{i}\n"
                             for i in range(50)))
    r = CliRunner().invoke(app, ["--db", str(db), "data", "import", str(csv), "--symbol", "BTC_USDT",
                                 "--timeframe", "1m"])
    assert r.exit_code == 0, r.output
    for url in (str(db), f"sqlite:///{db}"):  # named by CASHUP_DB: a --db value is coerced, by pydantic
        proc, loaded = _cashup_loading(["data", "list", "--json"], CASHUP_DB=url)
        assert proc.returncode == 0, proc.stderr
        assert [(s["symbol"], s["rows"]) for s in json.loads(proc.stdout)] == [("BTC_USDT", 50)]
        heavy = (HEAVY - {"pydantic", "pydantic_core"}) | _pydantic_free() | {"rich"}
        assert not loaded & heavy, sorted(loaded & heavy)
        assert not loaded & NOT_FOR_LIST, sorted(loaded & NOT_FOR_LIST)


@pytest.mark.skipif(not COERCION_DEFERRED, reason="this typer's coercion layout differs from 0.29's: cli.main."
                    "_defer_coercion installed nothing, so every command imports pydantic (correct, ~60 ms slower)")
def test_help_screens_load_no_pydantic() -> None:
    for args in (["--help"], ["data", "--help"], ["data", "list", "--help"]):
        proc, loaded = _cashup_loading(args)
        assert proc.returncode == 0 and "Usage: cashup" in proc.stdout, proc.stderr
        assert not loaded & HEAVY, (args, sorted(loaded & HEAVY))


def test_a_value_that_needs_coercion_still_gets_typers_checks(tmp_path: Path) -> None:
    """The deferred coercion hands over to typer's: a bad choice and a bad number fail as before."""
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "c.sqlite"), "data", "export", "-", "--symbol", "BTC_USDT",
                                 "--timeframe", "1h", "--format", "xlsx"])
    assert r.exit_code == 2 and "xlsx" in r.output, r.output
    proc, loaded = _cashup_loading(["data", "import", str(tmp_path / "none.csv"), "--symbol", "BTC_USDT",
                                    "--format", "nope"])
    assert proc.returncode == 2 and "nope" in proc.stderr, proc.stderr
    assert "pydantic" in loaded  # the value was coerced by typer's own adapter


def _bars_csv(path: Path, n: int = 50) -> Path:
    path.write_text("open_time_ms,open,high,low,close,volume\n"
                    + "".join(f"{1_672_531_200_000 + i * 60_000},{100 + i},{102 + i},{99 + i},{101 + i},{i}\n"
                              for i in range(n)))
    return path


def test_data_import_into_sqlite_loads_no_sqlalchemy_pydantic_or_rich(tmp_path: Path) -> None:
    """`data import` into a SQLite file (new, then current) runs on the stdlib driver (`store.candle_import`);
    its str and choice options need no pydantic; a non-terminal stderr gets no rich progress bar. What it
    wrote reads back through `open_store` (SQLAlchemy) with the stats a full scan gives."""
    from cashup_tui.store import candle_stats, candles, open_store
    from cashup_tui.store.engine import transaction

    csv = _bars_csv(tmp_path / "a.csv")
    db = tmp_path / "c.sqlite"
    for said in ("imported 50 bars", "0 bars of BTC_USDT 1m from a.csv (2023-01-01T00:00:00Z .. "):
        proc, loaded = _cashup_loading(["data", "import", str(csv), "--symbol", "BTC_USDT", "--timeframe", "1m",
                                        "--format", "csv"], CASHUP_DB=str(db))
        assert proc.returncode == 0 and said in proc.stdout, proc.stdout + proc.stderr
        heavy = {"sqlalchemy", "sqlmodel", "rich"} | _pydantic_free()
        assert not loaded & heavy, sorted(loaded & heavy)
    with open_store(str(db)) as s:
        got = candles.load_candles(s, "BTC_USDT", "1m")
        with transaction(s) as conn:
            want = candle_stats.scan(conn, "BTC_USDT", "1m")
            row = conn.exec_driver_sql("SELECT symbol, timeframe, first_ms, last_ms, rows, gaps FROM candle_stats").all()
    assert got["close"].tolist() == [101.0 + i for i in range(50)]
    assert [tuple(r) for r in row] == [want] and want is not None and want[4:] == (50, 0)


def test_data_import_into_an_older_store_migrates_it_through_open_store(tmp_path: Path) -> None:
    """The stdlib path declines a store at an older schema (nothing read): open_store migrates, then imports."""
    from cashup_tui.store import candles, open_store
    from cashup_tui.store.migrations import LATEST

    db = tmp_path / "old.sqlite"
    with open_store(str(db), target_version=LATEST - 1):
        pass
    proc, loaded = _cashup_loading(["data", "import", str(_bars_csv(tmp_path / "a.csv")), "--symbol", "BTC_USDT"],
                                   CASHUP_DB=str(db))
    assert proc.returncode == 0 and "imported 50 bars" in proc.stdout, proc.stderr
    assert "sqlalchemy" in loaded
    with open_store(str(db)) as s:
        assert s.schema_version == LATEST
        assert [(i.symbol, i.rows) for i in candles.list_series(s)] == [("BTC_USDT", 50)]


@pytest.mark.skipif(not COERCION_DEFERRED, reason="no deferral installed with this typer")
def test_the_coercion_shortcuts_return_what_typers_adapters_return() -> None:
    """A str for a plain `str` parameter and a str for a choice skip pydantic (`cli.main._defer_coercion`):
    whatever they return or refuse equals typer's own runtime parameter's, case-insensitive choices included."""
    import typer.core
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param, resolve_type_descriptor
    from typer.models import ArgumentInfo, OptionInfo

    from cashup_tui.cli.choices import GateInterval, ImportFormat

    def outcome(rp: object, value: str) -> object:
        try:
            got = rp._coerce_value(value, param=None, ctx=None)  # type: ignore[attr-defined]
            return type(got), got
        except BadParameter as exc:
            return "refused", exc.message

    values = ["", " x ", "auto", "AUTO", "csv", "Csv", "nope", "1m", "1M", "7d", "\udcff", "BTC_USDT"]
    for annotation in (str, ImportFormat, GateInterval):
        for info in (OptionInfo(), OptionInfo(case_sensitive=False), ArgumentInfo()):
            d = resolve_type_descriptor(annotation, info)
            ours, typers = typer.core.build_runtime_param(d), build_runtime_param(d)
            assert type(ours).__name__ == "Deferred"
            for v in values:
                assert outcome(ours, v) == outcome(typers, v), (annotation, info, v)
