"""Notification templates: the built-ins (`cashup_tui/templates/notify/<event>.j2`) and the user's own.

A user template is a Jinja2 file of the same name in the user's templates folder (the composition root
passes it in; by default `templates/notify/` beside the settings file): it overrides that built-in and
nothing else. Every user template is checked when a notifier is built, so a mistake is a clear error at
start-up naming the file and line (unknown event name, a syntax error, a field the event does not have,
one that renders nothing), never a message lost at 3 a.m.: it is rendered once with example fields of its event
under StrictUndefined. The first rendered line is the title, the rest the body.
"""

from __future__ import annotations

import threading
import types
from pathlib import Path
from typing import Any

from cashup_tui.domain.errors import ConfigError

EVENTS = (
    "fill", "rejection", "risk_trip", "kill_switch", "strategy_error", "disconnect", "daily_pnl", "alert",
    "message", "test",
)
COMMON = {"severity": "info", "time": "2025-01-01 00:00:00 UTC"}  # every event has these (`repeats` sometimes)
# The fields each event renders with (notify_messages.py builds them); used to check user templates.
SAMPLE_FIELDS: dict[str, dict[str, Any]] = {
    "fill": {"symbol": "BTC_USDT", "side": "buy", "size": 2, "price": "65000.1", "fee": "0.0975",
             "client_id": "t-d1-1", "trade_id": "99", "liquidity": "taker"},
    "rejection": {"symbol": "BTC_USDT", "client_id": "t-d1-2", "rule": "max_order_notional",
                  "reason": "notional 60000 > 50000", "source": "risk gate"},
    "risk_trip": {"rule": "daily_loss", "reason": "day PnL -2100 < -2000", "state": "reducing"},
    "kill_switch": {"old": "active", "new": "halted", "reason": "kill level 4"},
    "strategy_error": {"strategy": "sma_cross-BTC_USDT", "where": "sma_cross.py:30", "reason": "ZeroDivisionError"},
    "disconnect": {"stream": "mkt", "reason": "no data for 12.0s", "kind": "stale"},
    "daily_pnl": {"day": "2025-01-01", "realized": "12.5", "unrealized": "-3.1", "fees": "1.2", "funding": "0.4",
                  "equity": "10008.6"},
    "alert": {"symbol": "BTC_USDT", "rule": "BTC_USDT price above 70000", "message": "BTC_USDT 70001 above 70000",
              "value": "70001", "rule_id": "a1", "kind": "price"},
    "message": {"title": "CashUp", "body": "a message"},
    "test": {"title": "CashUp test notification", "body": "If you can read this, the channel works."},
}

_lock = threading.Lock()
_envs: dict[str, Any] = {}


def environment(user_dir: str | Path | None = None) -> Any:
    """The Jinja2 environment for `user_dir` (None: built-ins only); one per folder, built once."""
    key = str(user_dir or "")
    env = _envs.get(key)
    if env is None:
        with _lock:
            env = _envs.get(key)
            if env is None:
                import jinja2

                builtin = jinja2.PackageLoader("cashup_tui", "templates/notify")
                loader: Any = (jinja2.ChoiceLoader([jinja2.FileSystemLoader(key), builtin]) if key else builtin)
                env = _envs[key] = jinja2.Environment(
                    loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                    lstrip_blocks=True, keep_trailing_newline=False,
                )
    return env


def user_templates(user_dir: str | Path | None) -> dict[str, Path]:
    """event -> the user's file overriding it (an absent folder has none)."""
    if not user_dir:
        return {}
    folder = Path(user_dir)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.j2")) if p.is_file()}


def _line_in(tb: types.TracebackType | None, path: Path) -> int | None:
    """The template line an error was raised at (Jinja2 maps template frames to the template file)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_templates(user_dir: str | Path | None) -> dict[str, Path]:
    """Check every user template (see the module docstring); returns event -> file. Raises ConfigError
    naming the file and line."""
    import jinja2

    found = user_templates(user_dir)
    env = environment(user_dir)
    names = ", ".join(f"{e}.j2" for e in EVENTS)
    for event, path in found.items():
        if event not in EVENTS:
            raise ConfigError(f"{path}: no notification event is called {event!r}",
                              hint=f"a template overrides the built-in of the same name: {names}")
        try:
            path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the template ({type(exc).__name__})",
                              hint="save it as UTF-8 text readable by this user") from None
        try:
            template = env.get_template(f"{event}.j2")
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: template syntax error: {exc.message}",
                              hint="fix the Jinja2 syntax at that line ({{ field }}, {% if %}...{% endif %})") from None
        fields = {**COMMON, **SAMPLE_FIELDS[event]}
        try:
            text = template.render(**fields).strip()
        except Exception as exc:
            line = _line_in(exc.__traceback__, path)
            what = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else type(exc).__name__
            raise ConfigError(f"{path}:{line or '?'}: {what}",
                              hint=f"the {event} event has the fields {', '.join(sorted(fields))} (and sometimes "
                                   "repeats: use repeats|default(0))") from None
        if not text:
            raise ConfigError(f"{path}:1: renders nothing (its first line is the notification's title)",
                              hint="put the title on the first line, the body below it")
    return found
