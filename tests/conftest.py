"""Shared fixtures: the location of ../shared data, made-up keys, isolated user dirs, and the store
location (`store_url`: a SQLite file, and a fresh database on a throwaway PostgreSQL server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import campaign, pg_server

# Deterministic property tests: the same examples on every run (no luck in CI); --campaign widens them.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "campaign", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CASHUP_SHARED_DIR", REPO.parent / "shared"))
MARKET_DIR = SHARED / "data" / "market"
GATEIO_DIR = SHARED / "data" / "gateio"

# Made-up credentials for tests: never real.
FAKE_API_KEY = "fakekey0123456789abcdef0123456789"
FAKE_API_SECRET = "fakesecret9876543210fedcba9876543210fedcba9876543210fedcba98765432"


def need_shared(path: Path) -> Path:
    """Skip (with the reason) when ../shared is not beside the repository."""
    if not path.exists():
        pytest.skip(f"{path} not found: the shared data folder must sit beside the repo (../shared)")
    return path


@pytest.fixture
def market_dir() -> Path:
    return need_shared(MARKET_DIR)


@pytest.fixture
def gateio_dir() -> Path:
    return need_shared(GATEIO_DIR)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own config/data/log/cache dirs; nothing touches the real home."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("CASHUP_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("CASHUP_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("CASHUP_LOG_DIR", str(base / "log"))
    monkeypatch.setenv("CASHUP_CACHE_DIR", str(base / "cache"))
    for var in ("CASHUP_CONFIG", "CASHUP_DB", "CASHUP_GATE_API_KEY", "CASHUP_GATE_API_SECRET", "CASHUP_GATE_ACCOUNT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_server.PgServer]:
    """A PostgreSQL server of this test session (one per xdist worker); skips/fails when missing."""
    server = pg_server.start_server()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a new SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    return request.getfixturevalue("pg").create_database()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--campaign",
        action="store_true",
        default=False,
        help="run the fuzz and fault campaigns at full size (thousands of examples; minutes to hours)",
    )


# Process-level campaigns: dozens of real `cashup` processes (kill -9 at every step, 16 writers on one
# store, tmux and pty sessions, a Dask cluster). The README's suite runs them; `.ci/run`'s second
# interpreter (3.13) runs everything else with `-m "not procs"`, which keeps CI within its time budget.
PROCS_FILES = frozenset({
    "test_shared_store_procs.py", "test_order_manager_crash.py", "test_order_manager_crash_trade.py",
    "test_fault_campaign.py", "test_sighup_trade.py", "test_sighup_tmux.py", "test_tmux_cli.py",
    "test_optimize_cluster.py", "test_cli_shell.py", "test_notify_cli.py", "test_vault_cli.py", "test_serve.py",
    "test_serve_chromium.py",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in PROCS_FILES:
            item.add_marker(pytest.mark.procs)


def pytest_configure(config: pytest.Config) -> None:
    campaign.ENABLED = bool(config.getoption("--campaign"))
    settings.load_profile("campaign" if campaign.ENABLED else "ci")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[object]:
    """A real `cashup serve` on a free loopback port (tests/serve_support.Served), stopped after the test."""
    from tests.serve_support import Served

    s = Served(tmp_path)
    try:
        yield s
    finally:
        s.close()
