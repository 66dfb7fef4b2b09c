"""`cashup data ...` through the real root app (CliRunner) and once as a real process:
exit codes, messages, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cashup_tui.cli.main import app

REPO = Path(__file__).resolve().parent.parent
H = 3_600_000
T0 = 1_672_531_200_000
HEADER = "open_time_ms,open,high,low,close,volume_contracts\n"


def _csv(path: Path, n: int = 30, start: int = T0, step: int = H, bad: dict[int, str] | None = None) -> Path:
    rows = [f"{start + i * step},{100 + i},{102 + i},{99 + i},{101 + i},{10 * (i + 1)}" for i in range(n)]
    for i, r in (bad or {}).items():
        rows[i] = r
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def run(db: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--db", str(db), "data", *args], catch_exceptions=False)
    out = r.output
    assert "Traceback" not in out, out
    return r.exit_code, out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "c.sqlite"


def test_import_list_export_round_trip(tmp_path: Path, db: Path) -> None:
    f = _csv(tmp_path / "a.csv", n=30, start=T0)
    code, out = run(db, "import", str(f), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 0, out
    assert "imported 30 bars of BTC_USDT 1h" in out and "gaps: none" in out
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    code, out = run(db, "import", str(f), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 0 and "imported 0 bars" in out and "30 already stored" in out  # idempotent
    code, out = run(db, "list", "--json")
    assert code == 0
    import json

    rows = json.loads(out)
    assert rows == [{"symbol": "BTC_USDT", "timeframe": "1h", "first": "2023-01-01T00:00:00Z",
                     "last": "2023-01-02T05:00:00Z", "first_ms": T0, "last_ms": T0 + 29 * H, "rows": 30, "gaps": 0,
                     "missing_bars": 0}]
    code, out = run(db, "list")
    assert code == 0 and "BTC_USDT" in out and "2023-01-01T00:00:00Z" in out
    out_csv = tmp_path / "out.csv"
    code, out = run(db, "export", "--symbol", "BTC_USDT", "--timeframe", "1h", "--from", "2023-01-01T02:00",
                    "--to", "2023-01-02", str(out_csv))
    assert code == 0 and "wrote 22 rows" in out, out
    back = pd.read_csv(out_csv)
    assert back["open_time_ms"].iloc[0] == T0 + 2 * H and back["open_time_ms"].iloc[-1] == T0 + 23 * H
    code, out = run(db, "export", "--symbol", "BTC_USDT", "--timeframe", "1h", str(out_csv))
    assert code == 1 and "already exists" in out and "--force" in out
    pq = tmp_path / "out.parquet"
    code, out = run(db, "export", "--symbol", "BTC_USDT", "--timeframe", "1h", str(pq))
    assert code == 0 and len(pd.read_parquet(pq)) == 30
    # the export re-imports cleanly as the same series (idempotent) and as a new one
    code, out = run(db, "import", str(pq), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 0 and "30 already stored" in out
    code, out = run(db, "export", "--symbol", "ETH_USDT", "--timeframe", "1h", str(tmp_path / "none.csv"))
    assert code == 1 and "no ETH_USDT 1h data stored" in out and "stored: BTC_USDT 1h" in out


def test_bad_data_exit_1_with_report(tmp_path: Path, db: Path) -> None:
    f = _csv(tmp_path / "bad.csv", bad={4: f"{T0 + 4 * H},100,90,99,95,1"})
    code, out = run(db, "import", str(f), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert code == 1
    assert "line 6: high 90 < low 99" in out and "nothing was imported" in out
    code, out = run(db, "list", "--json")
    assert out.strip() == "[]"  # nothing half-written
    code, out = run(db, "import", str(tmp_path / "missing.csv"), "--symbol", "BTC_USDT")
    assert code == 1 and "file not found" in out
    code, out = run(db, "import", str(f), "--symbol", "BTC USDT")
    assert code == 1 and "symbol 'BTC USDT' is not valid" in out
    code, out = run(db, "import", str(f), "--symbol", "BTC_USDT", "--timeframe", "7x")
    assert code == 1 and "unknown timeframe" in out


def test_conflicts_refused_then_replaced(tmp_path: Path, db: Path) -> None:
    assert run(db, "import", str(_csv(tmp_path / "a.csv")), "-s", "BTC_USDT", "-t", "1h")[0] == 0
    mark = tmp_path / "mark.csv"
    mark.write_text("open_time_ms,open,high,low,close\n" + "\n".join(
        f"{T0 + i * H},{100.5 + i},{102 + i},{99 + i},{101 + i}" for i in range(30)) + "\n")
    code, out = run(db, "import", str(mark), "-s", "BTC_USDT", "-t", "1h")
    assert code == 1 and "30 bars of BTC_USDT 1h are already stored with different values" in out
    assert "--replace" in out and "mark_BTC_USDT" in out
    code, out = run(db, "import", str(mark), "-s", "mark_BTC_USDT", "-t", "1h")
    assert code == 0 and "no volume column" in out
    code, out = run(db, "import", str(mark), "-s", "BTC_USDT", "-t", "1h", "--replace")
    assert code == 0 and "replaced 30 stored rows" in out


def test_gaps_reported_and_listed(tmp_path: Path, db: Path) -> None:
    f = _csv(tmp_path / "g.csv", n=10)
    lines = f.read_text().splitlines()
    f.write_text("\n".join(lines[:4] + lines[7:]) + "\n")  # drop bars 3,4,5
    code, out = run(db, "import", str(f), "-s", "BTC_USDT", "-t", "1h")
    assert code == 0 and "gaps: 1 hole(s), 3 missing bars (not filled): 2023-01-01T03:00:00Z..2023-01-01T05:00:00Z" in out
    import json

    code, out = run(db, "list", "--json")
    assert json.loads(out)[0]["gaps"] == 1 and json.loads(out)[0]["missing_bars"] == 3


def test_resample_and_funding(tmp_path: Path, db: Path) -> None:
    f = _csv(tmp_path / "m.csv", n=61, start=T0 + 3 * 60_000, step=60_000)
    assert run(db, "import", str(f), "-s", "BTC_USDT", "-t", "1m")[0] == 0
    code, out = run(db, "resample", "--symbol", "BTC_USDT", "--from-tf", "1m", "--to-tf", "5m")
    assert code == 0, out
    assert "into 11 5m bars" in out and "dropped the incomplete first 5m bar (2 of 5" in out
    assert "dropped the incomplete last 5m bar (4 of 5" in out  # minutes 3..63: edges 3-4 and 60-63
    code, out = run(db, "resample", "--symbol", "BTC_USDT", "--from-tf", "1m", "--to-tf", "5m")
    assert code == 0 and "11 already stored" in out
    code, out = run(db, "resample", "--symbol", "BTC_USDT", "--from-tf", "5m", "--to-tf", "1m")
    assert code == 1 and "cannot resample 5m to 1m" in out
    code, out = run(db, "resample", "--symbol", "ETH_USDT", "--from-tf", "1m", "--to-tf", "5m")
    assert code == 1 and "no ETH_USDT 1m candles stored" in out
    fund = tmp_path / "fund.csv"
    fund.write_text(f"funding_time_ms,funding_rate\n{T0},0.0001\n{T0 + 8 * H},-0.000012345678901234\n")
    code, out = run(db, "import", str(fund), "-s", "BTC_USDT")
    assert code == 0 and "imported 2 funding rates" in out
    code, out = run(db, "export", "-s", "BTC_USDT", "-t", "funding", str(tmp_path / "f.csv"))
    assert code == 0
    assert (tmp_path / "f.csv").read_text().splitlines()[-1] == f"{T0 + 8 * H},-0.000012345678901234"


def test_bad_config_exit_2(tmp_path: Path, db: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nsynchronous = 3\n")
    r = CliRunner().invoke(app, ["--config", str(bad), "data", "list"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_real_process_and_progress_free_output(tmp_path: Path, market_dir: Path) -> None:
    db = tmp_path / "p.sqlite"
    env = {**os.environ, "CASHUP_DB": str(db)}
    f = market_dir / "gateio_usdt_perp_ETH_USDT_5m_2026-01-26_2026-02-25.csv"
    r = subprocess.run([sys.executable, "-m", "cashup_tui", "data", "import", str(f), "--symbol", "ETH_USDT",
                        "--timeframe", "5m"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "imported 8749 bars of ETH_USDT 5m" in r.stdout and r.stderr == ""
    r = subprocess.run([sys.executable, "-m", "cashup_tui", "data", "import", str(f), "--symbol", "ETH_USDT",
                        "--timeframe", "1h"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    assert "bars are 5m apart" in r.stderr and "pass --timeframe 5m" in r.stderr
