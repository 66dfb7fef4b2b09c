"""`cashup serve` as a user runs it: a real process on a free loopback port, reached over HTTP and its
websocket the way textual-serve's page does (or by a real headless Chromium, tests/test_serve_chromium.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp

from tests.audit_read import audit_actions

READY_TIMEOUT_S = 90.0  # a cold start of the app under a loaded CI box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """The live child pids of `pid` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Served:
    """One `cashup serve --mode demo` process (its own session: the test can signal it like a terminal's
    Ctrl-C reaches a whole process group)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = tmp_path / "serve.out"
        self.app_log = Path(os.environ["CASHUP_LOG_DIR"]) / "cashup.log"
        self.db = tmp_path / "serve.db"
        argv = [sys.executable, "-m", "cashup_tui", "--db", str(self.db), "serve", "--port",
                str(self.port)]
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, READY_TIMEOUT_S, f"cashup serve on {self.url}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"cashup serve exited {self.proc.returncode}: {self.output.read_text()}")
        try:
            with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def get(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return int(r.status), r.read()

    def app_pids(self) -> list[int]:
        return [p for p in children(self.proc.pid) if alive(p)]

    def log(self) -> str:
        return self.app_log.read_text(errors="replace") if self.app_log.exists() else ""

    def audit(self) -> list[str]:
        return audit_actions(self.db)

    def signal_group(self, sig: int) -> None:
        """As Ctrl-C in serve's terminal does: the signal reaches serve and every app process."""
        os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


async def read_until(ws: aiohttp.ClientWebSocketResponse, needle: bytes, timeout: float) -> bytes:
    """The terminal bytes the app sent until `needle` shows up in them."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} in {len(got)} bytes from the app; tail: {bytes(got[-300:])!r}")
        try:
            msg = await ws.receive(timeout=min(left, 1.0))
        except TimeoutError:
            continue
        if msg.type == aiohttp.WSMsgType.BINARY:
            got += msg.data
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise AssertionError(f"the websocket closed before {needle!r}: {bytes(got[-300:])!r}")
    return bytes(got)
