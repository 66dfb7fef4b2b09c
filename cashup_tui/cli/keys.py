"""`cashup keys set|status|remove gateio` and `cashup keys admin-passphrase`.

Secrets are typed at hidden prompts (or, for CI, taken from CASHUP_GATE_API_KEY/SECRET with
--from-env; the vault passphrase from CASHUP_VAULT_PASSPHRASE), never from argv, and never
printed: status shows where keys come from and a short fingerprint. Changing keys is an
admin action: when an admin passphrase is set it is asked too. Every change is audited.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import typer

from cashup_tui.cli.common import fail, print_json
from cashup_tui.paths import admin_hash_path, vault_path

app = typer.Typer(help="Manage exchange API keys in the encrypted vault.", no_args_is_help=True)

_VENUE_HELP = "Exchange: gateio."


def _venue(value: str) -> str:
    from cashup_tui.adapters.vault import VENUES

    v = value.strip().lower()
    if v not in VENUES:
        fail(f"unknown exchange {value!r}", hint=f"supported: {', '.join(VENUES)}")
    return v


def _setup_logging(ctx: typer.Context) -> None:
    from cashup_tui.cli.common import settings_from
    from cashup_tui.logging_setup import configure_logging

    s = settings_from(ctx)
    configure_logging(s.log.level, file=s.log.file or None)


def _audit(ctx: typer.Context, action: str, role: str, outcome: str, detail: dict[str, Any]) -> None:
    """Best effort into the live store's audit log (keys serve testnet/live); warns if it fails."""
    try:
        from cashup_tui.cli.common import db_url_from
        from cashup_tui.domain.enums import Mode
        from cashup_tui.store import open_store
        from cashup_tui.store.records import audit

        with open_store(db_url_from(ctx, mode=Mode.LIVE)) as db:
            audit(db, action, role, {**detail, "outcome": outcome})
    except Exception as exc:
        import logging

        logging.getLogger("cashup.keys").warning("audit log write failed: %s", type(exc).__name__)
        sys.stderr.write(f"warning: could not write the audit log ({type(exc).__name__})\n")


def _prompt_secret(label: str) -> str:
    import getpass

    if not sys.stdin.isatty():
        fail(f"cannot prompt for the {label}: no terminal",
             hint="run in a terminal, or (CI) set CASHUP_GATE_API_KEY/SECRET and pass --from-env")
    value = getpass.getpass(f"{label} (hidden): ").strip()
    if not value:
        fail(f"empty {label}", hint="paste it at the prompt (it is not echoed)")
    return value


def _check_shape(label: str, value: str) -> None:
    if re.search(r"\s", value):
        fail(f"the {label} contains whitespace", hint="copy it again without spaces or line breaks")
    if len(value) < 16:
        fail(f"the {label} is only {len(value)} characters", hint="Gate.io keys are 32 characters, secrets 64")


def _require_admin(ctx: typer.Context, action: str) -> str:
    """Keys are admin business. With an admin passphrase set it is asked (CI: CASHUP_ADMIN_PASSPHRASE),
    checked and audited; with none set the vault passphrase is the gate (`local-user`)."""
    from cashup_tui.adapters.vault import ADMIN_ENV, load_admin_hash, read_passphrase
    from cashup_tui.service.roles import Action, Role, Session

    stored = load_admin_hash(admin_hash_path())
    if not stored:
        return "local-user"

    def sink(action: str, *, role: str, outcome: str, detail: Any) -> None:
        _audit(ctx, action, role, outcome, dict(detail))

    session = Session(Role.TRADER, admin_hash=lambda: stored, audit=sink)
    session.authorize(Action(action), passphrase=read_passphrase("Admin passphrase: ", env_var=ADMIN_ENV),
                      record_as=f"{action}.check")
    return "admin"


@app.command("set")
def set_cmd(
    ctx: typer.Context,
    venue: str = typer.Argument(..., help=_VENUE_HELP),
    from_env: bool = typer.Option(False, "--from-env", help="CI: take the key pair from CASHUP_GATE_API_KEY/SECRET."),
    use_keyring: bool = typer.Option(False, "--keyring", help="Store in the OS keyring (only if a real backend exists)."),
) -> None:
    """Store an API key pair: prompts for key, secret and the vault passphrase (all hidden)."""
    from cashup_tui.adapters import vault as v
    from cashup_tui.logging_setup import register_secret

    venue = _venue(venue)
    _setup_logging(ctx)
    if from_env:
        keys = v.keys_from_env()
        if keys is None:
            fail("--from-env given but CASHUP_GATE_API_KEY/SECRET are not set", hint="export both, or omit --from-env")
        api_key, api_secret = keys.api_key.reveal(), keys.api_secret.reveal()
    else:
        api_key = _prompt_secret("API key")
        register_secret(api_key)
        api_secret = _prompt_secret("API secret")
    register_secret(api_key)
    register_secret(api_secret)
    _check_shape("API key", api_key)
    _check_shape("API secret", api_secret)
    vault = v.Vault(vault_path())
    if use_keyring:
        ok, backend = v.keyring_status()
        if not ok:
            fail(f"no usable OS keyring on this machine (backend: {backend})",
                 hint="omit --keyring to use the encrypted vault file")
        actor = _require_admin(ctx, "manage_keys")
        v.keyring_store(venue, api_key, api_secret)
        _audit(ctx, "keys_set", actor, "allowed", {"venue": venue, "where": "keyring",
                                                            "fingerprint": v.key_fingerprint(api_key)})
        typer.echo(f"stored {venue} keys in the OS keyring ({backend}); fingerprint {v.key_fingerprint(api_key)}")
        return
    new = not vault.exists()
    passphrase = v.read_passphrase("New vault passphrase: " if new else "Vault passphrase: ", confirm=new)
    register_secret(passphrase)
    actor = _require_admin(ctx, "manage_keys")
    vault.set_entry(passphrase, venue, {"api_key": api_key, "api_secret": api_secret})
    _audit(ctx, "keys_set", actor, "allowed", {"venue": venue, "where": "vault",
                                               "fingerprint": v.key_fingerprint(api_key)})
    typer.echo(f"stored {venue} keys in the vault {vault.path} (mode 0600); fingerprint {v.key_fingerprint(api_key)}")
    if os.environ.get(v.KEY_ENV):
        typer.echo(f"note: {v.KEY_ENV} is set and takes precedence over the vault while it is")


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    venue: str = typer.Argument("gateio", help=_VENUE_HELP),
    unlock: bool = typer.Option(True, "--unlock/--no-unlock", help="Unlock the vault to show its fingerprint."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Where the keys come from (env, vault, keyring) and a masked fingerprint; never the secret."""
    from cashup_tui.adapters import vault as v

    venue = _venue(venue)
    _setup_logging(ctx)
    rows: list[dict[str, Any]] = []
    env_keys = v.keys_from_env()
    rows.append({"source": "env", "present": env_keys is not None,
                 "fingerprint": env_keys.fingerprint() if env_keys else None,
                 "detail": f"{v.KEY_ENV}/{v.SECRET_ENV}" + (" (CI use only)" if env_keys else " not set")})
    vault = v.Vault(vault_path())
    vrow: dict[str, Any] = {"source": "vault", "present": None, "fingerprint": None, "detail": str(vault.path)}
    if not vault.exists():
        vrow.update(present=False, detail=f"{vault.path} (not created)")
    elif not unlock or not (os.environ.get(v.PASSPHRASE_ENV) or sys.stdin.isatty()):
        vrow["detail"] = f"{vault.path} (locked: run in a terminal to unlock)"
    else:
        keys = vault.get_keys(v.read_passphrase(), venue)
        vrow.update(present=keys is not None, fingerprint=keys.fingerprint() if keys else None)
    rows.append(vrow)
    ok, backend = v.keyring_status()
    kr = v.keys_from_keyring(venue) if ok else None
    rows.append({"source": "keyring", "present": kr is not None if ok else False,
                 "fingerprint": kr.fingerprint() if kr else None,
                 "detail": backend + ("" if ok else " (not usable: no real OS keyring)")})
    in_use = next((r["source"] for r in rows if r["present"]), None)
    if in_use is None and vrow["present"] is None:
        in_use = "vault (locked)"
    admin = "set" if v.load_admin_hash(admin_hash_path()) else "not set (admin actions: open in demo/paper, refused in testnet/live)"
    if as_json:
        print_json({"venue": venue, "in_use": in_use, "sources": rows, "admin_passphrase": admin.split(" ")[0]})
        return
    typer.echo(f"{venue} keys: {'in use from ' + in_use if in_use else 'none configured'}")
    for r in rows:
        state = {True: "yes", False: "no", None: "?"}[r["present"]]
        fp = f"  {r['fingerprint']}" if r["fingerprint"] else ""
        typer.echo(f"  {r['source']:<8} {state:<4}{fp}  {r['detail']}")
    typer.echo(f"admin passphrase: {admin}")
    if in_use is None:
        typer.echo("hint: `cashup keys set gateio` stores a key pair in the encrypted vault")


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    venue: str = typer.Argument(..., help=_VENUE_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove the key pair from the vault (and the OS keyring if it is there)."""
    from cashup_tui.adapters import vault as v

    venue = _venue(venue)
    _setup_logging(ctx)
    vault = v.Vault(vault_path())
    removed: list[str] = []
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to remove keys without confirmation", hint="pass --yes")
        if not typer.confirm(f"Remove the {venue} API keys?", default=False):
            raise typer.Exit(1)
    actor = "local-user"
    if vault.exists():
        passphrase = v.read_passphrase()
        actor = _require_admin(ctx, "manage_keys")
        if vault.remove_entry(passphrase, venue):
            removed.append("vault")
    if v.keyring_remove(venue):
        removed.append("keyring")
    _audit(ctx, "keys_remove", actor, "allowed", {"venue": venue, "removed_from": removed})
    if not removed:
        fail(f"no {venue} keys were stored in the vault or the keyring",
             hint="`cashup keys status` shows where keys come from (env vars are not touched)")
    typer.echo(f"removed {venue} keys from: {', '.join(removed)}")
    if os.environ.get(v.KEY_ENV):
        typer.echo(f"note: {v.KEY_ENV}/{v.SECRET_ENV} are still set in this environment")


@app.command("admin-passphrase")
def admin_passphrase_cmd(ctx: typer.Context) -> None:
    """Set or change the admin passphrase (resume after a kill, the live switch, keys). Only its salted
    scrypt hash is kept, in its own 0600 file beside the vault; changing it asks the current one."""
    from cashup_tui.adapters import vault as v
    from cashup_tui.service.roles import hash_passphrase

    _setup_logging(ctx)
    actor = _require_admin(ctx, "set_admin_passphrase")
    new_admin = v.read_passphrase("New admin passphrase: ", confirm=True, env_var=v.ADMIN_ENV + "_NEW")
    if len(new_admin) < 8:
        fail("the admin passphrase is shorter than 8 characters", hint="choose a longer one")
    vault = v.Vault(vault_path())
    if vault.exists():
        try:
            vault.load(new_admin)
        except v.VaultError:
            pass  # it does not open the vault: good
        else:
            fail("the admin passphrase must differ from the vault passphrase",
                 hint="otherwise anyone who can unlock the keys is admin")
    path = v.save_admin_hash(hash_passphrase(new_admin), admin_hash_path())
    _audit(ctx, "set_admin_passphrase", actor, "allowed", {})
    typer.echo(f"admin passphrase set (its hash is in {path})")
