"""Import hygiene: imports point down only, and the fast paths stay fast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "cashup_tui"
HEAVY_UI = ("textual", "typer", "aiohttp", "ccxt")
HEAVY_HELP = ("textual", "ccxt", "pandas", "aiohttp", "sqlmodel", "sqlalchemy", "numpy")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_domain_and_store_load_no_ui_or_network_libraries() -> None:
    mods = ["cashup_tui.domain." + p.stem for p in (PKG / "domain").glob("*.py") if p.stem != "__init__"]
    code = "\n".join(f"import {m}" for m in mods)
    if (PKG / "store" / "__init__.py").exists():
        code += "\nimport cashup_tui.store"
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY_UI), loaded & set(HEAVY_UI)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom cashup_tui.cli.main import app\n"
        "try:\n    app(args=['--help'], prog_name='cashup', standalone_mode=False)\nexcept SystemExit:\n    pass\n"
    )
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY_HELP), loaded & set(HEAVY_HELP)


@pytest.mark.parametrize("group", ["data", "backtest", "strategies", "optimize", "orders", "trade", "risk"])
def test_headless_groups_never_import_textual(group: str) -> None:
    from cashup_tui.cli.main import GROUPS

    module = GROUPS[group][0]
    if not (REPO / (module.replace(".", "/") + ".py")).exists():
        pytest.skip(f"{module} not built yet")
    loaded = _loaded_after(f"import {module}")
    assert "textual" not in loaded
    assert "cashup_tui" in loaded


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


LAYER_FORBIDDEN = {
    "domain": ("cashup_tui.store", "cashup_tui.adapters", "cashup_tui.engine", "cashup_tui.runtime",
               "cashup_tui.app", "cashup_tui.cli", "asyncio", "aiohttp", "sqlmodel", "textual", "typer"),
    "store": ("cashup_tui.adapters", "cashup_tui.engine", "cashup_tui.runtime", "cashup_tui.app", "cashup_tui.cli"),
    "adapters": ("cashup_tui.engine", "cashup_tui.runtime", "cashup_tui.app", "cashup_tui.cli", "cashup_tui.store"),
    "engine": ("cashup_tui.adapters", "cashup_tui.runtime", "cashup_tui.app", "cashup_tui.cli"),
    # the simulated venue model: cashup_tui.domain and nothing else of ours, no I/O
    "venue": ("cashup_tui.store", "cashup_tui.adapters", "cashup_tui.engine", "cashup_tui.runtime",
              "cashup_tui.app", "cashup_tui.cli", "cashup_tui.service", "cashup_tui.settings", "cashup_tui.paths",
              "cashup_tui.extras", "cashup_tui.logging_setup", "cashup_tui.node_lock", "cashup_tui.store_journal",
              "asyncio", "aiohttp", "sqlmodel", "textual", "typer", "ccxt"),
    "app": ("cashup_tui.cli",),
    "cli": ("cashup_tui.app",),
    "service": ("cashup_tui.app", "cashup_tui.cli", "textual", "typer"),
}


# The one door between the front ends: `cashup tui` opens the app (inside its function, so
# importing the CLI never loads textual).
ALLOWED = {("cli/tui.py", "cashup_tui.app")}


@pytest.mark.parametrize("layer", sorted(LAYER_FORBIDDEN))
def test_imports_point_down_only(layer: str) -> None:
    bad = []
    for path in (PKG / layer).rglob("*.py"):
        rel = str(path.relative_to(PKG))
        for mod in _imports(path):
            if any(rel == a and (mod == m or mod.startswith(m + ".")) for a, m in ALLOWED):
                continue
            if any(mod == f or mod.startswith(f + ".") for f in LAYER_FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(REPO)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_strategies_import_only_the_strategy_api_and_domain() -> None:
    allowed_prefixes = ("cashup_tui.engine.strategy", "cashup_tui.engine.indicators", "cashup_tui.domain")
    bad = []
    for path in (REPO / "strategies").glob("*.py"):
        for mod in _imports(path):
            if mod.startswith("cashup_tui") and not mod.startswith(allowed_prefixes):
                bad.append(f"{path.name} imports {mod}")
    assert not bad, "\n".join(bad)
