"""The real `cashup` command: help, version, config subcommands and clean errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cashup(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cashup_tui", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


def test_help_lists_groups_and_version() -> None:
    r = cashup("--help")
    assert r.returncode == 0
    for group in ("config",):
        assert group in r.stdout
    v = cashup("--version")
    assert v.returncode == 0 and v.stdout.startswith("cashup ")


def test_config_init_path_show(tmp_path: Path) -> None:
    target = tmp_path / "c.toml"
    r = cashup("config", "init", "--path", str(target))
    assert r.returncode == 0, r.stderr
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = cashup("config", "init", "--path", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    shown = cashup("--config", str(target), "config", "show", "--json")
    assert shown.returncode == 0 and '"max_leverage": 10.0' in shown.stdout
    p = cashup("config", "path", env={"CASHUP_CONFIG": str(target)})
    assert str(target) in p.stdout and "CASHUP_CONFIG" in p.stdout


def test_bad_config_exits_2_with_file_line_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_leverage = 'x'\n")
    r = cashup("--config", str(bad), "config", "show")
    assert r.returncode == 2
    assert f"{bad}:2" in r.stderr and "max_leverage" in r.stderr and "expected a number" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_missing_config_file_is_clear(tmp_path: Path) -> None:
    r = cashup("--config", str(tmp_path / "nope.toml"), "config", "show")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_unknown_command_is_a_usage_error() -> None:
    r = cashup("frobnicate")
    assert r.returncode == 2 and "No such command" in r.stderr
