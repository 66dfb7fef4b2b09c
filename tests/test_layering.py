"""Import hygiene: imports point down only, no import circle, and the fast paths stay fast.

The layers (README "Where things live"): domain <- venue <- adapters | engine | store (siblings) <-
runtime <- service <- app | cli. Each rule is checked twice, as harlequin's import-hygiene tests do:
statically (every import statement in the source, function-level and `TYPE_CHECKING` ones included, so
a lazy import cannot hide a dependency) and at run time (a fresh interpreter imports the layer and we
look at `sys.modules`, which also sees what third-party packages pull in)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "cashup_tui"
HEAVY_UI = ("textual", "typer", "aiohttp", "ccxt")
HEAVY_HELP = ("textual", "ccxt", "pandas", "aiohttp", "sqlmodel", "sqlalchemy", "numpy")
# what "no I/O" means for the pure layers: no network, database, UI, files, processes or threads
IO_LIBS = ("asyncio", "aiohttp", "ccxt", "apprise", "requests", "socket", "ssl", "http", "urllib", "sqlite3",
           "sqlalchemy", "sqlmodel", "textual", "typer", "rich", "pathlib", "shutil", "tempfile", "subprocess",
           "threading", "multiprocessing", "concurrent", "logging")
# the composition root's inputs: only runtime, service, app and cli read them
CONFIG = ("cashup_tui.settings", "cashup_tui.paths")
ABOVE_SIBLINGS = ("cashup_tui.runtime", "cashup_tui.service", "cashup_tui.app", "cashup_tui.cli")

# layer (a package, or a top-level module) -> imports it must never make (a module or package prefix)
LAYER_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": ("cashup_tui.venue", "cashup_tui.adapters", "cashup_tui.engine", "cashup_tui.store",
               "cashup_tui.store_journal", *ABOVE_SIBLINGS, *CONFIG, "cashup_tui.logging_setup",
               "cashup_tui.extras", "cashup_tui.private_files", "cashup_tui.node_lock", *IO_LIBS),
    "engine": ("cashup_tui.adapters", "cashup_tui.store", "cashup_tui.store_journal", *ABOVE_SIBLINGS, *CONFIG),
    "adapters": ("cashup_tui.engine", "cashup_tui.store", "cashup_tui.store_journal", *ABOVE_SIBLINGS, *CONFIG),
    "store": ("cashup_tui.adapters", "cashup_tui.engine", *ABOVE_SIBLINGS, *CONFIG),
    "runtime.py": ("cashup_tui.service", "cashup_tui.app", "cashup_tui.cli"),
    "app": ("cashup_tui.adapters", "cashup_tui.store", "cashup_tui.store_journal", "cashup_tui.cli"),
    # cli command modules reach no adapter (runtime builds them) except the tool commands below
    "cli": ("cashup_tui.app", "cashup_tui.adapters"),
    # the simulated venue model: cashup_tui.domain and nothing else of ours, no I/O
    "venue": ("cashup_tui.store", "cashup_tui.adapters", "cashup_tui.engine", *ABOVE_SIBLINGS, *CONFIG,
              "cashup_tui.extras", "cashup_tui.logging_setup", "cashup_tui.node_lock", "cashup_tui.private_files",
              "asyncio", "aiohttp", "sqlmodel", "sqlalchemy", "textual", "typer", "ccxt"),
    # what both front ends call: never a front end itself
    "service": ("cashup_tui.app", "cashup_tui.cli", "textual", "typer"),
}
# The shared helpers of the composition root read no layer above domain.
for _util in ("settings.py", "paths.py", "logging_setup.py", "extras.py", "private_files.py"):
    LAYER_FORBIDDEN[_util] = ("cashup_tui.venue", "cashup_tui.adapters", "cashup_tui.engine", "cashup_tui.store",
                              "cashup_tui.store_journal", *ABOVE_SIBLINGS)

# Allowed on purpose, each with its reason (file relative to cashup_tui/, forbidden prefix it may import).
ALLOWED = {
    # the one door between the front ends: `cashup tui` opens the app (inside its function, so
    # importing the CLI never loads textual)
    ("cli/tui.py", "cashup_tui.app"),
    # tool commands that exist to drive one adapter (architecture: `sim serve`, `feed watch`, `keys`,
    # `data`; `notify test|channels|templates` drives the notifier the same way)
    ("cli/sim.py", "cashup_tui.adapters.sim"),
    ("cli/feed.py", "cashup_tui.adapters.gateio"),
    ("cli/keys.py", "cashup_tui.adapters.vault"),
    ("cli/data.py", "cashup_tui.adapters.candle_files"),
    ("cli/data.py", "cashup_tui.adapters.candle_stream"),
    ("cli/data.py", "cashup_tui.adapters.resample"),
    ("cli/data.py", "cashup_tui.adapters.gateio.rest_translate"),
    ("cli/data.py", "cashup_tui.adapters.gateio.rest"),
    ("cli/notify.py", "cashup_tui.adapters.notify"),
    ("cli/notify.py", "cashup_tui.adapters.notify_channels"),
    ("cli/notify.py", "cashup_tui.adapters.notify_templates"),
    # the CLI's share of the composition root: asks the admin passphrase (a vault function) before
    # runtime builds a live node
    ("cli/engine_cli.py", "cashup_tui.adapters.vault"),
    # roles (profiles and the admin passphrase check) depend on the domain only; runtime builds the
    # session that gates the live switch, so it takes them from the service package
    ("runtime.py", "cashup_tui.service.roles"),
}

# Known violations that a step of issue 12 removes. The test fails when one is no longer violated:
# delete the entry then (the list only shrinks).
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_of(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, root: Path) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports_in(path: Path, *, type_checking: bool = True, root: Path = REPO) -> set[str]:
    """Every module `path` imports, module- and function-level; relative imports resolved, and
    `from pkg import submodule` read as the submodule. TYPE_CHECKING blocks count when `type_checking`."""
    me = _module_of(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
                visit(list(node.orelse))
                continue
            if isinstance(node, ast.Import):
                out.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = package.split(".")
                    mod = ".".join(base[: len(base) - (node.level - 1)] + ([mod] if mod else []))
                for alias in node.names:
                    out.add(f"{mod}.{alias.name}" if _is_module(f"{mod}.{alias.name}", root) else mod)
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                sub = getattr(node, field, None)
                if isinstance(sub, list):
                    visit([s for s in sub if isinstance(s, ast.AST)])

    visit(list(ast.parse(path.read_text()).body))
    return out


def _imports(path: Path) -> set[str]:
    return _imports_in(path)


def _under(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def _layer_files(layer: str) -> list[Path]:
    return sorted((PKG / layer).rglob("*.py")) if (PKG / layer).is_dir() else [PKG / layer]


def _breaks(rel: str, imported: set[str], forbidden: tuple[str, ...]) -> set[tuple[str, str, str]]:
    return {(rel, f, mod) for mod in imported for f in forbidden
            if _under(mod, f) and not any(rel == a and _under(mod, m) for a, m in ALLOWED)}


def _violations() -> set[tuple[str, str, str]]:
    """(file, forbidden prefix, imported module) for every import breaking a layer rule."""
    out = set()
    for layer, forbidden in LAYER_FORBIDDEN.items():
        for path in _layer_files(layer):
            out |= _breaks(str(path.relative_to(PKG)), _imports(path), forbidden)
    return out


def _known(rel: str, mod: str) -> bool:
    return any(rel == a and _under(mod, m) for a, m in KNOWN_VIOLATIONS)


@pytest.mark.parametrize("layer", sorted(LAYER_FORBIDDEN))
def test_imports_point_down_only(layer: str) -> None:
    files = {str(p.relative_to(PKG)) for p in _layer_files(layer)}
    bad = sorted(f"cashup_tui/{rel} imports {mod} (rule: no {f})" for rel, f, mod in _violations()
                 if rel in files and f in LAYER_FORBIDDEN[layer] and not _known(rel, mod))
    assert not bad, "\n".join(bad)


def test_known_violations_are_still_violations() -> None:
    """An entry whose violation is gone must leave KNOWN_VIOLATIONS (so the list only shrinks)."""
    found = _violations()
    stale = [k for k in KNOWN_VIOLATIONS if not any(rel == k[0] and _under(mod, k[1]) for rel, _, mod in found)]
    assert not stale, f"fixed, remove from KNOWN_VIOLATIONS: {stale}"


def test_the_static_check_sees_lazy_relative_and_type_checking_imports(tmp_path: Path) -> None:
    """The guard itself: an import hidden in a function, behind TYPE_CHECKING or written relative is seen."""
    (tmp_path / "cashup_tui" / "engine").mkdir(parents=True)
    (tmp_path / "cashup_tui" / "adapters").mkdir()
    (tmp_path / "cashup_tui" / "adapters" / "vault.py").write_text("")
    probe = tmp_path / "cashup_tui" / "engine" / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cashup_tui.paths import x\n"
                     "class A:\n    async def f(self):\n        try:\n            from ..adapters import vault\n"
                     "        except ImportError:\n            import cashup_tui.settings\n")
    imported = _imports_in(probe, root=tmp_path)
    assert imported == {"typing", "cashup_tui.paths", "cashup_tui.adapters.vault", "cashup_tui.settings"}
    assert {m for _, _, m in _breaks("engine/probe.py", imported, LAYER_FORBIDDEN["engine"])} == imported - {"typing"}
    assert "cashup_tui.paths" not in _imports_in(probe, type_checking=False, root=tmp_path)


# --- run time: what importing a layer actually loads ---------------------------------------------------------


def _loaded_after(code: str) -> set[str]:
    """Top-level packages (and cashup_tui's modules, dotted) loaded in a fresh interpreter after `code`."""
    probe = (code + "\nimport sys, json\nmods = set(sys.modules)\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in mods} | {m for m in mods if m.startswith('cashup_tui')})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _all_modules(layer: str) -> list[str]:
    return [_module_of(p) for p in _layer_files(layer) if not p.name.startswith("_") or p.name == "__init__.py"]


# layer -> (forbidden loaded names); IO_LIBS only where the layer is pure
RUNTIME_FORBIDDEN = {
    "domain": LAYER_FORBIDDEN["domain"],
    "engine": LAYER_FORBIDDEN["engine"],
    "adapters": LAYER_FORBIDDEN["adapters"],
    "store": LAYER_FORBIDDEN["store"],
    "app": LAYER_FORBIDDEN["app"],
}


@pytest.mark.parametrize("layer", sorted(RUNTIME_FORBIDDEN))
def test_importing_a_layer_loads_nothing_it_must_not_use(layer: str) -> None:
    # what the bare interpreter loads (site, the editable install's finder) is not the layer's doing
    loaded = _loaded_after("\n".join(f"import {m}" for m in _all_modules(layer))) - _loaded_after("")
    bad = sorted(m for m in loaded for f in RUNTIME_FORBIDDEN[layer] if _under(m, f))
    assert not bad, f"importing cashup_tui.{layer} loads {bad}"


CLI_COMMANDS = sorted(p.stem for p in (PKG / "cli").glob("*.py")
                      if p.stem not in ("__init__", "sim", "feed", "keys", "data", "notify", "tui"))


@pytest.mark.parametrize("module", CLI_COMMANDS)
def test_cli_command_modules_load_no_adapter(module: str) -> None:
    loaded = _loaded_after(f"import cashup_tui.cli.{module}")
    assert not {m for m in loaded if _under(m, "cashup_tui.adapters") or _under(m, "cashup_tui.app")}


def test_domain_and_store_load_no_ui_or_network_libraries() -> None:
    code = "\n".join(f"import {m}" for m in _all_modules("domain")) + "\nimport cashup_tui.store"
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


# --- no import circle --------------------------------------------------------------------------------------


def _import_graph() -> dict[str, set[str]]:
    """module -> cashup_tui modules it imports (module- and function-level; TYPE_CHECKING excluded:
    a type-only reference runs nothing)."""
    files = {_module_of(p): p for p in PKG.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    return {mod: {t for t in map(resolve, _imports_in(path, type_checking=False)) if t is not None and t != mod}
            for mod, path in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_circle() -> None:
    assert _cycles(_import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_strategies_import_only_the_strategy_api_and_domain() -> None:
    allowed_prefixes = ("cashup_tui.engine.strategy", "cashup_tui.engine.indicators", "cashup_tui.engine.panel",
                        "cashup_tui.domain")
    bad = []
    for path in (REPO / "strategies").glob("*.py"):
        for mod in _imports(path):
            if mod.startswith("cashup_tui") and not mod.startswith(allowed_prefixes):
                bad.append(f"{path.name} imports {mod}")
    assert not bad, "\n".join(bad)
