"""The built-in strategies are the `strategies` package, found through importlib.resources (so they
ship in the wheel; .ci/wheel_check installs it and lists them); `cashup strategies list` warns when
it finds none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cashup_tui.engine.strategy import builtin_strategies_dir, discover

REPO = Path(__file__).resolve().parent.parent


def test_builtin_strategies_are_the_strategies_package() -> None:
    import strategies

    d = builtin_strategies_dir()
    assert d is not None and d == Path(strategies.__file__).parent
    assert discover()["sma_cross"] == d / "sma_cross.py" and "__init__" not in discover()


def _list(tmp_path: Path, *, hide_builtin: bool) -> subprocess.CompletedProcess[str]:
    code = ("import sys\n" + ("sys.modules['strategies'] = None\n" if hide_builtin else "")
            + "from cashup_tui.cli.main import run; run(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, "strategies", "list", "--json"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)


def test_list_warns_when_it_finds_no_strategy(tmp_path: Path) -> None:
    r = _list(tmp_path, hide_builtin=True)
    assert r.returncode == 0 and json.loads(r.stdout)["strategies"] == []
    assert r.stderr.startswith("warning: no strategies found in ") and "hint:" in r.stderr
    ok = _list(tmp_path, hide_builtin=False)
    assert ok.returncode == 0 and ok.stderr == "" and len(json.loads(ok.stdout)["strategies"]) >= 7
