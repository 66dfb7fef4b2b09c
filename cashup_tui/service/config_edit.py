"""Settings edited from either front end (the workstation's Settings and notification centre, the
watchlist, `cashup config set`): one writer, so both validate and write the same way.

Why tomlkit: the file is the user's, with comments that explain each key; a round trip through a plain
TOML parser would drop them. Every change is checked on the whole new text by the loader itself
(`settings.check_settings_text`) plus the checks start-up makes (channel URLs through the notifier's
parser, alert rules through the rule parser), then written atomically with the file's mode kept
(`private_files.write_private_file`): an invalid value never reaches the file. Secrets (API keys,
channel URLs with their tokens) are never shown and never edited as plain text here.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array, Table

from cashup_tui.domain.errors import CashupError, ConfigError
from cashup_tui.domain.secret import Secret
from cashup_tui.logging_setup import mask_url
from cashup_tui.private_files import write_private_file
from cashup_tui.settings import (
    ENV_ONLY,
    SECTIONS,
    URL_KEYS,
    Settings,
    check_settings_text,
    coerce_value,
    load_settings,
)

CHANNELS = "notify.urls"
DISABLED_CHANNELS = "notify.disabled_urls"
ALERTS = "notify.alerts"
KEYS_HINT = "API keys live in the encrypted vault: `cashup keys set gateio` (or CASHUP_GATE_API_KEY/SECRET)"
URLS_HINT = ("channel URLs carry tokens: add, remove or switch channels in the workstation's notification "
             "centre (n), where the URL is typed masked; keep API keys in the vault (`cashup keys`)")


@dataclass(frozen=True)
class SettingRow:
    key: str  # section.key
    value: str  # in force, as shown: secrets masked
    secret: bool
    env: str  # the CASHUP_* variable overriding the file here, or ""
    saved: str = ""  # the file's value when it differs from the one in force (takes effect on a restart)


@dataclass(frozen=True)
class ChannelRow:
    index: int  # position in its list (notify.urls or notify.disabled_urls)
    enabled: bool
    shown: str  # masked: scheme and host only


@dataclass(frozen=True)
class Change:
    key: str
    shown: str  # the new value as shown (secrets masked)
    path: Path
    now: bool  # the running workstation took it at once (alert rules); else the next start reads it
    created: bool  # the settings file did not exist: written from the documented example first
    env: str = ""  # a CASHUP_* variable that overrides this key in this environment

    def applied(self) -> Change:
        return replace(self, now=True)

    @property
    def message(self) -> str:
        when = "applies now" if self.now else "applies after a restart"
        text = f"{self.key} = {self.shown}: saved to {self.path}{' (created)' if self.created else ''}, {when}"
        return text + (f"; note: {self.env} overrides it in this environment" if self.env else "")


def split_key(key: str) -> tuple[str, str]:
    """`section.key` -> (section, key), or a ConfigError with the closest known key."""
    known = [f"{s}.{f.name}" for s in SECTIONS for f in fields(getattr(Settings(), s))]
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]}?" if close else "keys are SECTION.KEY, e.g. risk.max_leverage (see `cashup config show`)"
        raise ConfigError(f"unknown setting {key!r}", hint=hint)
    section, _, name = key.partition(".")
    return section, name


def is_secret(key: str) -> bool:
    return tuple(key.split(".", 1)) in (*ENV_ONLY, *URL_KEYS)


def refuse_secret(key: str) -> None:
    pair = tuple(key.split(".", 1))
    if pair in ENV_ONLY:
        raise ConfigError(f"{key} is a secret and is never written to the settings file", hint=KEYS_HINT)
    if pair in URL_KEYS:
        raise ConfigError(f"{key} holds notification tokens and is not edited as text", hint=URLS_HINT)


def shown(key: str, value: Any) -> str:
    """A value as either front end shows it: secrets masked, lists and strings as TOML writes them."""
    if isinstance(value, Secret):
        return "<set>" if value else "<not set>"
    if tuple(key.split(".", 1)) in URL_KEYS:
        value = [mask_url(u) for u in value]
    return tomlkit.item(value).as_string()


def env_name(key: str) -> str:
    return "CASHUP_" + key.replace(".", "_").upper()


class ConfigFile:
    """The settings file both front ends edit (created from the documented example on the first edit)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None,
                 running: Settings | None = None) -> None:
        if path:
            self.path = Path(path).expanduser()
        else:
            from cashup_tui.paths import default_config_file

            self.path = default_config_file()
        self.environ = os.environ if environ is None else environ
        self.running = running  # the settings this process started with (what is in force)

    # -- reading -----------------------------------------------------------------------------------
    def _file_settings(self) -> Settings:
        return check_settings_text(self.path.read_text(encoding="utf-8"), self.path) if self.path.exists() else Settings()

    def effective(self) -> Settings:
        """The file plus this environment's CASHUP_* overrides (what a start would use)."""
        if not self.path.exists():
            return Settings()
        return load_settings(self.path, environ=dict(self.environ))

    def rows(self) -> list[SettingRow]:
        """Every key with the value in force; a file value saved since (not yet in force) beside it."""
        s = self.running or self.effective()
        file = self.effective() if self.running is not None and self.path.exists() else s
        out = []
        for section in SECTIONS:
            for f in fields(getattr(s, section)):
                key = f"{section}.{f.name}"
                now, saved = (shown(key, getattr(getattr(x, section), f.name)) for x in (s, file))
                out.append(SettingRow(key, now, is_secret(key), env_name(key) if env_name(key) in self.environ else "",
                                      saved if saved != now else ""))
        return out

    def text_of(self, key: str) -> str:
        """The file's value of a key as it is typed back (lists comma separated); secrets refused."""
        section, name = split_key(key)
        refuse_secret(key)
        value = getattr(getattr(self._file_settings(), section), name)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ", ".join(value)
        return str(value)

    def items(self, key: str) -> list[str]:
        section, name = split_key(key)
        return list(getattr(getattr(self._file_settings(), section), name))

    def channels(self) -> list[ChannelRow]:
        s = self._file_settings().notify
        return ([ChannelRow(i, True, mask_url(u)) for i, u in enumerate(s.urls)]
                + [ChannelRow(i, False, mask_url(u)) for i, u in enumerate(s.disabled_urls)])

    # -- writing -----------------------------------------------------------------------------------
    def set(self, key: str, raw: str) -> Change:
        """Set one key from text (numbers, true/false, a string, a list as `a, b` or `["a", "b"]`)."""
        section, name = split_key(key)
        refuse_secret(key)
        value = _checked(section, name, _parse_raw(raw), self.path)
        return self._write(key, lambda doc: _put(doc, section, name, value))

    def add_item(self, key: str, item: str) -> Change:
        """Append to a list setting (a watchlist symbol, an alert rule)."""
        return self._edit_list(key, lambda items: [*items, item.strip()])

    def remove_item(self, key: str, index: int) -> Change:
        def drop(items: list[str]) -> list[str]:
            if not 0 <= index < len(items):
                raise ConfigError(f"{key} has no item {index + 1} (it has {len(items)})")
            return items[:index] + items[index + 1:]

        return self._edit_list(key, drop)

    def replace_item(self, key: str, index: int, item: str) -> Change:
        def swap(items: list[str]) -> list[str]:
            if not 0 <= index < len(items):
                raise ConfigError(f"{key} has no item {index + 1} (it has {len(items)})")
            return [*items[:index], item.strip(), *items[index + 1:]]

        return self._edit_list(key, swap)

    def add_channel(self, url: str) -> Change:
        """A new, enabled notification channel (`[tags=]URL`), checked as start-up checks it."""
        return self._edit_list(CHANNELS, lambda items: [*items, url.strip()], secret_ok=True)

    def remove_channel(self, row: ChannelRow) -> Change:
        key = CHANNELS if row.enabled else DISABLED_CHANNELS
        return self._edit_list(key, lambda items: items[:row.index] + items[row.index + 1:], secret_ok=True)

    def enable_channel(self, row: ChannelRow, on: bool) -> Change:
        """Move a channel between notify.urls (sent to) and notify.disabled_urls (kept, not sent to)."""
        if row.enabled == on:
            return Change(CHANNELS, row.shown, self.path, False, False)
        src, dst = (DISABLED_CHANNELS, CHANNELS) if on else (CHANNELS, DISABLED_CHANNELS)
        current = self._file_settings().notify
        lists = {CHANNELS: list(current.urls), DISABLED_CHANNELS: list(current.disabled_urls)}
        url = lists[src].pop(row.index)
        lists[dst].append(url)

        def move(doc: tomlkit.TOMLDocument) -> None:
            for key, items in lists.items():
                _put(doc, "notify", key.split(".")[1], items)

        return self._write(dst, move)

    def _edit_list(self, key: str, change: Callable[[list[str]], list[str]], *, secret_ok: bool = False) -> Change:
        section, name = split_key(key)
        if not secret_ok:
            refuse_secret(key)
        current = getattr(getattr(self._file_settings(), section), name)
        if not isinstance(current, list):
            raise ConfigError(f"{key} is not a list setting")
        new = _checked(section, name, change(list(current)), self.path)
        return self._write(key, lambda doc: _put(doc, section, name, new))

    def _write(self, key: str, mutate: Callable[[tomlkit.TOMLDocument], None]) -> Change:
        created = not self.path.exists()
        text = (resources.files("cashup_tui").joinpath("cashup.example.toml").read_text(encoding="utf-8")
                if created else self.path.read_text(encoding="utf-8"))
        doc = tomlkit.parse(text)
        mutate(doc)
        new_text = tomlkit.dumps(doc)
        settings = check_settings_text(new_text, self.path)  # the loader's own checks, on the whole file
        _startup_checks(settings)
        write_private_file(self.path, new_text.encode("utf-8"), keep_mode=True)
        section, name = key.split(".", 1)
        value = getattr(getattr(settings, section), name)
        return Change(key, shown(key, value), self.path, False, created,
                      env_name(key) if env_name(key) in self.environ else "")


def _checked(section: str, name: str, value: Any, path: Path) -> Any:
    try:
        return coerce_value(section, name, value, str(path))
    except ValueError as exc:
        raise ConfigError(str(exc), hint="nothing was written") from None


def _parse_raw(raw: str) -> Any:
    """`["a", "b"]` is read as a TOML array; anything else is the environment-variable form."""
    text = raw.strip()
    if text.startswith("["):
        try:
            return tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not a TOML list: {exc}", hint='write a list as a, b or ["a", "b"]') from None
    return text


def _put(doc: tomlkit.TOMLDocument, section: str, name: str, value: Any) -> None:
    """Set one key in place: its comments and the rest of the file stay as they are."""
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc.add(section, table)
    if not isinstance(table, Table):
        raise ConfigError(f"[{section}] in the settings file is not a table", hint="fix the file by hand first")
    old = table.get(name)
    if isinstance(old, Array) and isinstance(value, list):
        old.clear()  # keeps the array's own layout (one item per line stays one per line)
        old.extend(value)
        return
    table[name] = value


def _startup_checks(settings: Settings) -> None:
    """What a start would refuse beyond the loader: a channel URL apprise cannot take, an alert rule
    that does not parse. Messages name the list and the item, never a token."""
    from cashup_tui.adapters.notify_channels import parse_channel
    from cashup_tui.domain.alerts import parse_rule

    ns = settings.notify
    for i, spec in enumerate(ns.urls):
        parse_channel(spec, i, timeout_s=ns.timeout_s, connect_timeout_s=ns.connect_timeout_s)
    for i, spec in enumerate(ns.disabled_urls):
        try:
            parse_channel(spec, i, timeout_s=ns.timeout_s, connect_timeout_s=ns.connect_timeout_s)
        except ConfigError as exc:
            raise ConfigError(exc.args[0].replace("notify.urls", "notify.disabled_urls", 1), hint=exc.hint) from None
    for i, text in enumerate(ns.alerts, 1):
        try:
            parse_rule(text, f"a{i}")
        except CashupError as exc:
            raise ConfigError(f"notify.alerts[{i}] {text!r}: {exc.args[0]}", hint=exc.hint) from None
