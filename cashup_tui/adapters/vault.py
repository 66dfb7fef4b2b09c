"""Encrypted key vault: exchange keys at rest; and the admin passphrase hash file.

Why this shape: a headless VPS usually has no OS keychain, so the
default store is one file encrypted with a passphrase: scrypt derives 64 bytes, the first 32
are a Fernet key (AES-CBC + HMAC, so tampering is detected), the last 32 key an HMAC "check"
over the header that lets us tell a wrong passphrase from a damaged file. KDF parameters and
salt are stored beside the token; the file is written atomically (temp + fsync + rename)
with mode 0600 under umask 077. Decrypted values only ever live in `Secret` strings.

Sources, in order: environment (`CASHUP_GATE_API_KEY`/`_SECRET`, meant for CI), the vault,
then the OS keyring (only when a real backend exists, never the fail/plaintext ones).
The passphrase comes from `getpass` (or `CASHUP_VAULT_PASSPHRASE` for CI), never argv.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashup_tui.domain.errors import CashupError
from cashup_tui.domain.secret import Secret
from cashup_tui.private_files import write_private_file

log = logging.getLogger("cashup.vault")

FORMAT = "cashup-vault"
VERSION = 1
DEFAULT_SCRYPT_N = 2**17  # 128 MiB per unlock (128 * n * r bytes): slow to guess, a moment to unlock
MIN_SCRYPT_N = 2**10  # tests only (CASHUP_VAULT_SCRYPT_N)
MIN_PASSPHRASE_LEN = 8  # a new vault's passphrase (scrypt slows guessing; it cannot save "1234")
TEST_RUN_ENV = "PYTEST_CURRENT_TEST"  # set by pytest for every test (and inherited by its subprocesses)
MAX_SCRYPT_N = 2**20  # refuse files that would make us allocate more than 1 GiB
SCRYPT_R = 8
SCRYPT_P = 1
PASSPHRASE_ENV = "CASHUP_VAULT_PASSPHRASE"
SCRYPT_N_ENV = "CASHUP_VAULT_SCRYPT_N"
KEY_ENV = "CASHUP_GATE_API_KEY"
SECRET_ENV = "CASHUP_GATE_API_SECRET"
VENUES = ("gateio",)
META = "_meta"  # reserved entry for non-key data
ADMIN_ENV = "CASHUP_ADMIN_PASSPHRASE"  # CI/headless only, like CASHUP_VAULT_PASSPHRASE


class VaultError(CashupError):
    """The vault could not be read or written: wrong passphrase, damaged file, bad mode."""


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """One venue's credentials and where they came from (env, vault or keyring)."""

    api_key: Secret
    api_secret: Secret
    source: str

    def fingerprint(self) -> str:
        """A short, non-reversible tag to tell keys apart on screen without showing them."""
        return key_fingerprint(self.api_key)


def key_fingerprint(api_key: str) -> str:
    digest = hashlib.sha256(str.__str__(api_key).encode()).hexdigest()[:10]
    return f"sha256:{digest} ({len(api_key)} chars)"


def scrypt_n_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The scrypt cost for new vaults: 2**17 unless CASHUP_VAULT_SCRYPT_N changes it. Raising it is
    always honoured; lowering it only in a test run (pytest sets PYTEST_CURRENT_TEST): a value copied
    from a CI script into a real shell would otherwise make the real vault cheap to brute-force, so
    outside tests it is ignored with a warning (safe: the vault only gets the default strength)."""
    env = os.environ if environ is None else environ
    raw = env.get(SCRYPT_N_ENV, "").strip()
    if not raw:
        return DEFAULT_SCRYPT_N
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < MIN_SCRYPT_N or n > MAX_SCRYPT_N or n & (n - 1):
        raise VaultError(
            f"{SCRYPT_N_ENV}={raw!r} is not a power of two between {MIN_SCRYPT_N} and {MAX_SCRYPT_N}",
            hint=f"unset it to use the default {DEFAULT_SCRYPT_N}",
        )
    if n < DEFAULT_SCRYPT_N and not env.get(TEST_RUN_ENV):
        log.warning("%s=%d ignored outside tests: new vaults use the default scrypt cost %d", SCRYPT_N_ENV, n,
                    DEFAULT_SCRYPT_N)
        return DEFAULT_SCRYPT_N
    return n


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str, path: Path) -> bytes:
    try:
        return base64.b64decode(str(text).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise _damaged(path, f"field '{what}' is not base64") from None


def _damaged(path: Path, why: str) -> VaultError:
    return VaultError(
        f"vault file {path} is damaged ({why})",
        hint="restore it from a backup, or move it aside and run `cashup keys set gateio` again",
    )


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    raw = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return base64.urlsafe_b64encode(raw[:32]), raw[32:]


def _check_tag(check_key: bytes, header: dict[str, Any]) -> bytes:
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(check_key, b"cashup-vault-check\x00" + canonical, hashlib.sha256).digest()


class Vault:
    """The encrypted file. Every call that reads entries needs the passphrase."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def _read_envelope(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise VaultError(
                f"no vault at {self.path}", hint="create one with `cashup keys set gateio`"
            ) from None
        if os.name == "posix" and st.st_mode & 0o077:
            raise VaultError(
                f"vault file {self.path} is readable by other users (mode {st.st_mode & 0o777:o})",
                hint=f"run `chmod 600 {self.path}`",
            )
        try:
            env = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            raise _damaged(self.path, f"not readable JSON: {type(exc).__name__}") from None
        if not isinstance(env, dict) or env.get("format") != FORMAT:
            raise _damaged(self.path, "not a CashUp vault")
        if env.get("version") != VERSION:
            raise VaultError(
                f"vault file {self.path} has version {env.get('version')!r}; this CashUp reads {VERSION}",
                hint="upgrade CashUp",
            )
        return env

    def load(self, passphrase: str) -> dict[str, dict[str, str]]:
        """Decrypt and return all entries (venue -> {field: value}); values are `Secret`."""
        env = self._read_envelope()
        kdf = env.get("kdf")
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
            raise _damaged(self.path, "unknown key derivation")
        try:
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        except (KeyError, TypeError, ValueError):
            raise _damaged(self.path, "bad scrypt parameters") from None
        if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise _damaged(self.path, "scrypt parameters out of range")
        salt = _unb64(kdf.get("salt", ""), "salt", self.path)
        check = _unb64(env.get("check", ""), "check", self.path)
        token = env.get("token")
        if not isinstance(token, str):
            raise _damaged(self.path, "no token")
        fernet_key, check_key = _derive(passphrase, salt, n, r, p)
        if not hmac.compare_digest(check, _check_tag(check_key, kdf)):
            raise VaultError(
                f"wrong passphrase for the vault {self.path}",
                hint="type it again; if it is lost, remove the file and run `cashup keys set gateio` "
                "with new exchange keys",
            )
        from cryptography.fernet import Fernet, InvalidToken

        try:
            plain = Fernet(fernet_key).decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise _damaged(self.path, "the encrypted data was altered (authentication failed)") from None
        try:
            data = json.loads(plain)
        except ValueError:
            raise _damaged(self.path, "decrypted data is not JSON") from None
        entries = data.get("entries", {}) if isinstance(data, dict) else {}
        return {
            str(name): {str(k): Secret(str(v)) for k, v in fields.items()}
            for name, fields in entries.items()
            if isinstance(fields, dict)
        }

    def save(self, passphrase: str, entries: Mapping[str, Mapping[str, str]], *, n: int | None = None) -> None:
        """Encrypt `entries` under `passphrase` with a fresh salt and replace the file atomically."""
        if not passphrase:
            raise VaultError("the vault passphrase must not be empty", hint="choose a long passphrase")
        if len(passphrase) < MIN_PASSPHRASE_LEN and not self.exists():
            raise VaultError(f"the vault passphrase is shorter than {MIN_PASSPHRASE_LEN} characters",
                             hint="choose a longer one (a few words is easy to type and hard to guess)")
        n = n or scrypt_n_from_env()
        kdf = {"name": "scrypt", "n": n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(secrets.token_bytes(16))}
        fernet_key, check_key = _derive(passphrase, base64.b64decode(str(kdf["salt"])), n, SCRYPT_R, SCRYPT_P)
        from cryptography.fernet import Fernet

        plain = json.dumps(
            {"entries": {k: {f: str.__str__(v) for f, v in d.items()} for k, d in entries.items()}}
        ).encode()
        token = Fernet(fernet_key).encrypt(plain).decode("ascii")
        envelope = {
            "format": FORMAT,
            "version": VERSION,
            "kdf": kdf,
            "check": _b64(_check_tag(check_key, kdf)),
            "token": token,
        }
        write_private_file(self.path, (json.dumps(envelope, indent=1) + "\n").encode())

    # convenience for one venue -------------------------------------------------------------
    def get_keys(self, passphrase: str, venue: str = "gateio") -> ApiKeys | None:
        entry = self.load(passphrase).get(venue)
        if not entry or not entry.get("api_key") or not entry.get("api_secret"):
            return None
        keys = ApiKeys(Secret(entry["api_key"]), Secret(entry["api_secret"]), "vault")
        _register_redaction(keys)
        return keys

    def set_entry(self, passphrase: str, name: str, fields: Mapping[str, str]) -> None:
        entries = self.load(passphrase) if self.exists() else {}
        entries[name] = dict(fields)
        self.save(passphrase, entries)

    def remove_entry(self, passphrase: str, name: str) -> bool:
        """Remove one entry; delete the file when nothing is left. Returns whether it existed."""
        entries = self.load(passphrase)
        found = entries.pop(name, None) is not None
        if not found:
            return False
        if entries:
            self.save(passphrase, entries)
        else:
            self.path.unlink()
        return True


# --- the admin passphrase hash --------------------------------------------------------------
# A salted scrypt hash (see service/roles.py) in its own 0600 file: checking the admin passphrase on a
# keypress must not need the vault passphrase too. It is not a secret (like /etc/shadow), but it is
# written atomically and a damaged file is an error, never "no passphrase".


def load_admin_hash(path: Path) -> str | None:
    """The stored hash at `path` (the composition root knows where), or None when none was ever set."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultError(f"cannot read the admin passphrase hash {path}: {exc.strerror}",
                         hint="check the file's owner and mode (0600)") from None
    if text.count("$") != 5:
        raise VaultError(f"the admin passphrase hash {path} is damaged",
                         hint="move it aside and set a new one with `cashup keys admin-passphrase`")
    return text


def save_admin_hash(stored: str, path: Path) -> Path:
    write_private_file(path, (stored + "\n").encode())
    return path


# --- passphrases ----------------------------------------------------------------------------


def read_passphrase(prompt: str = "Vault passphrase: ", *, confirm: bool = False, env_var: str = PASSPHRASE_ENV) -> str:
    """The passphrase from `env_var` (CI only) or typed without echo; never from argv."""
    from cashup_tui.logging_setup import register_secret

    env = os.environ.get(env_var)
    if env:
        register_secret(env)
        return env
    if not sys.stdin.isatty():
        raise VaultError(
            "a passphrase is needed but there is no terminal to type it in",
            hint=f"run it in a terminal, or (CI only) set {env_var}",
        )
    first = getpass.getpass(prompt)
    if not first:
        raise VaultError("empty passphrase", hint="type the passphrase (it is not echoed)")
    if confirm and getpass.getpass("Repeat it: ") != first:
        raise VaultError("the two passphrases differ", hint="run the command again")
    register_secret(first)
    return first


# --- sources --------------------------------------------------------------------------------


def keys_from_env(environ: Mapping[str, str] | None = None) -> ApiKeys | None:
    env = os.environ if environ is None else environ
    key, sec = env.get(KEY_ENV, ""), env.get(SECRET_ENV, "")
    if not key and not sec:
        return None
    if not key or not sec:
        missing = KEY_ENV if not key else SECRET_ENV
        raise VaultError(f"{missing} is not set but its partner is", hint="set both variables or neither")
    keys = ApiKeys(Secret(key), Secret(sec), "env")
    _register_redaction(keys)
    return keys


def keyring_status() -> tuple[bool, str]:
    """(usable, backend name). Fail, null, chainer-without-backends and plaintext stores are refused."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception as exc:  # pragma: no cover - keyring is a dependency
        return False, f"unavailable ({type(exc).__name__})"
    try:
        kr = keyring.get_keyring()
    except Exception as exc:
        return False, f"error ({type(exc).__name__})"
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    backends = list(getattr(kr, "backends", [])) if isinstance(kr, chainer.ChainerBackend) else [kr]
    for b in backends:
        mod = type(b).__module__
        if isinstance(b, fail.Keyring) or mod.startswith(("keyrings.alt", "keyring.backends.null")):
            continue
        if "plaintext" in type(b).__name__.lower():
            continue
        return True, name
    return False, name


def _keyring_service(venue: str) -> str:
    return f"cashup:{venue}"


def keys_from_keyring(venue: str = "gateio") -> ApiKeys | None:
    ok, _ = keyring_status()
    if not ok:
        return None
    import keyring

    try:
        key = keyring.get_password(_keyring_service(venue), "api_key")
        sec = keyring.get_password(_keyring_service(venue), "api_secret")
    except Exception:
        return None
    if not key or not sec:
        return None
    keys = ApiKeys(Secret(key), Secret(sec), "keyring")
    _register_redaction(keys)
    return keys


def keyring_store(venue: str, api_key: str, api_secret: str) -> None:
    ok, name = keyring_status()
    if not ok:
        raise VaultError(
            f"no usable OS keyring here (backend: {name})",
            hint="store the keys in the encrypted vault instead (omit --keyring)",
        )
    import keyring

    keyring.set_password(_keyring_service(venue), "api_key", str.__str__(api_key))
    keyring.set_password(_keyring_service(venue), "api_secret", str.__str__(api_secret))


def keyring_remove(venue: str) -> bool:
    ok, _ = keyring_status()
    if not ok:
        return False
    import keyring

    removed = False
    for field in ("api_key", "api_secret"):
        try:
            keyring.delete_password(_keyring_service(venue), field)
            removed = True
        except Exception:
            pass
    return removed


def resolve_keys(
    venue: str = "gateio",
    *,
    passphrase: Callable[[], str] | None = None,
    vault: Vault,
    environ: Mapping[str, str] | None = None,
) -> ApiKeys | None:
    """Keys for `venue`: environment, then `vault` (asks `passphrase()` only if it exists), then keyring."""
    keys = keys_from_env(environ)
    if keys is not None:
        return keys
    v = vault
    if v.exists():
        keys = v.get_keys((passphrase or read_passphrase)(), venue)
        if keys is not None:
            return keys
    return keys_from_keyring(venue)


def _register_redaction(keys: ApiKeys) -> None:
    """Every decrypted secret is known to the log redaction filter from the moment it exists."""
    from cashup_tui.logging_setup import register_secret

    register_secret(keys.api_key)
    register_secret(keys.api_secret)
