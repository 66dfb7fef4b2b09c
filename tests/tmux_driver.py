"""Drive a real terminal program in tmux as a person over SSH would: send-keys and capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest


class Tmux:
    def __init__(self, width: int = 100, height: int = 30) -> None:
        if not shutil.which("tmux"):
            pytest.skip("tmux is not installed (.ci/run installs it with apt-get)")
        self.name = f"cashup-{uuid.uuid4().hex[:8]}"
        self.socket = f"cashup-test-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check,
                              timeout=20)

    def start(self, command: str, env: dict[str, str], cwd: Path) -> None:
        exports = " ".join(f"{k}={_q(v)}" for k, v in env.items())
        shell = f"cd {_q(str(cwd))} && env {exports} {command}; echo EXIT-CODE=$?; sleep 30"
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(self.width), "-y", str(self.height), shell)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        r = self._tmux("capture-pane", "-p", "-t", self.name, check=False)
        return r.stdout

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what!r}; screen was:\n{text}")

    def pane_pid(self) -> int | None:
        r = self._tmux("list-panes", "-t", self.name, "-F", "#{pane_pid}", check=False)
        return int(r.stdout.strip()) if r.stdout.strip().isdigit() else None

    def kill(self) -> None:
        self._tmux("kill-server", check=False)


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"
