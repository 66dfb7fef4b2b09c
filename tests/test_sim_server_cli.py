"""`cashup sim serve` as a real subprocess: prints URLs, keys and env lines, serves, stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 20
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.match(r"export (CASHUP_GATE_\w+)=(\S+)", line.strip())
        if m:
            lines[m.group(1)] = m.group(2)
        if line.startswith("Ctrl-C"):
            return proc, lines
    proc.kill()
    raise AssertionError(f"simulator did not start: {proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_serves_and_stops_cleanly(sig: int) -> None:
    proc, env = _start("--seed", "7", "--symbols", "BTC_USDT,ETH_USDT", "--fault", "gap_every=50")
    try:
        assert set(env) == {"CASHUP_GATE_REST_URL", "CASHUP_GATE_WS_URL", "CASHUP_GATE_API_KEY", "CASHUP_GATE_API_SECRET"}
        assert env["CASHUP_GATE_WS_URL"].startswith("ws://127.0.0.1:") and env["CASHUP_GATE_WS_URL"].endswith("/v4/ws/usdt")
        rest = env["CASHUP_GATE_REST_URL"]
        with urllib.request.urlopen(f"{rest}/futures/usdt/contracts", timeout=5) as resp:
            names = [c["name"] for c in json.load(resp)]
        assert names == ["BTC_USDT", "ETH_USDT"]
        admin = rest.replace("/api/v4", "/_sim/faults")
        with urllib.request.urlopen(admin, timeout=5) as resp:
            assert json.load(resp)["faults"]["gap_every"] == 50
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "simulator stopped" in out


def test_serve_rejects_bad_flags_cleanly() -> None:
    for args, fragment in (
        (["--fault", "nope=1"], "unknown fault switch"),
        (["--fault", "gap_every"], "NAME=VALUE"),
        (["--symbols", "btc"], "not a Gate USDT perpetual"),
        (["--api-key", "k"], "both --api-key and --api-secret"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "cashup_tui", "sim", "serve", *args], capture_output=True, text=True, timeout=30, cwd=REPO
        )
        assert r.returncode != 0 and fragment in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_serve_says_which_symbols_have_made_up_specs() -> None:
    """A valid-looking name with no Gate spec on file (a typo such as BTCC_USDT) is served, but the banner
    says its specs are made up; real contracts are not flagged."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "sim", "serve", "--port", "0", "--symbols", "BTC_USDT,BTCC_USDT"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=REPO,
    )
    banner = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    flagged = [x for x in banner if x.strip().startswith("synthetic")]
    assert len(flagged) == 1, "".join(banner)
    assert flagged[0].rstrip().endswith(": BTCC_USDT")
