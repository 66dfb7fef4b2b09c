"""CashUp as a citizen of the shell, through real processes and real pipes: `-` for stdin/stdout,
status on stderr, non-regular export targets, bare `cashup` without a terminal, completion from the
root, choices in --help, unknown CASHUP_* variables, one time rule (--to exclusive), weekly bars on
Monday, and bad numbers as clean errors (never exit 70)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
H = 3_600_000
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z, a Sunday
GATE_HEADER = "t,o,h,l,c,v\n"


def cashup(*args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = subprocess.run([sys.executable, "-m", "cashup_tui", *args], input=data, capture_output=True, cwd=REPO,
                       env={**os.environ, **(env or {})}, timeout=timeout,
                       stdin=subprocess.DEVNULL if data is None else None)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(errors="replace"),
                                       r.stderr.decode(errors="replace"))


def candles(n: int, start: int = T0, step: int = H, seconds: bool = False) -> list[str]:
    rng = np.random.default_rng(3)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    rows = []
    for i in range(n):
        o = close[i - 1] if i else close[0]
        c = close[i]
        t = (start + i * step) // (1000 if seconds else 1)
        rows.append(f"{t},{o:.2f},{max(o, c) + 1:.2f},{min(o, c) - 1:.2f},{c:.2f},{10 + i}")
    return rows


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store.sqlite")


# -- '-' and status lines ------------------------------------------------------------------------------------
def test_dash_is_stdin_for_import_and_backtest_and_stdout_for_export(db: str) -> None:
    gate = GATE_HEADER + "\n".join(candles(60, seconds=True)) + "\n"
    r = cashup("--db", db, "data", "import", "-", "--symbol", "BTC_USDT", "--json", stdin=gate)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["file"], info["rows"], info["timeframe"]) == ("<stdin>", 60, "1h")
    r = cashup("--db", db, "data", "export", "-", "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "open_time_ms,open,high,low,close,volume" and len(lines) == 61  # data only
    assert "wrote 60 rows" in r.stderr  # the status line
    r = cashup("backtest", "run", "sma_cross", "--data", "-", "--param", "fast=3", "--param", "slow=8",
               "--no-store", "--json", stdin=gate)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["bars"] == 60 and out["data"] == "<stdin>"


def test_export_into_a_closed_pipe_is_quiet(db: str) -> None:
    cashup("--db", db, "data", "import", "-", "--symbol", "BTC_USDT", stdin=GATE_HEADER + "\n".join(candles(20000)))
    exporter = subprocess.Popen([sys.executable, "-m", "cashup_tui", "--db", db, "data", "export", "-", "--symbol",
                                 "BTC_USDT", "--timeframe", "1h"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=REPO)
    head = subprocess.run(["head", "-n", "2"], stdin=exporter.stdout, capture_output=True, text=True, timeout=60)
    assert exporter.stdout is not None
    exporter.stdout.close()
    err = exporter.communicate(timeout=60)[1].decode()
    assert len(head.stdout.splitlines()) == 2
    assert exporter.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err


def test_export_never_renames_over_a_link_or_device(db: str, tmp_path: Path) -> None:
    cashup("--db", db, "data", "import", "-", "--symbol", "BTC_USDT", stdin=GATE_HEADER + "\n".join(candles(5)))
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/null")  # like /dev/stdout -> /proc/self/fd/1
    r = cashup("--db", db, "data", "export", str(link), "--force", "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert Path("/dev/null").is_char_device()
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    to_real = tmp_path / "to_real.csv"
    to_real.symlink_to(real)
    r = cashup("--db", db, "data", "export", str(to_real), "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert r.returncode == 1 and "already exists" in r.stderr and real.read_text() == "old\n"
    r = cashup("--db", db, "data", "export", str(to_real), "--force", "--symbol", "BTC_USDT", "--timeframe", "1h")
    assert r.returncode == 0 and to_real.is_symlink() and len(real.read_text().splitlines()) == 6


# -- terminal, completion, choices --------------------------------------------------------------------------
def test_bare_cashup_without_a_terminal_exits_2_with_one_line() -> None:
    r = cashup()
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "needs a terminal" in r.stderr and "cashup --help" in r.stderr
    assert r.stdout == ""


def test_completion_is_offered_by_the_root_and_completes_choices() -> None:
    r = cashup("--help")
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    for group in (["trade", "--help"], ["positions", "--help"], ["data", "--help"]):
        assert "--install-completion" not in cashup(*group).stdout
    # the shell is named, not detected: detection walks up the process tree for a shell, and under
    # pytest-xdist started without one (a CI runner, a cron job) it finds none ("Shell  not supported")
    r = cashup("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert r.returncode == 0 and "_CASHUP_COMPLETE" in r.stdout.upper()
    env = {"_CASHUP_COMPLETE": "complete_bash", "COMP_WORDS": "cashup backtest run x --engine ", "COMP_CWORD": "5"}
    assert cashup(env=env).stdout.split() == ["fast", "event"]
    env.update(COMP_WORDS="cashup feed watch BTC_USDT --channel ")
    assert cashup(env=env).stdout.split() == ["tickers", "trades", "book"]


def test_fixed_value_options_are_choices() -> None:
    assert "fast|event" in cashup("backtest", "run", "--help").stdout.replace(" ", "")
    assert "demo|paper|testnet|live" in cashup("orders", "place", "--help").stdout.replace(" ", "")
    r = cashup("backtest", "run", "sma_cross", "--engine", "slow")
    assert r.returncode == 2 and "'slow' is not one of 'fast', 'event'" in r.stderr


# -- settings from the environment ---------------------------------------------------------------------------
def test_unknown_cashup_variable_names_the_closest_setting() -> None:
    r = cashup("config", "show", env={"CASHUP_RISK_MAX_LEVRAGE": "3"})
    assert r.returncode == 2
    assert "CASHUP_RISK_MAX_LEVRAGE" in r.stderr and "did you mean CASHUP_RISK_MAX_LEVERAGE" in r.stderr
    r = cashup("config", "show", env={"CASHUP_RISK_MAX_LEVERAGE": "3", "CASHUP_SHARED_DIR": "/x",
                                      "CASHUP_VAULT_PASSPHRASE": "made-up", "CASHUP_STRATEGIES_DIR": "/x"})
    assert r.returncode == 0, r.stderr
    r = cashup("config", "show", env={"CASHUP_RISK_MAX_ORDER_NOTIONAL": "nan"})
    assert r.returncode == 2 and "'risk.max_order_notional' must be a finite number" in r.stderr


# -- one time rule ----------------------------------------------------------------------------------------------
def test_to_is_exclusive_for_export_and_backtest(db: str, tmp_path: Path) -> None:
    body = "open_time_ms,open,high,low,close,volume\n" + "\n".join(candles(72)) + "\n"
    assert cashup("--db", db, "data", "import", "-", "--symbol", "BTC_USDT", stdin=body).returncode == 0
    r = cashup("--db", db, "data", "export", "-", "--symbol", "BTC_USDT", "--timeframe", "1h",
               "--from", "2023-01-01T02:00", "--to", "2023-01-02")
    rows = r.stdout.splitlines()[1:]
    assert len(rows) == 22 and rows[0].startswith(str(T0 + 2 * H)) and rows[-1].startswith(str(T0 + 23 * H))
    args = ["backtest", "run", "sma_cross", "--param", "fast=2", "--param", "slow=5", "--no-store", "--json",
            "--from", "2023-01-01T02:00+00:00", "--to", "2023-01-02"]
    from_store = json.loads(cashup("--db", db, *args, "--symbol", "BTC_USDT", "--timeframe", "1h").stdout)
    f = tmp_path / "c.csv"
    f.write_text(body)
    from_file = json.loads(cashup(*args, "--data", str(f)).stdout)
    assert from_store["bars"] == from_file["bars"] == 22
    assert from_store["end"] == from_file["end"] == T0 + 23 * H


def test_zoned_and_gate_layouts_read_the_same_in_import_and_backtest(tmp_path: Path, db: str) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    rows = candles(40)
    zoned = tmp_path / "zoned.csv"
    tz = timezone(timedelta(hours=8))
    zoned.write_text("date,open,high,low,close,volume\n" + "\n".join(
        datetime.fromtimestamp(int(r.split(",")[0]) / 1000, UTC).astimezone(tz).isoformat() + r[r.index(","):]
        for r in rows) + "\n")
    gate = tmp_path / "gate.csv"
    gate.write_text(GATE_HEADER + "\n".join(candles(40, seconds=True)) + "\n")
    for f in (zoned, gate):
        r = cashup("backtest", "run", "sma_cross", "--data", str(f), "--param", "fast=2", "--param", "slow=5",
                   "--no-store", "--json")
        assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
        assert json.loads(r.stdout)["start"] == T0
        r = cashup("--db", db, "data", "import", str(f), "--symbol", "BTC_USDT", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["first"] == "2023-01-01T00:00:00Z", r.stderr


def test_weekly_bars_open_on_monday(db: str) -> None:
    from datetime import UTC, datetime

    body = "open_time_ms,open,high,low,close,volume\n" + "\n".join(candles(24 * 30, step=H)) + "\n"
    assert cashup("--db", db, "data", "import", "-", "--symbol", "BTC_USDT", stdin=body).returncode == 0
    r = cashup("--db", db, "data", "resample", "--symbol", "BTC_USDT", "--from-tf", "1h", "--to-tf", "1w")
    assert r.returncode == 0, r.stderr
    out = cashup("--db", db, "data", "export", "-", "--symbol", "BTC_USDT", "--timeframe", "1w").stdout.splitlines()[1:]
    opens = [datetime.fromtimestamp(int(x.split(",")[0]) / 1000, UTC) for x in out]
    assert opens and all(d.weekday() == 0 and (d.hour, d.minute) == (0, 0) for d in opens)


# -- bad numbers: clean errors naming the line, never exit 70 ------------------------------------------------
@pytest.mark.parametrize(
    ("bad_row", "import_msg", "backtest_msg"),
    [
        ("99999999999999999999,1,2,0.5,1,3", "line 6: unparsable time", "row 6: time 1e+20 is not a date"),
        (f"{(T0 + 4 * H) // 1000},100,1e308,99,100,3", "line 6: high 1e+308 is larger than", "row 6: high 1e+308"),
        (f"{(T0 + 4 * H) // 1000},100,inf,99,100,3", "line 6: high inf is not finite", "first at row 6"),
        (f"{(T0 + 4 * H) // 1000},100,101,99,NaN,3", "line 6: close is NaN", "first at row 6"),
    ],
)
def test_bad_numbers_in_a_csv_are_clean_errors(tmp_path: Path, db: str, bad_row: str, import_msg: str,
                                               backtest_msg: str) -> None:
    rows = candles(40, seconds=True)
    rows[4] = bad_row
    f = tmp_path / "bad.csv"
    f.write_text(GATE_HEADER + "\n".join(rows) + "\n")
    r = cashup("--db", db, "data", "import", str(f), "--symbol", "BTC_USDT")
    assert r.returncode == 1 and import_msg in r.stderr and "nothing was imported" in r.stderr, r.stderr
    r = cashup("backtest", "run", "sma_cross", "--data", str(f), "--no-store", "--param", "fast=2",
               "--param", "slow=5")
    assert r.returncode == 1 and backtest_msg in r.stderr, r.stderr


def test_huge_cash_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(GATE_HEADER + "\n".join(candles(40, seconds=True)) + "\n")
    r = cashup("backtest", "run", "sma_cross", "--data", str(f), "--no-store", "--cash", "1e308")
    assert r.returncode == 1 and "--cash must be a positive amount of USDT up to 1e12" in r.stderr, r.stderr
