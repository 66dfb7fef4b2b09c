"""Optional parts (extras): a missing one is a one-line error naming the extra (exit 2), not a traceback.

The real commands run in a subprocess whose import system reports the optional module as not
installed (`sys.modules[name] = None`, what Python does for an absent package).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cashup_tui.extras import MissingExtra, require

REPO = Path(__file__).resolve().parent.parent


def cashup_without(missing: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            "from cashup_tui.cli.main import run; run(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require("json", extra="x", why="y").__name__ == "json"
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtra) as info:
        require("pyarrow", extra="parquet", why="parquet files need pyarrow")
    assert str(info.value) == "parquet files need pyarrow: pip install 'cashup[parquet]'"
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    with pytest.raises(MissingExtra, match=r"cashup\[serve\]"):
        require("textual_serve.server", extra="serve", why="cashup serve needs textual-serve")


def test_require_does_not_hide_a_broken_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "halfthere.py").write_text("import not_installed_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency_xyz"):
        require("halfthere", extra="x", why="y")


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_data_import_of_a_parquet_file_without_pyarrow(tmp_path: Path, suffix: str) -> None:
    f = tmp_path / f"candles{suffix}"
    f.write_bytes(b"PAR1")
    r = cashup_without("pyarrow", "--db", str(tmp_path / "s.sqlite"), "data", "import", str(f),
                       "--symbol", "BTC_USDT", "--timeframe", "1h", cwd=tmp_path)
    kind = suffix[1:]
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() == f"error: {kind} files need pyarrow: pip install 'cashup[parquet]'"


def test_data_export_to_parquet_without_pyarrow(tmp_path: Path) -> None:
    r = cashup_without("pyarrow", "--db", str(tmp_path / "s.sqlite"), "data", "export", "--symbol", "BTC_USDT",
                       "--timeframe", "1h", str(tmp_path / "out.parquet"), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "error: parquet files need pyarrow: pip install 'cashup[parquet]'"


def test_serve_without_textual_serve(tmp_path: Path) -> None:
    r = cashup_without("textual_serve", "serve", "--port", "0", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: cashup serve needs textual-serve: pip install 'cashup[serve]'"


def test_cluster_without_distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    from cashup_tui.engine import optimize

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtra,
                       match=r"^--cluster needs Dask, which is not installed: pip install 'cashup\[cluster\]'$"):
        next(optimize._run_dask(None, [], "tcp://127.0.0.1:8786", None, 1.0, None))  # type: ignore[arg-type]
