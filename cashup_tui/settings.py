"""Settings from TOML with a strict schema and clear errors.

Discovery: `--config` flag > `CASHUP_CONFIG` env > user config dir (platformdirs) >
built-in defaults. Then `CASHUP_<SECTION>_<KEY>` environment variables override single
keys (e.g. `CASHUP_RISK_MAX_LEVERAGE=3`, `CASHUP_GATE_REST_URL=http://127.0.0.1:8080`).
API keys are accepted from the environment only (`CASHUP_GATE_API_KEY`,
`CASHUP_GATE_API_SECRET`) or the vault; a config file that holds one is refused.

Stdlib only: this module is imported on the fast `cashup --help` path.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from cashup_tui.domain.enums import TRADING_MODES
from cashup_tui.domain.errors import ConfigError
from cashup_tui.domain.secret import Secret


@dataclass
class StoreSettings:
    url: str = ""  # SQLAlchemy URL; "" = sqlite file in the user data dir (one per mode family)
    synchronous: str = "FULL"  # SQLite synchronous pragma for the order journal: FULL or NORMAL
    busy_timeout_ms: int = 5000


@dataclass
class GateSettings:
    rest_url: str = "https://api.gateio.ws/api/v4"
    ws_url: str = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    testnet_rest_url: str = "https://fx-api-testnet.gateio.ws/api/v4"
    testnet_ws_url: str = "wss://fx-ws-testnet.gateio.ws/v4/ws/usdt"
    settle: str = "usdt"
    ping_interval_s: float = 12.0
    stale_after_s: float = 40.0
    book_depth: int = 20
    book_freq: str = "100ms"
    request_timeout_s: float = 10.0
    orders_over_ws: bool = True  # place/amend/cancel over Gate's websocket API when logged in (REST fallback)
    api_key: Secret = Secret("")  # environment only: CASHUP_GATE_API_KEY
    api_secret: Secret = Secret("")  # environment only: CASHUP_GATE_API_SECRET
    account: str = ""  # the venue account the store keys this trader's rows by; "" = "default"


@dataclass
class BacktestSettings:
    cash: float = 10_000.0
    fee_bps: float = 5.0
    slippage_bps: float = 0.0
    leverage: float = 1.0
    engine: str = "fast"


@dataclass
class RiskSettings:
    max_order_notional: float = 50_000.0
    max_position_notional: float = 100_000.0
    max_gross_exposure: float = 250_000.0
    max_leverage: float = 10.0
    price_band_pct: float = 5.0
    price_sources_band_pct: float = 5.0  # mark vs book mid / index; beyond it the symbol pauses (0 = off)
    max_open_orders: int = 50
    max_orders_per_sec: float = 10.0
    daily_loss_limit: float = 2_000.0
    max_drawdown_pct: float = 20.0
    stale_feed_s: float = 15.0


@dataclass
class SimSettings:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    symbols: list[str] = field(default_factory=lambda: ["BTC_USDT", "ETH_USDT", "SOL_USDT"])
    starting_balance: float = 100_000.0
    tick_ms: int = 100


@dataclass
class NotifySettings:
    urls: list[str] = field(default_factory=list)  # apprise URLs; tokens here are secrets: prefer the vault
    disabled_urls: list[str] = field(default_factory=list)  # channels switched off (kept, never sent to)
    alerts: list[str] = field(default_factory=list)  # alert rules, e.g. "BTC_USDT price above 70000"
    min_severity: str = "info"
    rate_limit_per_min: int = 30
    timeout_s: float = 4.0
    connect_timeout_s: float = 3.0
    dedup_window_s: float = 60.0  # identical events (same key) within this window are sent once
    queue_size: int = 1000  # full queue: the oldest info message is dropped (and counted)
    retries: int = 2  # per channel, exponential backoff
    # folder of your own Jinja2 templates (<event>.j2 overrides that built-in); "" = templates/notify/ beside
    # the settings file (or in the user config dir); a relative path is relative to the settings file
    templates_dir: str = ""


@dataclass
class UiSettings:
    mode: str = "demo"
    profile: str = "trader"  # viewer (read-only), developer (paper only) or trader; admin actions ask the passphrase
    watchlist: list[str] = field(default_factory=lambda: ["BTC_USDT", "ETH_USDT", "SOL_USDT"])
    refresh_hz: float = 4.0
    large_trade_usdt: float = 50_000.0
    chart_timeframe: str = "1m"


@dataclass
class LogSettings:
    level: str = "INFO"
    file: str = ""  # "" = cashup.log in the user log dir


@dataclass
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    backtest: BacktestSettings = field(default_factory=BacktestSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    sim: SimSettings = field(default_factory=SimSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    ui: UiSettings = field(default_factory=UiSettings)
    log: LogSettings = field(default_factory=LogSettings)
    source: str = "built-in defaults"  # where the file came from (not a TOML key)
    config_file: str = ""  # the settings file read, if any (not a TOML key)

    def as_dict(self, *, redact: bool = True) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in SECTIONS:
            section = getattr(self, name)
            values = {}
            for f in fields(section):
                v = getattr(section, f.name)
                if isinstance(v, Secret):
                    v = ("<set>" if v else "<not set>") if redact else v.reveal()
                elif redact and (name, f.name) in URL_KEYS:  # tokens: scheme and host only
                    # imported here: every command loads settings, few show them (logging.handlers, regexes)
                    from cashup_tui.logging_setup import mask_url

                    v = [mask_url(u) for u in v]
                values[f.name] = v
            out[name] = values
        return out


SECTIONS = ("store", "gate", "backtest", "risk", "sim", "notify", "ui", "log")
ENV_ONLY = {("gate", "api_key"), ("gate", "api_secret")}
URL_KEYS = (("notify", "urls"), ("notify", "disabled_urls"))  # channel URLs embed tokens: shown masked
_CHOICES = {
    ("store", "synchronous"): ("FULL", "NORMAL", "OFF"),
    ("backtest", "engine"): ("fast", "event"),
    ("ui", "mode"): TRADING_MODES,
    ("ui", "profile"): ("viewer", "developer", "trader"),
    ("notify", "min_severity"): ("debug", "info", "warning", "critical"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
}


# (low, high, low is allowed): numbers outside are refused with file/line/key; any other number must be
# finite and at most MAX_NUMBER (a NaN limit disables a risk check: every comparison with it is False).
MAX_NUMBER = 1e15
_RANGES: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("store", "busy_timeout_ms"): (0, 3_600_000, True),
    ("gate", "ping_interval_s"): (0, 3600, False),
    ("gate", "stale_after_s"): (0, 3600, False),
    ("gate", "book_depth"): (1, 1000, True),
    ("gate", "request_timeout_s"): (0, 3600, False),
    ("backtest", "fee_bps"): (0, 10_000, True),
    ("backtest", "slippage_bps"): (0, 10_000, True),
    ("backtest", "leverage"): (0, 1000, False),
    ("backtest", "cash"): (0, 1e12, False),
    ("risk", "max_leverage"): (0, 1000, False),
    ("risk", "price_band_pct"): (0, 100, False),
    ("risk", "max_drawdown_pct"): (0, 100, False),
    ("risk", "stale_feed_s"): (0, 86_400, False),
    ("risk", "max_orders_per_sec"): (0, 10_000, False),
    ("sim", "port"): (0, 65_535, True),
    ("sim", "tick_ms"): (1, 3_600_000, True),
    ("notify", "timeout_s"): (0, 3600, False),
    ("notify", "connect_timeout_s"): (0, 3600, False),
    ("ui", "refresh_hz"): (0, 1000, False),
}
# CASHUP_* variables that are not settings (paths, secrets read elsewhere, test switches).
NON_SETTING_ENV = frozenset({
    "CASHUP_CONFIG", "CASHUP_CONFIG_DIR", "CASHUP_DATA_DIR", "CASHUP_LOG_DIR", "CASHUP_CACHE_DIR", "CASHUP_DB", "CASHUP_SHARED_DIR",
    "CASHUP_ADMIN_PASSPHRASE", "CASHUP_ADMIN_PASSPHRASE_NEW", "CASHUP_STRATEGIES_DIR", "CASHUP_CRASH_AT",
})
NON_SETTING_ENV_PREFIXES = ("CASHUP_VAULT_",)


def _section_types(name: str) -> dict[str, Any]:
    cls = type(getattr(Settings(), name))
    return get_type_hints(cls)


def _find_line(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of `[section]` / `key =` in TOML text (1-based)."""
    current = None
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[([^\]]+)\]", s)
        if m:
            current = m.group(1).strip()
            if key is None and current == section:
                return i
            continue
        if current == section and key and re.match(rf"^{re.escape(key)}\s*=", s):
            return i
    return None


def _coerce(value: Any, typ: Any, where: str) -> Any:
    expected = {int: "an integer", float: "a number", str: "a string", bool: "true or false", Secret: "a string"}
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ValueError(f"{where}: expected {expected[bool]}, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected {expected[int]}, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise ValueError(f"{where}: expected {expected[int]}, got {value!r}")
    if typ is float:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected {expected[float]}, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise ValueError(f"{where}: expected {expected[float]}, got {value!r}") from None
    if typ in (str, Secret):
        if isinstance(value, str):
            return Secret(value) if typ is Secret else value
        raise ValueError(f"{where}: expected {expected[typ]}, got {value!r}")
    if getattr(typ, "__origin__", None) is list:
        if isinstance(value, str):  # env form: comma separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ValueError(f"{where}: expected a list of strings, got {value!r}")
    raise ValueError(f"{where}: unsupported type {typ}")  # pragma: no cover


def _apply(settings: Settings, section: str, key: str, value: Any, where: str) -> None:
    types = _section_types(section)
    if key not in types:
        close = difflib.get_close_matches(key, list(types), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(types)}"
        raise ValueError(f"{where}: unknown key '{section}.{key}' ({hint})")
    coerced = _coerce(value, types[key], f"{where}: '{section}.{key}'")
    choices = _CHOICES.get((section, key))
    if choices and coerced not in choices:
        raise ValueError(f"{where}: '{section}.{key}' must be one of {', '.join(choices)}, got {coerced!r}")
    if isinstance(coerced, int | float) and not isinstance(coerced, bool):
        _check_range(section, key, coerced, where)
    setattr(getattr(settings, section), key, coerced)


def coerce_value(section: str, key: str, value: Any, where: str) -> Any:
    """One key's value checked and converted exactly as the loader does (type, choices, range; a string
    in the environment-variable form); ValueError names where, the key and what is allowed."""
    probe = Settings()
    _apply(probe, section, key, value, where)
    return getattr(getattr(probe, section), key)


def _check_range(section: str, key: str, value: float, where: str) -> None:
    name = f"'{section}.{key}'"
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
    lo, hi, lo_ok = _RANGES.get((section, key), (0, MAX_NUMBER, True))
    if value < 0 and lo >= 0:
        raise ValueError(f"{where}: {name} must not be negative, got {value!r}")
    if value < lo or (value == lo and not lo_ok) or value > hi:
        interval = f"{'[' if lo_ok else '('}{lo:g}, {hi:g}]"
        raise ValueError(f"{where}: {name} must be in {interval}, got {value!r}")


def _env_names() -> dict[str, tuple[str, str]]:
    """Every settings variable: CASHUP_<SECTION>_<KEY> -> (section, key)."""
    return {f"CASHUP_{sec}_{key}".upper(): (sec, key) for sec in SECTIONS for key in _section_types(sec)}


def _is_non_setting(name: str) -> bool:
    return name in NON_SETTING_ENV or name.startswith(NON_SETTING_ENV_PREFIXES)


def discover_config_file(flag: str | os.PathLike[str] | None = None) -> tuple[Path | None, str]:
    """Return (path or None, how it was found). A named file that does not exist is an error."""
    if flag:
        p = Path(flag).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file {p} (from --config) does not exist", hint="run `cashup config init`")
        return p, "--config"
    env = os.environ.get("CASHUP_CONFIG")
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file {p} (from CASHUP_CONFIG) does not exist", hint="unset it or create the file")
        return p, "CASHUP_CONFIG"
    from cashup_tui.paths import default_config_file

    p = default_config_file()
    if p.is_file():
        return p, "user config dir"
    return None, "built-in defaults"


def _load_text(settings: Settings, path: Path, text: str) -> None:
    """Apply a settings file's text to `settings`; ConfigError names file, line, key and expectation."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the syntax at that line") from None
    for section, values in data.items():
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, SECTIONS, n=1)
            line = _find_line(text, section, None)
            hint = f"did you mean [{close[0]}]?" if close else f"sections are: {', '.join(SECTIONS)}"
            raise ConfigError(f"{path}:{line or '?'}: unknown section [{section}]", hint=hint)
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: '{section}' must be a [section] table")
        for key, value in values.items():
            line = _find_line(text, section, key)
            where = f"{path}:{line or '?'}"
            if (section, key) in ENV_ONLY:
                raise ConfigError(
                    f"{where}: '{section}.{key}' must not be stored in a config file",
                    hint="use `cashup keys set gateio` (encrypted vault) or CASHUP_GATE_API_KEY/SECRET",
                )
            try:
                _apply(settings, section, key, value, where)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def check_settings_text(text: str, path: Path) -> Settings:
    """Validate a settings file's text exactly as `load_settings` does (no environment), e.g. before
    writing it back; `path` only names the file in the errors."""
    settings = Settings(source=str(path), config_file=str(path))
    _load_text(settings, path, text)
    return settings


def load_settings(
    config: str | os.PathLike[str] | None = None, *, environ: dict[str, str] | None = None
) -> Settings:
    """Load and validate settings. Raises ConfigError naming file, line, key and expectation."""
    env = os.environ if environ is None else environ
    path, how = discover_config_file(config)
    settings = Settings()
    if path is not None:
        settings.source = f"{path} ({how})"
        settings.config_file = str(path)
        _load_text(settings, path, path.read_text(encoding="utf-8", errors="replace"))
    known = _env_names()
    for name, value in env.items():
        if not name.startswith("CASHUP_") or _is_non_setting(name):
            continue
        if name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), [*known, *NON_SETTING_ENV], n=1, cutoff=0.75)
            hint = (f"did you mean {close[0]}?" if close else
                    "settings variables are CASHUP_<SECTION>_<KEY>, e.g. CASHUP_RISK_MAX_LEVERAGE (see `cashup config show`)")
            raise ConfigError(f"environment variable {name} is not a CashUp setting; unset it", hint=hint)
        section, key = known[name.upper()]
        try:
            _apply(settings, section, key, value, f"environment variable {name}")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return settings


def render_toml(settings: Settings | None = None) -> str:
    """Serialise settings as TOML (secrets are never written)."""
    s = settings or Settings()
    lines: list[str] = []
    for section, values in s.as_dict(redact=True).items():
        lines.append(f"[{section}]")
        for key, v in values.items():
            if (section, key) in ENV_ONLY:
                continue
            lines.append(f"{key} = {_toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def notify_templates_dir(settings: Settings) -> Path:
    """Where the user's notification templates are looked for (see `NotifySettings.templates_dir`)."""
    from cashup_tui.paths import config_dir

    base = Path(settings.config_file).parent if settings.config_file else config_dir()
    if not settings.notify.templates_dir:
        return base / "templates" / "notify"
    return base / Path(settings.notify.templates_dir).expanduser()  # an absolute path stays itself


def replace_section(settings: Settings, section: str, **changes: Any) -> Settings:
    """Return a copy of `settings` with some keys of one section changed (for tests and CLI flags)."""
    new_section = dataclasses.replace(getattr(settings, section), **changes)
    return dataclasses.replace(settings, **{section: new_section})
