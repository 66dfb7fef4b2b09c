"""`cashup feed replay` and `cashup feed watch` as a user runs them (real processes)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FUT = "futures_usdt_ws_frames_2023-05-24.jsonl"
FUT_SNAPS = "futures_usdt_rest_order_book_with_id_2023-05-24.jsonl"


def cashup(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cashup_tui", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_replay_futures_capture_prints_events_and_ten_synced_books(gateio_dir: Path) -> None:
    r = cashup("feed", "replay", str(gateio_dir / FUT), "--snapshots", str(gateio_dir / FUT_SNAPS))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    out = r.stdout
    assert "parse errors 0" in out and "futures.order_book_update 362" in out
    assert len(re.findall(r"in sync", out)) == 10 and " OUT " not in out
    assert "DIA_USDT: synced from snapshot id 58251407" in out and "as new as the stream" in out
    assert re.search(r"RDNT_USDT\s+delta\s+U \d+ u \d+", out)
    assert re.search(r"PHB_USDT\s+bbo\s+bid 0\.\d+ x \d+", out)


def test_replay_json_and_auto_snapshots(gateio_dir: Path) -> None:
    r = cashup("feed", "replay", str(gateio_dir / FUT), "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["parse_errors"] == 0
    assert len(summary["books"]) == 10 and all(b["synced"] and b["gaps"] == 0 for b in summary["books"].values())
    types = {x["type"] for x in lines}
    assert {"book_delta", "bookticker", "bar", "note", "summary"} <= types


def test_replay_spot_capture_parses(gateio_dir: Path) -> None:
    r = cashup("feed", "replay", str(gateio_dir / "spot_ws_frames_2021-04-22.jsonl"), "--summary")
    assert r.returncode == 0, r.stderr
    assert "parse errors 0" in r.stdout and "spot.trades 10" in r.stdout  # 9 trades + 1 ack


def test_replay_reports_a_gap_in_a_doctored_capture(gateio_dir: Path, tmp_path: Path) -> None:
    """Remove one RDNT_USDT update after the snapshot: the replay must say gap, and not serve the book."""
    lines = (gateio_dir / FUT).read_text().splitlines()
    idx = [i for i, x in enumerate(lines) if '"s":"RDNT_USDT"' in x and "order_book_update" in x and '"dir":"in"' in x]
    del lines[idx[-5]]
    f = tmp_path / "gappy_ws_frames.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = cashup("feed", "replay", str(f), "--snapshots", str(gateio_dir / FUT_SNAPS), "--summary")
    assert r.returncode == 0, r.stderr
    assert "RDNT_USDT: sequence gap" in r.stdout
    assert re.search(r"RDNT_USDT\s+OUT", r.stdout)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["feed", "replay", "/nonexistent/capture.jsonl"], "does not exist"),
        (["feed", "watch", "btc-usdt"], "is not a Gate contract name"),
        (["feed", "watch", "BTC_USDT", "--ws-url", "ftp://x"], "must start with ws://"),
        (["feed", "watch", "BTC_USDT", "--channel", "book", "--depth", "30"], "not a Gate book level"),
    ],
)
def test_bad_input_is_a_clean_error(args: list[str], needle: str) -> None:
    r = cashup(*args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_channel_is_a_choice() -> None:
    r = cashup("feed", "watch", "BTC_USDT", "--channel", "orders")
    assert r.returncode == 2 and "'orders' is not one of 'tickers', 'trades', 'book'" in r.stderr
    assert "Traceback" not in r.stderr


def test_replay_of_a_non_capture_file_is_a_clean_error(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text("hello\n")
    r = cashup("feed", "replay", str(f))
    assert r.returncode == 1 and "not a JSON line" in r.stderr and "hint" in r.stderr


def _start_sim(tmp_path: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", "--symbols", "BTC_USDT"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )
    ws = rest = ""
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline and not (ws and rest):
        line = proc.stdout.readline()
        if not line:
            break
        if m := re.search(r"ws:\s+(ws://\S+)", line):
            ws = m.group(1)
        if m := re.search(r"rest:\s+(http://\S+)", line):
            rest = m.group(1)
    if not (ws and rest):
        proc.kill()
        pytest.skip("the simulator did not start (cashup sim serve)")
    return proc, ws, rest


@pytest.fixture
def sim(tmp_path: Path):
    sim_path = REPO / "cashup_tui" / "adapters" / "sim" / "server.py"
    if not sim_path.exists():
        pytest.skip("simulator not built yet")
    proc, ws, rest = _start_sim(tmp_path)
    yield ws, rest
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("channel", ["tickers", "trades", "book"])
def test_watch_against_the_simulator(sim: tuple[str, str], channel: str) -> None:
    ws, rest = sim
    r = cashup("feed", "watch", "BTC_USDT", "--channel", channel, "--count", "3", "--json",
               env={"CASHUP_GATE_WS_URL": ws, "CASHUP_GATE_REST_URL": rest}, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 3 and all(x["symbol"] == "BTC_USDT" for x in rows)
    if channel == "book":
        for x in rows:
            assert float(x["bids"][0][0]) < float(x["asks"][0][0])
    else:
        assert {x["type"] for x in rows} == {"ticker" if channel == "tickers" else "trade"}


def test_watch_ctrl_c_exits_cleanly(sim: tuple[str, str]) -> None:
    ws, rest = sim
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "feed", "watch", "BTC_USDT", "--ws-url", ws, "--rest-url", rest],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "BTC_USDT" in first and "ticker" in first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "update(s) shown" in err


def test_watch_into_a_closed_pipe_ends_quietly(sim: tuple[str, str]) -> None:
    """`cashup feed watch ... | head -n 3`: a real pipe; the watcher exits 0 with no traceback once head is gone."""
    ws, rest = sim
    watcher = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "feed", "watch", "BTC_USDT", "--json", "--ws-url", ws, "--rest-url", rest],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    head = subprocess.run(["head", "-n", "3"], stdin=watcher.stdout, capture_output=True, text=True, timeout=60)
    assert watcher.stdout is not None
    watcher.stdout.close()  # only head holds the read end; it has exited, so the pipe is closed
    assert len(head.stdout.splitlines()) == 3
    err = watcher.communicate(timeout=60)[1].decode()
    assert watcher.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
