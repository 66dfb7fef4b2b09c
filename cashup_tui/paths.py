"""Where CashUp keeps its files (platformdirs). Nothing is created at import time:
callers ask for a path and call `private_files.ensure_private_dir` when they are about to write."""

from __future__ import annotations

import os
from pathlib import Path

from cashup_tui.domain.enums import GATE_MODES, Mode

APP_NAME = "cashup"


def _dirs():  # imported lazily: platformdirs is light, but keep import time near zero
    from platformdirs import PlatformDirs

    return PlatformDirs(APP_NAME, appauthor=False)


def config_dir() -> Path:
    return Path(os.environ.get("CASHUP_CONFIG_DIR") or _dirs().user_config_dir)


def data_dir() -> Path:
    return Path(os.environ.get("CASHUP_DATA_DIR") or _dirs().user_data_dir)


def log_dir() -> Path:
    return Path(os.environ.get("CASHUP_LOG_DIR") or _dirs().user_log_dir)


def cache_dir() -> Path:
    """Derived data, safe to delete (the candle column cache): rebuilt from the store when missing."""
    return Path(os.environ.get("CASHUP_CACHE_DIR") or _dirs().user_cache_dir)


def candle_cache_dir() -> Path:
    """The candle column cache (store.candle_cache): written by imports and backtests, read by backtests."""
    return cache_dir() / "candles"


def default_config_file() -> Path:
    return config_dir() / "cashup.toml"


def default_db_path(mode: Mode = Mode.DEMO) -> Path:
    """One database per mode family, like freqtrade: live never shares a file with paper/demo."""
    name = "cashup-live.sqlite" if mode in GATE_MODES else "cashup.sqlite"
    return data_dir() / name


def vault_path() -> Path:
    return data_dir() / "vault.json"


def admin_hash_path() -> Path:
    """The admin passphrase's salted scrypt hash (not the passphrase), beside the vault."""
    return data_dir() / "admin.scrypt"


def user_strategies_dir() -> Path:
    """The user's own strategies (searched after $CASHUP_STRATEGIES_DIR and the built-in ones)."""
    return config_dir() / "strategies"
