"""Shared plumbing for the trading CLI groups (`orders`, `positions`, `risk`, `trade`).

Stdlib + typer at import time only: the runtime, store and adapters are imported inside
the functions, so `cashup --help` stays fast.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from cashup_tui.cli.common import db_url_from, fail, settings_from

if TYPE_CHECKING:
    from cashup_tui.domain.enums import Mode

T = TypeVar("T")
MODE_HELP = "demo | paper | testnet | live (default: the ui.mode setting, normally demo)."


def resolve_mode(ctx: typer.Context, mode: str | None) -> tuple[Any, Mode, str]:
    """(settings, mode, store url) with a clear error for an unknown mode."""
    settings = settings_from(ctx)
    from cashup_tui.domain.enums import TRADING_MODES, Mode

    m = (mode or settings.ui.mode or "demo").lower()
    if m not in TRADING_MODES:
        fail(f"unknown mode {m!r}", hint="use --mode demo, paper, testnet or live", code=2)
    return settings, Mode(m), db_url_from(ctx, settings, Mode(m))


def decimal_arg(value: str | None, name: str) -> Decimal | None:
    """Parse a CLI number exactly (no float); refuse garbage (NaN, inf, 1e1000000, `1_0`, non-ASCII
    digits) with the flag's name (exit 2)."""
    if value is None:
        return None
    from cashup_tui.domain.errors import ValidationError
    from cashup_tui.domain.instruments import user_decimal

    try:
        return user_decimal(value, name)
    except ValidationError as exc:
        fail(exc.args[0], hint=exc.hint, code=2)


def require_live_keys() -> None:
    """Live mode's keys are looked for before anything is asked: the environment, the vault file (taken as
    holding them: it is opened with its passphrase when the node starts) or the OS keyring. With none, a
    clear error (exit 2) says how to add them, instead of a LIVE prompt that leads to a key error."""
    from cashup_tui.adapters import vault as v
    from cashup_tui.paths import vault_path

    try:
        if v.keys_from_env() is not None or v.Vault(vault_path()).exists() or v.keys_from_keyring() is not None:
            return
    except v.VaultError as exc:
        fail(exc.args[0], hint=exc.hint, code=2)
    fail("live mode needs Gate API keys and none are configured (no environment variables, no vault, no "
         "OS keyring entry)",
         hint="add them with `cashup keys set gateio` (encrypted vault; `--keyring` for the OS keyring), "
              "check with `cashup keys status`", code=2)


def confirm_live(mode: Mode, flag: bool) -> bool:
    """Live trading needs keys (checked first), then the word LIVE typed, or --confirm-live for headless use."""
    from cashup_tui.domain.enums import Mode

    if mode is not Mode.LIVE:
        return False
    require_live_keys()
    if flag:
        return True
    if not sys.stdin.isatty():
        fail("live mode needs confirmation", hint="pass --confirm-live (it is recorded in the audit log)", code=2)
    answer = typer.prompt("You are about to trade with REAL money. Type LIVE to continue")
    if answer.strip() != "LIVE":
        fail("not confirmed: nothing was sent", code=1)
    return True


def live_admin_passphrase(mode: Mode) -> str | None:
    """The live switch is an admin action: the admin passphrase (hidden prompt, or CASHUP_ADMIN_PASSPHRASE
    for headless use) when one is set; with none set the node refuses live with the way to set one."""
    from cashup_tui.domain.enums import Mode

    if mode is not Mode.LIVE:
        return None
    from cashup_tui.adapters.vault import ADMIN_ENV, load_admin_hash, read_passphrase
    from cashup_tui.paths import admin_hash_path

    if load_admin_hash(admin_hash_path()) is None:
        return None
    return read_passphrase("Admin passphrase (live switch): ", env_var=ADMIN_ENV)


def authorize(session: Any, action: str, name: str, *, passphrase: str | None = None, **detail: Any) -> None:
    """One user action through the profile check (audited as `name`). Admin actions ask the admin
    passphrase (hidden prompt, or CASHUP_ADMIN_PASSPHRASE) when the session needs it. With `session`
    bound (functools.partial) it is the CLI's `service.commands.Authorize`."""
    from cashup_tui.service.roles import AdminPassphraseRequired

    try:
        session.authorize(action, record_as=name, passphrase=passphrase, **detail)
    except AdminPassphraseRequired:
        from cashup_tui.adapters.vault import ADMIN_ENV, read_passphrase

        session.authorize(action, record_as=name, passphrase=read_passphrase("Admin passphrase: ", env_var=ADMIN_ENV),
                          **detail)


def offline_session(settings: Any, mode: Mode, journal: Any) -> Any:
    """The profile session of a command that runs without a venue connection (audited in its journal)."""
    import time

    from cashup_tui.runtime import journal_audit, make_session

    return make_session(settings, mode, journal_audit(journal, lambda: int(time.time() * 1000), "cli"))


def open_journal(settings: Any, mode: Mode, db_url: str) -> tuple[Any, Any]:
    """(store, journal) for offline commands (no venue connection)."""
    from cashup_tui.logging_setup import configure_logging
    from cashup_tui.store import open_store
    from cashup_tui.store.journal import StoreJournal

    configure_logging(settings.log.level, file=settings.log.file or None)
    store = open_store(db_url, synchronous=settings.store.synchronous, busy_timeout_ms=settings.store.busy_timeout_ms)
    return store, StoreJournal(store, mode, settings.gate.account)


def run_node(settings: Any, mode: Mode, db_url: str, fn: Callable[[Any], Awaitable[T]], *, symbols: list[str] | None = None,
             trade: bool = True, live_ok: bool = False) -> T:
    """Start a node for `mode`, run `fn(node)`, always stop it. Logs go to the log file."""
    from cashup_tui.logging_setup import configure_logging
    from cashup_tui.runtime import build_node

    configure_logging(settings.log.level, file=settings.log.file or None)
    passphrase = live_admin_passphrase(mode) if live_ok else None

    async def main() -> T:
        node = build_node(settings, mode, db_url=db_url, symbols=symbols, confirm_live=live_ok, actor="cli",
                          admin_passphrase=passphrase)
        await node.start(trade=trade)
        try:
            return await fn(node)
        finally:
            await node.stop()

    return asyncio.run(main())


def order_dict(o: Any) -> dict[str, Any]:
    return {
        "client_id": o.client_id, "venue_order_id": o.venue_order_id, "symbol": o.symbol, "side": o.side.value,
        "type": o.order_type.value, "size": o.size, "price": o.price, "trigger_price": o.trigger_price,
        "tif": o.tif.value, "reduce_only": o.reduce_only, "status": "unconfirmed" if o.unconfirmed else o.status.value,
        "filled": o.filled, "avg_fill_price": o.avg_fill_price, "fees": o.fees, "strategy": o.strategy,
        "reason": o.reason, "created_ms": o.created_ms, "updated_ms": o.updated_ms,
    }


def order_line(o: Any) -> str:
    status = "UNCONFIRMED" if o.unconfirmed else o.status.value.upper()
    px = "market" if o.price is None else f"@ {o.price}"
    trig = f" trigger {o.trigger_price}" if o.trigger_price is not None else ""
    ro = " reduce-only" if o.reduce_only else ""
    fill = f" filled {o.filled} avg {o.avg_fill_price:.8g}" if o.filled else ""
    why = f" ({o.reason})" if o.reason else ""
    return (f"{o.client_id:<22} {status:<17} {o.side.value.upper():<4} {o.size} {o.symbol} {o.order_type.value} "
            f"{px}{trig} {o.tif.value}{ro}{fill}{why}")
